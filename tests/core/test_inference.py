import torch
from torch import nn

from tabtext.core import TensorLoader, predict_batches, tta


class Stateful(nn.Module):
    """Adds the number of calls since the last reset: shows where reset happens."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(2.0))
        self.calls = 0

    def reset(self):
        self.calls = 0

    def forward(self, a, b=None):
        self.calls += 1
        out = self.scale * a
        return out if b is None else out + b


def test_predict_batches_resets_sets_eval_and_keeps_targets():
    model = Stateful().train()
    model.calls = 5
    x, y = torch.arange(6.0), torch.arange(6.0) + 10
    out, targs = predict_batches(model, TensorLoader(x, y, batch_size=4), "cpu")
    assert not model.training and model.calls == 2  # reset first, then 2 batches
    assert torch.equal(out, 2 * x) and torch.equal(targs, y)
    assert not out.requires_grad


def test_predict_batches_inputs_only_forward_act_and_order():
    model = Stateful()
    a, b = torch.arange(4.0), torch.ones(4)
    pairs = TensorLoader(a, b, batch_size=3)
    out, targs = predict_batches(model, pairs, "cpu", inputs_only=True)
    assert torch.equal(out, 2 * a + 1) and targs is None
    out, _ = predict_batches(
        model, pairs, "cpu", inputs_only=True, forward=lambda m, x: m(x[0]),
        act=torch.neg, order=[3, 2, 1, 0],
    )  # fmt: skip
    assert torch.equal(out, -2 * a.flip(0))


def test_tta_averages_and_blends():
    model = Stateful()
    x = torch.arange(3.0)
    dl = TensorLoader(x, batch_size=2)
    aug, targs = tta(model, dl, "cpu", augment=lambda v: v + 1, n=2, beta=0.5)
    assert targs is None
    assert torch.allclose(aug, 0.5 * 2 * (x + 1) + 0.5 * 2 * x)
