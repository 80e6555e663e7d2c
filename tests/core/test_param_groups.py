import pytest
import torch
from torch import nn

from tabtext.core import Learner, lrs_for_groups

from .conftest import TwoGroupModel, make_learner


def test_lrs_float_list_slice():
    assert lrs_for_groups(0.1, 3) == [0.1, 0.1, 0.1]
    assert lrs_for_groups([1e-3, 2e-3, 3e-3], 3) == [1e-3, 2e-3, 3e-3]
    assert lrs_for_groups(slice(1e-4, 1e-2), 3) == pytest.approx([1e-4, 1e-3, 1e-2])
    assert lrs_for_groups(slice(1e-2), 3) == pytest.approx([1e-3, 1e-3, 1e-2])
    assert lrs_for_groups(slice(1e-4, 1e-2), 1) == [1e-2]


def test_lrs_wrong_length_names_both_counts():
    with pytest.raises(ValueError, match="got 2 learning rates for 3 layer groups"):
        lrs_for_groups([0.1, 0.2], 3)


@pytest.mark.parametrize("bad", ["fast", None, float("nan"), -1.0])
def test_lrs_bad_values(bad):
    with pytest.raises((ValueError, TypeError)):
        lrs_for_groups(bad, 3)


def test_discriminative_lrs_reach_the_optimizer():
    learn = make_learner()
    learn.fit_schedule(1, slice(1e-4, 1e-2), lambda pos: 1.0)
    assert learn.recorder.lrs[0] == pytest.approx([1e-4, 1e-3, 1e-2])
    with pytest.raises(ValueError, match="2 learning rates for 3 layer groups"):
        learn.fit_one_cycle(1, [1e-3, 1e-2])


def _flags(learn):
    m = learn.model
    return (
        m.body0.weight.requires_grad,
        m.body1.weight.requires_grad,
        m.head.weight.requires_grad,
    )


def test_freeze_to_flips_exactly_the_right_groups():
    learn = make_learner()
    learn.freeze()
    assert _flags(learn) == (False, False, True)
    assert (
        learn.model.bn.weight.requires_grad
    )  # batch norm keeps training, as in fastai
    learn.freeze_to(1)
    assert _flags(learn) == (False, True, True)
    learn.freeze_to(-2)
    assert _flags(learn) == (False, True, True)
    learn.unfreeze()
    assert _flags(learn) == (True, True, True)
    with pytest.raises(ValueError, match="freeze_to"):
        learn.freeze_to(4)


def test_frozen_groups_do_not_change_during_fit():
    learn = make_learner()
    learn.freeze()
    before = learn.model.body0.weight.detach().clone()
    head = learn.model.head.weight.detach().clone()
    learn.fit_one_cycle(1, 1e-2)
    assert torch.equal(before, learn.model.body0.weight)
    assert not torch.equal(head, learn.model.head.weight)


def test_each_parameter_in_exactly_one_group():
    model = TwoGroupModel()
    dl = [(torch.randn(4, 1), torch.randn(4))]
    with pytest.raises(ValueError, match="in layer groups 0 and 1"):
        Learner(
            model,
            dl,
            loss_fn=nn.functional.mse_loss,
            splitter=lambda m: [[m.body0], [m.body0, m.head]],
        )
    with pytest.raises(ValueError, match="in no layer group"):
        Learner(
            model, dl, loss_fn=nn.functional.mse_loss, splitter=lambda m: [[m.head]]
        )
