import random

import numpy as np
import torch

from tabtext.core import rng_state, seeded, set_rng_state


def test_seeded_is_reproducible_and_restores_the_global_state():
    before = torch.get_rng_state()
    py, np_state = random.getstate(), np.random.get_state()[1].copy()
    with seeded(3):
        a = torch.rand(4)
    with seeded(3):
        b = torch.rand(4)
    assert torch.equal(a, b)
    assert torch.equal(before, torch.get_rng_state())
    assert random.getstate() == py
    assert (np.random.get_state()[1] == np_state).all()


def test_rng_state_round_trip():
    js, tensors = rng_state()
    expected = (random.random(), np.random.rand(), torch.rand(1))
    set_rng_state(js, tensors)
    again = (random.random(), np.random.rand(), torch.rand(1))
    assert expected[:2] == again[:2] and torch.equal(expected[2], again[2])
