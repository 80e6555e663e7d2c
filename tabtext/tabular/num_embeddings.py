"""Periodic embeddings of continuous columns, PLR (Gorishniy, Rubachev & Babenko 2022,
"On Embeddings for Numerical Features in Tabular Deep Learning").

Each continuous column ``x`` becomes ``ReLU(Linear([cos(2 pi c x), sin(2 pi c x)]))``
with its own trainable frequencies ``c`` (initialised from ``N(0, sigma)``) and its own
linear layer, so that the MLP receives a learned, non-linear code of every number
instead of the number alone.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class PeriodicEmbedding(nn.Module):
    """PLR embedding: periodic features -> per-column Linear -> ReLU.

    Parameters
    ----------
    n_cols : int
        Number of continuous columns.
    n_frequencies : int
        Frequencies per column ``k``: each column gives ``2k`` periodic features.
    dim : int
        Output size per column.
    sigma : float
        Standard deviation of the initial frequencies. Larger values give
        higher-frequency (more wiggly) functions of the inputs at the start; for
        inputs of unit scale 0.01-1 are sensible.

    Examples
    --------
    >>> emb = PeriodicEmbedding(3, n_frequencies=4, dim=5)
    >>> emb(torch.randn(2, 3)).shape
    torch.Size([2, 15])
    """

    def __init__(
        self, n_cols: int, n_frequencies: int = 16, dim: int = 16, sigma: float = 0.1
    ) -> None:
        super().__init__()
        if n_cols < 1 or n_frequencies < 1 or dim < 1:
            raise ValueError(
                "PeriodicEmbedding needs n_cols, n_frequencies and dim >= 1, got "
                f"{n_cols}, {n_frequencies}, {dim}"
            )
        if not sigma > 0:
            raise ValueError(f"sigma must be > 0, got {sigma!r}")
        self.n_cols, self.dim, self.sigma = n_cols, dim, sigma
        self.frequencies = nn.Parameter(torch.empty(n_cols, n_frequencies))
        self.weight = nn.Parameter(torch.empty(n_cols, 2 * n_frequencies, dim))
        self.bias = nn.Parameter(torch.empty(n_cols, dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.frequencies, 0.0, self.sigma)
        bound = 1 / math.sqrt(self.weight.shape[1])  # nn.Linear's rule, per column
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    @property
    def out_features(self) -> int:
        return self.n_cols * self.dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = 2 * math.pi * self.frequencies * x.unsqueeze(-1)  # (batch, n_cols, k)
        v = torch.cat([torch.cos(v), torch.sin(v)], -1)  # (batch, n_cols, 2k)
        out = torch.einsum("bnk,nkd->bnd", v, self.weight) + self.bias
        return torch.relu(out).flatten(1)  # (batch, n_cols * dim)


__all__ = ["PeriodicEmbedding"]
