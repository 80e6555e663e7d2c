"""The entity-embedding network (Guo & Berkhahn 2016, "Entity Embeddings of Categorical
Variables"): one embedding per categorical column, the continuous inputs batch-normed or
embedded with PLR (:mod:`tabtext.tabular.num_embeddings`), and an MLP on their
concatenation, as in fastai's TabularModel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn

from .kernels import Dropout, EmbeddingLookup
from .num_embeddings import PeriodicEmbedding

NUM_EMBEDDINGS = ("none", "plr")


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
    num_embedding: str = "none"  # "none": batch norm; "plr": PeriodicEmbedding
    plr_frequencies: int = 16
    plr_dim: int = 16
    plr_sigma: float = 0.1

    def __post_init__(self):
        if self.num_embedding not in NUM_EMBEDDINGS:
            raise ValueError(
                f"num_embedding must be one of {NUM_EMBEDDINGS}, "
                f"got {self.num_embedding!r}"
            )
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
        for name, p in [("emb_drop", self.emb_drop)] + [
            (f"ps[{i}]", p) for i, p in enumerate(self.ps)
        ]:
            if not 0.0 <= p < 1.0:
                raise ValueError(
                    f"{name} is a dropout probability and must be in [0, 1), got {p!r}"
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
    """Embeddings + continuous inputs -> [Linear, ReLU, BN, Dropout]* -> Linear.

    The continuous inputs are batch-normed (``num_embedding="none"``) or embedded by
    :class:`PeriodicEmbedding` (``"plr"``). ``forward(x_cat, x_cont)`` with ``x_cat``
    int64 (batch, n_cat) and ``x_cont`` float (batch, n_cont) returns (batch, n_out);
    with ``y_range`` the output is squashed by a scaled sigmoid into that range.
    """

    def __init__(self, config: TabularConfig):
        super().__init__()
        self.config = c = config
        self.embeds = nn.ModuleList(
            nn.Embedding(n, d) for n, d in zip(c.cardinalities, c.emb_sizes)
        )
        self.emb_drop = Dropout(c.emb_drop)
        self.bn_cont, self.num_embed, n_cont_out = None, None, c.n_cont
        if c.n_cont and c.num_embedding == "plr":
            self.num_embed = PeriodicEmbedding(
                c.n_cont, c.plr_frequencies, c.plr_dim, c.plr_sigma
            )
            n_cont_out = self.num_embed.out_features
        elif c.n_cont:
            self.bn_cont = nn.BatchNorm1d(c.n_cont)
        sizes = [sum(c.emb_sizes) + n_cont_out, *c.layers]
        body: list[nn.Module] = []
        for n_in, n_out, p in zip(sizes[:-1], sizes[1:], c.ps):
            body += [
                nn.Linear(n_in, n_out),
                nn.ReLU(inplace=True),
                nn.BatchNorm1d(n_out),
            ]
            if p > 0:
                body.append(Dropout(p))
        self.body = nn.Sequential(*body)
        self.head = nn.Linear(sizes[-1], c.n_out)
        for emb in self.embeds:  # fastai's init: small normal, keeps early logits tame
            nn.init.trunc_normal_(emb.weight, std=0.01)

    def embed(self, x_cat: torch.Tensor, x_cont: torch.Tensor) -> torch.Tensor:
        """Embeddings concatenated with the conts (batch-normed, or as given when they
        are PLR-embedded): (batch, sum(emb_sizes) + n_cont)."""
        parts = [self._lookup(x_cat)] if len(self.embeds) else []
        if self.bn_cont is not None:
            parts.append(self.bn_cont(x_cont))
        elif self.config.n_cont:
            parts.append(x_cont)
        return torch.cat(parts, 1)

    def forward(self, x_cat: torch.Tensor, x_cont: torch.Tensor) -> torch.Tensor:
        parts = []
        if len(self.embeds):
            parts = [self.emb_drop(self._lookup(x_cat))]  # (batch, sum(emb_sizes))
        if self.num_embed is not None:
            parts.append(self.num_embed(x_cont))  # (batch, n_cont * plr_dim)
        elif self.bn_cont is not None:
            parts.append(self.bn_cont(x_cont))
        out = self.head(self.body(torch.cat(parts, 1)))
        if self.config.y_range is not None:
            lo, hi = self.config.y_range
            out = torch.sigmoid(out) * (hi - lo) + lo
        return out

    def _lookup(self, x_cat: torch.Tensor) -> torch.Tensor:
        """The embeddings of ``x_cat``, concatenated; while training on the CPU
        through :class:`EmbeddingLookup` (a faster backward), elsewhere (CUDA,
        inference, ONNX export) through the embedding modules."""
        weights = [emb.weight for emb in self.embeds]
        if (
            x_cat.device.type == "cpu"
            and torch.is_grad_enabled()
            and any(w.requires_grad for w in weights)
            and not torch.onnx.is_in_onnx_export()
        ):
            return EmbeddingLookup.apply(x_cat.t().contiguous(), *weights)
        return torch.cat([emb(x_cat[:, i]) for i, emb in enumerate(self.embeds)], 1)

    def param_groups(self) -> list[list[nn.Module]]:
        """Input side first: embeddings and the continuous BN or PLR, the MLP body,
        the head."""
        first: list[nn.Module] = [self.embeds]
        first += [m for m in (self.bn_cont, self.num_embed) if m is not None]
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
