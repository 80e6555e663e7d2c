"""Classification losses with label smoothing (Szegedy et al. 2016, "Rethinking the
Inception Architecture"): the one-hot target is mixed with the uniform distribution,
``(1 - eps) * onehot + eps / n_classes``, which keeps logits finite and the network
less over-confident.

Multiclass uses ``torch.nn.CrossEntropyLoss(label_smoothing=eps)``; for a binary (or
multi-label) sigmoid output the two-class form is ``y * (1 - eps) + eps / 2``.

Regression with ``loss="quantile"`` trains one output per quantile with the pinball
loss (:class:`QuantileLoss`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SmoothBCEWithLogits(nn.Module):
    """``BCEWithLogitsLoss`` on targets smoothed to ``y * (1 - eps) + eps / 2``.

    Parameters
    ----------
    label_smoothing : float
        ``eps`` in [0, 1); 0 is plain binary cross-entropy.
    pos_weight : tensor, optional
        As in ``BCEWithLogitsLoss``.
    reduction : {"mean", "none"}
        "none" gives the per-value losses (for :class:`~tabtext.core.RowWeighted`).

    Examples
    --------
    >>> loss = SmoothBCEWithLogits(0.1)
    >>> float(loss(torch.zeros(1, 1), torch.ones(1, 1)))  # log 2 whatever the target
    0.6931471824645996
    """

    def __init__(
        self,
        label_smoothing: float = 0.0,
        pos_weight: torch.Tensor | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.label_smoothing = check_smoothing(label_smoothing)
        self.register_buffer("pos_weight", pos_weight)
        self.reduction = reduction

    def forward(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        eps = self.label_smoothing
        soft = target * (1 - eps) + eps / 2
        return F.binary_cross_entropy_with_logits(
            out, soft, pos_weight=self.pos_weight, reduction=self.reduction
        )


class WeightedCrossEntropy(nn.Module):
    """Class-weighted cross-entropy normalised by a constant, not by the batch.

    ``torch.nn.CrossEntropyLoss(weight=w)`` divides each batch's loss by the sum of
    its rows' weights, so a batch without any heavily weighted row trains the light
    classes at full strength. Here the weighted sum is divided by the batch size
    times ``norm`` (the mean row weight of the training set), the same for every
    batch: the optimum then is the class-weighted one.

    Parameters
    ----------
    weight : tensor of shape (n_classes,)
    norm : float
        Mean weight of a training row.
    label_smoothing : float
    reduction : {"mean", "none"}
        "none" gives each row's weighted loss over ``norm`` (for
        :class:`~tabtext.core.RowWeighted`); "mean" their mean.
    """

    def __init__(
        self,
        weight: torch.Tensor,
        norm: float,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.norm = float(norm)
        self.label_smoothing = check_smoothing(label_smoothing)
        self.reduction = reduction

    def forward(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        per_row = F.cross_entropy(
            out, target, weight=self.weight, reduction="none",
            label_smoothing=self.label_smoothing,
        )  # fmt: skip
        if self.reduction == "none":
            return per_row / self.norm
        return per_row.sum() / (len(per_row) * self.norm)


class QuantileLoss(nn.Module):
    """The pinball loss of one output per quantile (Koenker & Bassett 1978):
    ``max(q * (y - out_q), (q - 1) * (y - out_q))``, whose minimiser is the
    ``q``-quantile of y given the inputs.

    Parameters
    ----------
    quantiles : increasing floats in (0, 1)
    reduction : {"mean", "none"}
        "none" gives the ``(batch, n_quantiles)`` losses.

    Examples
    --------
    >>> loss = QuantileLoss((0.1, 0.9))
    >>> float(loss(torch.zeros(1, 2), torch.ones(1, 1)))  # (0.1 + 0.9) / 2
    0.5
    """

    def __init__(self, quantiles, reduction: str = "mean") -> None:
        super().__init__()
        q = torch.tensor(check_quantiles(quantiles, median=False), dtype=torch.float32)
        self.register_buffer("q", q)
        self.reduction = reduction

    def forward(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        diff = target.reshape(len(target), 1) - out  # (batch, n_quantiles)
        q = self.q.to(out.dtype)
        per = torch.maximum(q * diff, (q - 1) * diff)
        return per if self.reduction == "none" else per.mean()


def check_quantiles(quantiles, median: bool = True) -> tuple[float, ...]:
    """``quantiles`` as a tuple of strictly increasing floats in (0, 1), with 0.5
    among them if ``median`` (``predict`` returns it), or a ValueError saying so."""
    try:
        q = tuple(float(v) for v in quantiles)
    except (TypeError, ValueError):
        q = ()
    ok = q and all(0 < v < 1 for v in q) and all(a < b for a, b in zip(q, q[1:]))
    if not ok or (median and 0.5 not in q):
        need = " including 0.5 (the median, which predict returns)" if median else ""
        raise ValueError(
            f"quantiles must be strictly increasing numbers in (0, 1){need}, got "
            f"{quantiles!r}"
        )
    return q


def check_smoothing(label_smoothing: float) -> float:
    """``label_smoothing`` as a float in [0, 1), or a ValueError saying so."""
    try:
        eps = float(label_smoothing)
    except (TypeError, ValueError):
        eps = float("nan")
    if not 0 <= eps < 1:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
    return eps


__all__ = [
    "QuantileLoss",
    "SmoothBCEWithLogits",
    "WeightedCrossEntropy",
    "check_quantiles",
    "check_smoothing",
]
