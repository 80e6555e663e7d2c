"""Label smoothing for the classification losses."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tabtext.tabular import TargetEncoder
from tabtext.tabular.losses import SmoothBCEWithLogits, WeightedCrossEntropy


def test_smoothed_bce_value():
    logit, eps = 2.0, 0.1
    p = 1 / (1 + math.exp(-logit))
    expected = -((1 - eps / 2) * math.log(p) + eps / 2 * math.log(1 - p))
    loss = SmoothBCEWithLogits(eps)(torch.tensor([[logit]]), torch.tensor([[1.0]]))
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_zero_smoothing_is_plain_bce_and_weights_apply():
    out, y = torch.randn(10, 1), (torch.rand(10, 1) > 0.5).float()
    assert torch.allclose(
        SmoothBCEWithLogits(0.0)(out, y), F.binary_cross_entropy_with_logits(out, y)
    )
    pos = torch.tensor([3.0])
    weighted = SmoothBCEWithLogits(0.0, pos_weight=pos)(out, y)
    assert torch.allclose(
        weighted, F.binary_cross_entropy_with_logits(out, y, pos_weight=pos)
    )


def test_smoothing_keeps_the_optimum_finite():
    loss = SmoothBCEWithLogits(0.1)
    y = torch.ones(1, 1)
    # with eps=0.1 the best logit is log(0.95 / 0.05): beyond it the loss rises again
    best = math.log(0.95 / 0.05)
    at = [float(loss(torch.tensor([[v]]), y)) for v in (best - 1, best, best + 1)]
    assert at[1] < at[0] and at[1] < at[2]


def test_target_encoder_losses_take_label_smoothing():
    binary = TargetEncoder.fit(np.array(["a", "b", "a"]), "classification", False, True)
    assert binary.loss(np.array(["a", "b"]), None, 0.2).label_smoothing == 0.2
    multi = TargetEncoder.fit(np.array([0, 1, 2]), "classification", False, True)
    ce = multi.loss(np.array([0, 1, 2]), None, 0.1)
    out, y = torch.randn(4, 3), torch.tensor([0, 1, 2, 1])
    manual = -(F.log_softmax(out, 1) * (F.one_hot(y, 3) * 0.9 + 0.1 / 3)).sum(1).mean()
    assert torch.allclose(ce(out, y), manual, atol=1e-6)
    with pytest.raises(ValueError, match="label_smoothing"):
        binary.loss(np.array(["a", "b"]), None, 1.0)


def test_class_weighted_cross_entropy_is_normalised_by_a_constant():
    w = torch.tensor([10.0, 1.0, 1.0])
    loss = WeightedCrossEntropy(w, norm=4.0)
    out = torch.randn(6, 3)
    light = torch.tensor([1, 2, 1, 2, 1, 2])  # no row of the heavy class
    plain = F.cross_entropy(out, light)
    assert torch.allclose(loss(out, light), plain / 4.0)  # not renormalised to 1
    mixed = torch.tensor([0, 1, 2, 0, 1, 2])  # mean row weight 4 = norm
    assert torch.allclose(loss(out, mixed), F.cross_entropy(out, mixed, weight=w))
    enc = TargetEncoder.fit(np.array([0, 1, 2, 2]), "classification", False, True)
    built = enc.loss(np.array([0, 1, 2, 2]), {0: 4.0, 1: 1.0, 2: 1.0})
    assert isinstance(built, WeightedCrossEntropy) and built.norm == pytest.approx(1.75)
