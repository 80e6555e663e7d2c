"""The AWD-LSTM regularisers, one small unit per technique.

Merity, Keskar & Socher (2017), "Regularizing and Optimizing LSTM Language Models"
(arXiv:1708.02182): variational ("locked") dropout (Gal & Ghahramani 2016), DropConnect
on the hidden-to-hidden weights (Wan et al. 2013), embedding dropout, and activation /
temporal activation regularisation (AR / TAR). All tensors are batch-first:
``(batch, seq, features)``. Every unit is the identity in eval mode.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

__all__ = ["EmbeddingDropout", "LockedDropout", "WeightDrop", "ar_tar_loss"]


def _check_p(p: float, name: str = "p") -> float:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1), got {p!r}.")
    return float(p)


class LockedDropout(nn.Module):
    """Variational dropout: one mask per sequence, shared over all time steps.

    Parameters
    ----------
    p : float
        Probability of zeroing a feature; kept features are scaled by ``1 / (1 - p)``.

    Examples
    --------
    >>> drop = LockedDropout(0.5)
    >>> y = drop(torch.ones(2, 7, 3))  # a (row, feature) is zero at all 7 steps or none
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = _check_p(p)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.dim() != 3:
            raise ValueError(
                f"LockedDropout expects a batch-first (batch, seq, features) tensor, "
                f"got shape {tuple(x.shape)}."
            )
        mask = x.new_empty(x.size(0), 1, x.size(2)).bernoulli_(1 - self.p)  # (bs,1,f)
        return x * mask.div_(1 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class EmbeddingDropout(nn.Module):
    """Embedding dropout: drop whole words (rows of the embedding matrix).

    A dropped word's vector is zero wherever it occurs in the batch; the kept rows are
    scaled by ``1 / (1 - p)``. The mask is drawn over the vocabulary and gathered at the
    looked-up ids, which equals masking the matrix but costs only ``O(batch * seq)``.

    Parameters
    ----------
    embedding : nn.Embedding
        The wrapped embedding; its ``weight`` stays the single source of truth (tying a
        decoder to it keeps working).
    p : float
        Probability of dropping each row.
    """

    def __init__(self, embedding: nn.Embedding, p: float) -> None:
        super().__init__()
        self.embedding = embedding
        self.p = _check_p(p)

    @property
    def weight(self) -> nn.Parameter:
        """The wrapped embedding matrix, shape ``(vocab, emb)``."""
        return self.embedding.weight

    def forward(self, ids: Tensor) -> Tensor:
        emb = self.embedding(ids)  # (*ids.shape, emb)
        if not self.training or self.p == 0.0:
            return emb
        n_rows = self.embedding.num_embeddings
        keep = emb.new_empty(n_rows).bernoulli_(1 - self.p).div_(1 - self.p)  # (vocab,)
        return emb * keep[ids].unsqueeze(-1)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class WeightDrop(nn.Module):
    """DropConnect on a recurrent module's hidden-to-hidden weights.

    In training mode each forward draws a fresh dropout of the named weights (by default
    every ``weight_hh_*`` of the wrapped RNN) and runs the module's usual fused kernel
    (cuDNN on CUDA, oneDNN on CPU) on the dropped weights via
    :func:`torch.func.functional_call`: no per-time-step Python loop. The raw weights
    stay the wrapped module's own parameters, so gradients reach them and its
    ``state_dict`` is unchanged. In eval mode it calls the module as is.

    Parameters
    ----------
    module : nn.RNNBase
        The recurrent module, e.g. a single-layer ``nn.LSTM``.
    p : float
        DropConnect probability.
    names : sequence of str, optional
        Parameter names to drop; default all hidden-to-hidden weights.

    Examples
    --------
    >>> lstm = WeightDrop(nn.LSTM(8, 16, batch_first=True), p=0.5)
    >>> out, (h, c) = lstm(torch.randn(2, 5, 8))
    """

    def __init__(
        self, module: nn.Module, p: float, names: Sequence[str] | None = None
    ) -> None:
        super().__init__()
        params = dict(module.named_parameters(recurse=False))
        if names is None:
            names = [n for n in params if n.startswith("weight_hh")]
        missing = [n for n in names if n not in params]
        if missing or not names:
            raise ValueError(
                f"WeightDrop: {type(module).__name__} has no parameter(s) "
                f"{missing or names}; its parameters are {sorted(params)}."
            )
        self.module = module
        self.p = _check_p(p)
        self.names = tuple(names)

    def forward(self, *args, **kwargs):
        if not self.training or self.p == 0.0:
            return self.module(*args, **kwargs)
        dropped = {
            n: F.dropout(getattr(self.module, n), self.p, training=True)
            for n in self.names
        }
        # Swapped-in weights are not views of cuDNN's flat weight buffer: cuDNN copies
        # them in (needed anyway, the mask is new each call) and would warn every call.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="RNN module weights are not")
            return functional_call(self.module, dropped, args, kwargs)

    def extra_repr(self) -> str:
        return f"p={self.p}, names={self.names}"


def ar_tar_loss(
    raw_last: Tensor,
    dropped_last: Tensor,
    alpha: float,
    beta: float,
    mask: Tensor | None = None,
) -> Tensor:
    """Activation regularisation (AR) plus temporal activation regularisation (TAR).

    ``alpha * mean(dropped ** 2) + beta * mean((raw[:, t+1] - raw[:, t]) ** 2)``, as in
    Merity et al. (2017) and fastai's ``RNNRegularizer``.

    Parameters
    ----------
    raw_last : Tensor
        Last LSTM layer's output before dropout, ``(batch, seq, features)``.
    dropped_last : Tensor
        The same output after the output dropout, ``(batch, seq, features)``.
    alpha, beta : float
        Weights of AR and TAR; 0 switches a term off.
    mask : Tensor, optional
        Boolean ``(batch, seq)``, True at positions to leave out (padding).

    Returns
    -------
    Tensor
        A scalar.
    """
    if raw_last.dim() != 3 or raw_last.shape != dropped_last.shape:
        raise ValueError(
            f"raw_last and dropped_last must share a (batch, seq, features) shape, got "
            f"{tuple(raw_last.shape)} and {tuple(dropped_last.shape)}."
        )
    loss = raw_last.new_zeros(())
    keep = None if mask is None else (~mask).unsqueeze(-1).to(raw_last.dtype)
    if alpha:
        sq = dropped_last.float().pow(2)
        ar = sq.mean() if keep is None else (sq * keep).sum() / _count(keep, sq)
        loss = loss + alpha * ar
    if beta and raw_last.size(1) > 1:
        sq = (raw_last[:, 1:] - raw_last[:, :-1]).float().pow(2)
        if keep is None:
            tar = sq.mean()
        else:
            both = keep[:, 1:] * keep[:, :-1]
            tar = (sq * both).sum() / _count(both, sq)
        loss = loss + beta * tar
    return loss


def _count(keep: Tensor, values: Tensor) -> Tensor:
    """Number of kept elements of ``values`` under a broadcast ``keep`` mask (>= 1)."""
    return (keep.sum() * values.size(-1)).clamp_min(1.0)
