"""Configuration and presets of the AWD-LSTM (Merity, Keskar & Socher 2017,
arXiv:1708.02182) as used by ULMFiT (Howard & Ruder 2018, arXiv:1801.06146).

Sizes and dropouts follow fastai's ``awd_lstm_lm_config`` / ``awd_lstm_clas_config``.
:mod:`tabtext.nlp.models.awd_lstm` re-exports ``AWDLSTMConfig`` and ``preset``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["CLAS_DROPOUTS", "LM_DROPOUTS", "AWDLSTMConfig", "preset"]

_DROPOUTS = ("input_p", "embed_p", "weight_p", "hidden_p", "output_p")
# fastai's awd_lstm_lm_config / awd_lstm_clas_config dropouts.
LM_DROPOUTS = dict(
    input_p=0.25, embed_p=0.02, weight_p=0.2, hidden_p=0.15, output_p=0.1
)
CLAS_DROPOUTS = dict(
    input_p=0.4, embed_p=0.05, weight_p=0.5, hidden_p=0.3, output_p=0.4
)
_SIZES = {
    # 1152 as fastai (the paper's 1150 rounded to a multiple of 8), so fastai's
    # WikiText-103 weights have the same shapes.
    "paper": dict(emb_sz=400, n_hid=1152, n_layers=3),
    "small": dict(emb_sz=200, n_hid=400, n_layers=2),
}


@dataclass(frozen=True)
class AWDLSTMConfig:
    """Sizes, dropouts and regularisation of an AWD-LSTM (encoder and LM head).

    Parameters
    ----------
    vocab_size, emb_sz, n_hid, n_layers : int
        Vocabulary, embedding size (also the last LSTM layer's size), hidden size of
        the other layers, number of LSTM layers.
    pad_idx : int
        Id of the padding token (its embedding gets no gradient).
    input_p, embed_p, weight_p, hidden_p, output_p : float
        Locked dropout on the embeddings, embedding (word) dropout, DropConnect on the
        hidden-to-hidden weights, locked dropout between layers, locked dropout on the
        last layer's output (before the LM decoder; first dropout of a classifier head).
    tie_weights : bool
        Tie the full-softmax decoder to the embedding matrix.
    adaptive_softmax : tuple of int, optional
        Cutoffs of an adaptive softmax head (needs a frequency-sorted vocabulary and
        ``tie_weights=False``); None for a full softmax.
    adaptive_div : float
        ``div_value`` of the adaptive softmax.
    alpha, beta : float
        Weights of activation (AR) and temporal activation (TAR) regularisation.
    bidir : bool
        Bidirectional LSTMs (classifier encoders only).
    """

    vocab_size: int
    emb_sz: int = 400
    n_hid: int = 1152
    n_layers: int = 3
    pad_idx: int = 1
    input_p: float = 0.25
    embed_p: float = 0.02
    weight_p: float = 0.2
    hidden_p: float = 0.15
    output_p: float = 0.1
    tie_weights: bool = True
    adaptive_softmax: tuple[int, ...] | None = None
    adaptive_div: float = 4.0
    alpha: float = 2.0
    beta: float = 1.0
    bidir: bool = False

    def __post_init__(self) -> None:
        for name in ("vocab_size", "emb_sz", "n_hid", "n_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"AWDLSTMConfig.{name} must be an int >= 1, got {value!r}."
                )
        if not 0 <= self.pad_idx < self.vocab_size:
            raise ValueError(
                f"pad_idx={self.pad_idx} is outside [0, vocab_size={self.vocab_size})."
            )
        for name in _DROPOUTS:
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(
                    f"{name} must be in [0, 1), got {getattr(self, name)!r}."
                )
        if self.bidir and (self.emb_sz % 2 or self.n_hid % 2):
            raise ValueError(
                "bidir=True needs even emb_sz and n_hid (split per direction)."
            )
        cutoffs = self.adaptive_softmax
        if cutoffs is not None:
            cutoffs = tuple(int(c) for c in cutoffs)
            object.__setattr__(self, "adaptive_softmax", cutoffs)
            bounds = (0, *cutoffs, self.vocab_size)
            ok = all(a < b for a, b in zip(bounds[:-1], bounds[1:], strict=True))
            if not cutoffs or not ok:
                raise ValueError(
                    f"adaptive_softmax cutoffs must increase strictly within (0, "
                    f"{self.vocab_size}), got {cutoffs}."
                )
            if self.emb_sz // self.adaptive_div ** len(cutoffs) < 1:
                raise ValueError(
                    f"adaptive_softmax: emb_sz={self.emb_sz} / adaptive_div="
                    f"{self.adaptive_div}**{len(cutoffs)} leaves the last cluster no "
                    f"dimensions; lower adaptive_div or use fewer cutoffs."
                )
            if self.tie_weights:
                raise ValueError(
                    "An adaptive softmax cannot be tied to the embedding: pass "
                    "tie_weights=False (preset() does this for you)."
                )

    @property
    def layer_sizes(self) -> list[tuple[int, int]]:
        """``(input, output)`` size of each LSTM layer."""
        sizes = [self.emb_sz] + [self.n_hid] * (self.n_layers - 1) + [self.emb_sz]
        return list(zip(sizes[:-1], sizes[1:], strict=True))

    def scale_dropouts(self, drop_mult: float) -> AWDLSTMConfig:
        """Return a copy with all five dropouts multiplied by ``drop_mult`` (fastai)."""
        if drop_mult < 0:
            raise ValueError(f"drop_mult must be >= 0, got {drop_mult!r}.")
        return dataclasses.replace(
            self, **{k: getattr(self, k) * drop_mult for k in _DROPOUTS}
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` inverts it."""
        d = dataclasses.asdict(self)
        if d["adaptive_softmax"] is not None:
            d["adaptive_softmax"] = list(d["adaptive_softmax"])
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AWDLSTMConfig:
        """Build a config from :meth:`to_dict`'s output (e.g. read back from JSON)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"Unknown AWDLSTMConfig keys {unknown}; known: {sorted(known)}."
            )
        d = dict(d)
        if d.get("adaptive_softmax") is not None:
            d["adaptive_softmax"] = tuple(d["adaptive_softmax"])
        return cls(**d)


def preset(
    name: Literal["paper", "small"],
    vocab_size: int,
    task: Literal["lm", "classifier"] = "lm",
    drop_mult: float = 1.0,
    **overrides: Any,
) -> AWDLSTMConfig:
    """A named AWD-LSTM configuration with fastai's dropouts.

    Parameters
    ----------
    name : {"paper", "small"}
        ``paper``: emb 400, hidden 1152, 3 layers (ULMFiT / fastai). ``small``: emb 200,
        hidden 400, 2 layers, sized for a CPU.
    vocab_size : int
        Size of the vocabulary.
    task : {"lm", "classifier"}
        fastai's language-model or classifier dropouts (same sizes, so the weights
        transfer).
    drop_mult : float
        Multiplies all dropouts.
    **overrides
        Any other :class:`AWDLSTMConfig` field. Giving ``adaptive_softmax`` unties
        the weights unless ``tie_weights`` is given too.

    Examples
    --------
    >>> cfg = preset("small", vocab_size=10_000, adaptive_softmax=(2000, 6000))
    """
    if name not in _SIZES:
        raise ValueError(f"Unknown preset {name!r}; choose one of {sorted(_SIZES)}.")
    if task not in ("lm", "classifier"):
        raise ValueError(f"task must be 'lm' or 'classifier', got {task!r}.")
    fields = dict(_SIZES[name], **(LM_DROPOUTS if task == "lm" else CLAS_DROPOUTS))
    if overrides.get("adaptive_softmax") is not None:
        fields["tie_weights"] = False
    fields.update(overrides)
    return AWDLSTMConfig(vocab_size=vocab_size, **fields).scale_dropouts(drop_mult)


def adaptive_cutoffs(vocab_size: int, adaptive_softmax: bool) -> tuple[int, ...] | None:
    """The adaptive softmax's cluster cutoffs for a vocabulary of ``vocab_size``: the
    2,000 most frequent tokens in the head, then clusters up to 8,000 and the rest;
    none (a full softmax) when not asked or for 4,000 tokens or fewer."""
    if not adaptive_softmax or vocab_size <= 4000:
        return None
    return (2000, 8000) if vocab_size > 12000 else (2000,)


def sized_preset(
    sizes: Any,
    vocab_size: int,
    task: Literal["lm", "classifier"] = "lm",
    drop_mult: float = 1.0,
) -> AWDLSTMConfig:
    """:func:`preset` ``sizes.model`` with the size fields of ``sizes`` that are set
    (``emb_sz``, ``n_hid``, ``n_layers``) and, for a language model, the adaptive
    softmax when ``sizes.adaptive_softmax`` (:func:`adaptive_cutoffs`). ``sizes``:
    a ULMFiT or a pretraining config."""
    given = {k: getattr(sizes, k) for k in ("emb_sz", "n_hid", "n_layers")}
    given = {k: v for k, v in given.items() if v is not None}
    cutoffs = adaptive_cutoffs(vocab_size, sizes.adaptive_softmax and task == "lm")
    return preset(
        sizes.model,
        vocab_size,
        task=task,
        drop_mult=drop_mult,
        adaptive_softmax=cutoffs,
        **given,
    )
