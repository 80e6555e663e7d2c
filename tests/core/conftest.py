"""A tiny synthetic learner (y = a*x + b with noise), the core's test bed."""

import pytest
import torch
from torch import nn

from tabtext.core import Learner, TensorLoader


class TwoGroupModel(nn.Module):
    """A small MLP split into three layer groups (body0, body1, head) plus a batch norm."""

    def __init__(self, n_in: int = 1, hidden: int = 8):
        super().__init__()
        self.body0 = nn.Linear(n_in, hidden)
        self.bn = nn.BatchNorm1d(hidden)
        self.body1 = nn.Linear(hidden, hidden)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        h = torch.relu(self.bn(self.body0(x)))
        return self.head(torch.relu(self.body1(h))).squeeze(-1)

    def param_groups(self):
        return [[self.body0, self.bn], [self.body1], [self.head]]


def make_data(n: int = 256, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, generator=g)
    y = 3.0 * x[:, 0] + 2.0 + 0.1 * torch.randn(n, generator=g)
    return x, y


def make_learner(seed: int = 0, bs: int = 32, **kwargs):
    torch.manual_seed(seed)
    x, y = make_data()
    train = TensorLoader(x[:192], y[:192], batch_size=bs, shuffle=True, seed=seed)
    valid = TensorLoader(x[192:], y[192:], batch_size=64)
    kwargs.setdefault("loss_fn", nn.functional.mse_loss)
    kwargs.setdefault("progress", False)
    return Learner(TwoGroupModel(), train, valid, device="cpu", **kwargs)


@pytest.fixture
def learner():
    return make_learner()
