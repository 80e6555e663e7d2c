"""Metrics over a whole validation set: callables ``(preds, targets) -> float``."""

from __future__ import annotations

import math

import torch


def accuracy(preds: torch.Tensor, targets: torch.Tensor) -> float:
    """Share of rows whose arg-max (or, for one output column, logit > 0) is the target."""
    if preds.dim() == 1 or preds.shape[-1] == 1:
        guess = (preds.reshape(-1) > 0).long()
    else:
        guess = preds.argmax(-1)
    return (guess == targets.reshape(guess.shape).long()).float().mean().item()


def error_rate(preds: torch.Tensor, targets: torch.Tensor) -> float:
    return 1.0 - accuracy(preds, targets)


def rmse(preds: torch.Tensor, targets: torch.Tensor) -> float:
    return torch.sqrt(
        torch.mean((preds.reshape(targets.shape).float() - targets) ** 2)
    ).item()


def perplexity_from_loss(loss: float) -> float:
    """``exp(loss)`` of a mean per-token cross-entropy (inf past float64's range)."""
    loss = float(loss)
    return math.exp(loss) if loss < 700 else math.inf
