"""The validation split: stratified, seeded; a given validation file is checked."""

import numpy as np
import pytest

from tabtext.nlp import stratified_split


def test_stratified_split():
    y = np.array([0] * 50 + [1] * 30 + [2] * 20)
    tr, va = stratified_split(y, valid_pct=0.1, seed=3)
    assert np.bincount(y[va]).tolist() == [5, 3, 2]
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(100))
    assert tr.dtype == np.int64 and np.all(np.diff(va) > 0)
    tr2, va2 = stratified_split(y, valid_pct=0.1, seed=3)
    assert np.array_equal(va, va2) and np.array_equal(tr, tr2)
    assert not np.array_equal(va, stratified_split(y, 0.1, seed=4)[1])
    with pytest.raises(ValueError, match="valid_pct"):
        stratified_split(y, valid_pct=1.5)
