"""Row weights in the core: RowWeighted, (x, y, w) batches from the loaders, and
the learner's weighted loss, validation loss and metrics."""

import pytest
import torch
from torch import nn

from tabtext.core import Learner, RowWeighted, TensorLoader

from .conftest import TwoGroupModel, make_data


def test_row_weighted_is_the_repeated_rows_loss():
    g = torch.Generator().manual_seed(0)
    out, y = torch.randn(4, 3, generator=g), torch.tensor([0, 2, 1, 1])
    counts = torch.tensor([2, 0, 1, 3])
    w = counts / counts.float().mean()
    rows = torch.repeat_interleave(torch.arange(4), counts)
    weighted = RowWeighted(nn.CrossEntropyLoss())(out, y, w)
    assert float(weighted) == pytest.approx(
        float(nn.CrossEntropyLoss()(out[rows], y[rows])), rel=1e-6
    )
    assert float(RowWeighted(nn.MSELoss())(out, out + 1)) == 1.0  # no weights: mean


def test_row_weighted_needs_a_reduction():
    with pytest.raises(TypeError, match="reduction"):
        RowWeighted(lambda p, y: (p - y).mean())


def test_tensor_loader_yields_weight_triples():
    x, y, w = torch.arange(6.0)[:, None], torch.arange(6.0), torch.ones(6) * 2
    batches = list(TensorLoader(x, y, weights=w, batch_size=4))
    assert [len(b) for b in batches] == [3, 3]
    assert torch.equal(batches[1][2], torch.full((2,), 2.0))


def _weighted_learner(valid_w, **kw):
    torch.manual_seed(0)
    x, y = make_data()
    train = TensorLoader(x[:192], y[:192], batch_size=32, weights=torch.ones(192))
    valid = TensorLoader(x[192:], y[192:], weights=valid_w, batch_size=24)
    return Learner(
        TwoGroupModel(), train, valid, loss_fn=RowWeighted(nn.MSELoss()),
        device="cpu", progress=False, **kw,
    )  # fmt: skip


def test_weighted_validation_loss_and_metrics():
    seen = []

    def weighted_mae(p, t, w):
        seen.append(len(w))
        return float(((p - t).abs() * w).sum() / w.sum())

    valid_w = torch.rand(64, generator=torch.Generator().manual_seed(1))
    learn = _weighted_learner(valid_w, metrics=[weighted_mae])
    learn.fit_one_cycle(1, 1e-2)
    preds, targets = learn.get_preds()
    per_row = (preds - targets) ** 2
    expected = float((per_row * valid_w).sum() / valid_w.sum())
    assert learn.history["valid_loss"].iloc[0] == pytest.approx(expected, rel=1e-5)
    assert seen == [64]  # the metric saw every row's weight


def test_weights_need_a_loss_that_takes_them():
    learn = _weighted_learner(None)
    learn.loss_fn = nn.MSELoss()
    with pytest.raises(ValueError, match="row_weights"):
        learn.fit_one_cycle(1, 1e-2)
