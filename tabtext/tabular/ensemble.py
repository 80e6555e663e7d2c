"""Parameter-efficient ensembles of the MLP: k members that share every weight
matrix and differ by rank-1 adapters (BatchEnsemble, Wen, Tran & Ba 2020; as TabM,
Gorishniy et al. 2025, "TabM: Advancing Tabular Deep Learning with
Parameter-Efficient Ensembling").

Member ``i`` of a shared linear layer computes ``((x * r_i) @ W) * s_i + b_i``. The
members see the same batches; in training each returns its own output, and the loss
is the mean of the members' losses (:class:`MembersLoss`); in eval mode the model
returns the mean of the members' outputs.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class EnsembleLinear(nn.Module):
    """A linear layer shared by ``k`` members with per-member rank-1 adapters.

    ``forward`` maps (batch, k, n_in) to (batch, k, n_out). With ``random_signs``
    the input adapters start as random +/-1 (the members then differ from the first
    step), else as ones.
    """

    def __init__(self, n_in: int, n_out: int, k: int, random_signs: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.r = nn.Parameter(torch.ones(k, n_in))
        self.s = nn.Parameter(torch.ones(k, n_out))
        self.bias = nn.Parameter(torch.empty(k, n_out))
        bound = 1 / math.sqrt(n_in)  # nn.Linear's init
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)
        if random_signs:
            with torch.no_grad():
                self.r.copy_(torch.randint(0, 2, self.r.shape) * 2.0 - 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.r) @ self.weight * self.s + self.bias


class EnsembleBatchNorm(nn.BatchNorm1d):
    """BatchNorm1d over (batch, k, n): statistics shared by the members."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, k, n = x.shape
        return super().forward(x.reshape(b * k, n)).reshape(b, k, n)


class EnsembleHead(nn.Module):
    """One output layer per member: (batch, k, n_in) -> (batch, k, n_out)."""

    def __init__(self, n_in: int, n_out: int, k: int):
        super().__init__()
        bound = 1 / math.sqrt(n_in)
        self.weight = nn.Parameter(torch.empty(k, n_in, n_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(k, n_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bki,kio->bko", x, self.weight) + self.bias


class MembersLoss(nn.Module):
    """The mean of the members' losses for (batch, k, n_out) outputs; a
    (batch, n_out) output (the eval-mode mean) goes to ``loss`` unchanged."""

    def __init__(self, loss: nn.Module):
        super().__init__()
        self.loss = loss

    def forward(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if out.dim() == 2:
            return self.loss(out, target)
        k = out.shape[1]
        return self.loss(out.flatten(0, 1), target.repeat_interleave(k, 0))


__all__ = ["EnsembleBatchNorm", "EnsembleHead", "EnsembleLinear", "MembersLoss"]
