"""The entity-embedding network (Guo & Berkhahn 2016, "Entity Embeddings of Categorical
Variables"): one embedding per categorical column, batch-normed continuous inputs, and an
MLP on their concatenation, as in fastai's TabularModel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn


def default_emb_size(n_categories: int) -> int:
    """fastai's rule of thumb: ``min(600, round(1.6 * n ** 0.56))``."""
    return int(min(600, round(1.6 * n_categories**0.56)))


@dataclass(frozen=True)
class TabularConfig:
    """Everything needed to rebuild a :class:`TabularModel` (saved as JSON)."""

    cardinalities: tuple[int, ...]
    emb_sizes: tuple[int, ...]
    n_cont: int
    n_out: int
    layers: tuple[int, ...] = (200, 100)
    ps: tuple[float, ...] = (0.0, 0.0)
    emb_drop: float = 0.0
    y_range: tuple[float, float] | None = None

    def __post_init__(self):
        if len(self.cardinalities) != len(self.emb_sizes):
            raise ValueError(
                f"{len(self.cardinalities)} categorical columns but "
                f"{len(self.emb_sizes)} embedding sizes"
            )
        if len(self.ps) != len(self.layers):
            raise ValueError(
                f"ps has {len(self.ps)} dropout values for {len(self.layers)} layers; "
                "give one per layer"
            )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TabularConfig:
        d = dict(d)
        for k in ("cardinalities", "emb_sizes", "layers", "ps"):
            d[k] = tuple(d[k])
        if d.get("y_range") is not None:
            d["y_range"] = tuple(d["y_range"])
        return cls(**d)


class TabularModel(nn.Module):
    """Embeddings + batch-normed continuous inputs -> [Linear, ReLU, BN, Dropout]* -> Linear.

    ``forward(x_cat, x_cont)`` with ``x_cat`` int64 (batch, n_cat) and ``x_cont`` float
    (batch, n_cont) returns (batch, n_out); with ``y_range`` the output is squashed by a
    scaled sigmoid into that range.
    """

    def __init__(self, config: TabularConfig):
        super().__init__()
        self.config = c = config
        self.embeds = nn.ModuleList(
            nn.Embedding(n, d) for n, d in zip(c.cardinalities, c.emb_sizes)
        )
        self.emb_drop = nn.Dropout(c.emb_drop)
        self.bn_cont = nn.BatchNorm1d(c.n_cont) if c.n_cont else None
        sizes = [sum(c.emb_sizes) + c.n_cont, *c.layers]
        body: list[nn.Module] = []
        for n_in, n_out, p in zip(sizes[:-1], sizes[1:], c.ps):
            body += [
                nn.Linear(n_in, n_out),
                nn.ReLU(inplace=True),
                nn.BatchNorm1d(n_out),
            ]
            if p > 0:
                body.append(nn.Dropout(p))
        self.body = nn.Sequential(*body)
        self.head = nn.Linear(sizes[-1], c.n_out)
        for emb in self.embeds:  # fastai's init: small normal, keeps early logits tame
            nn.init.trunc_normal_(emb.weight, std=0.01)

    def embed(self, x_cat: torch.Tensor, x_cont: torch.Tensor) -> torch.Tensor:
        """The input representation: embeddings concatenated with normalised conts."""
        parts = [emb(x_cat[:, i]) for i, emb in enumerate(self.embeds)]
        if self.bn_cont is not None:
            parts.append(self.bn_cont(x_cont))
        return torch.cat(parts, 1)  # (batch, sum(emb_sizes) + n_cont)

    def forward(self, x_cat: torch.Tensor, x_cont: torch.Tensor) -> torch.Tensor:
        x = self.embed(x_cat, x_cont)
        n_emb = sum(self.config.emb_sizes)
        if n_emb:
            x = torch.cat([self.emb_drop(x[:, :n_emb]), x[:, n_emb:]], 1)
        out = self.head(self.body(x))
        if self.config.y_range is not None:
            lo, hi = self.config.y_range
            out = torch.sigmoid(out) * (hi - lo) + lo
        return out

    def param_groups(self) -> list[list[nn.Module]]:
        """Input side first: embeddings and continuous BN, the MLP body, the head."""
        first: list[nn.Module] = [self.embeds]
        if self.bn_cont is not None:
            first.append(self.bn_cont)
        return [first, [self.body], [self.head]]


def emb_sizes_for(
    names: Sequence[str], cardinalities: Sequence[int], overrides: dict[str, int] | None
) -> list[int]:
    """Embedding size per categorical column: the override if given, else the rule."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise ValueError(
            f"emb_sizes names columns that are not categorical inputs: {unknown}; "
            f"categorical columns are {list(names)}"
        )
    sizes = []
    for name, n in zip(names, cardinalities):
        size = overrides.get(name, default_emb_size(n))
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"emb_sizes[{name!r}] must be an int >= 1, got {size!r}")
        sizes.append(size)
    return sizes
