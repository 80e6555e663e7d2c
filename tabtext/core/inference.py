"""The one prediction loop of the core, and test-time augmentation beside it.

:func:`predict_batches` puts the model in eval mode, resets a stateful model (an
LSTM's hidden state), moves each batch to the device, runs the forward pass under
no-grad and, if asked, autocast (the learner's bf16 or fp16), gathers the outputs
on the CPU and puts them back in the dataset's order. ``Learner.get_preds`` / ``Learner.tta`` and the tabular
estimator's ``predict`` / ``transform`` all go through it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn

from .batches import _call, _cat, _is_pair, _split_batch, _to_cpu, to_device
from .precision import autocast

Forward = Callable[[nn.Module, Any], Any]


def reset_model(model: nn.Module) -> None:
    """Call ``model.reset()`` if the model defines it (stateful models)."""
    reset = getattr(model, "reset", None)
    if callable(reset):
        reset()


def predict_batches(
    model: nn.Module,
    batches: Iterable,
    device: torch.device | str,
    mixed_precision: torch.dtype | bool | None = None,
    *,
    act: Callable | None = None,
    augment: Callable | None = None,
    forward: Forward = _call,
    inputs_only: bool = False,
    order: Sequence[int] | torch.Tensor | None = None,
) -> tuple[torch.Tensor, Any]:
    """Outputs (and targets, or None) of ``model`` over ``batches``, on the CPU.

    Parameters
    ----------
    model : nn.Module
        Already on ``device``; it is put in eval mode and reset (``model.reset()``).
    batches : iterable
        ``(x, y)`` pairs or bare inputs ``x``; with ``inputs_only`` every batch is
        an input, a 2-tuple included (e.g. ``(cats, conts)``).
    device : where each batch is moved.
    mixed_precision : torch.dtype, bool or None
        The autocast dtype of the forward passes (a learner's ``mixed_precision``,
        so that prediction runs as training did); True is bf16; None or False:
        full precision.
    act : callable applied to each output (e.g. ``torch.softmax``).
    augment : callable applied to each input batch first.
    forward : callable ``(model, x) -> output``; default ``model(x)``,
        ``model(*x)`` for a tuple/list and ``model(**x)`` for a dict.
    order : the dataset position of each output row, for a loader that batches in
        another order (e.g. longest first): row ``i`` goes to ``out[order[i]]``.

    Returns
    -------
    (outputs, targets)
        Concatenated along the first dimension; ``targets`` is None when the
        batches carry none.
    """
    device = torch.device(device)
    model.eval()
    reset_model(model)
    preds, targs = [], []
    with torch.no_grad(), autocast(device, mixed_precision):
        for batch in batches:
            batch = to_device(batch, device)
            if inputs_only or not _is_pair(batch):
                x, y = batch, None
            else:
                x, y, _ = _split_batch(batch)
            if augment is not None:
                x = augment(x)
            out = forward(model, x)
            preds.append(_to_cpu(act(out) if act is not None else out))
            if y is not None:
                targs.append(_to_cpu(y))
    out, targets = _cat(preds), (_cat(targs) if targs else None)
    if order is not None:
        out, targets = _reorder(out, order), _reorder(targets, order)
    return out, targets


def _reorder(t: torch.Tensor | None, order) -> torch.Tensor | None:
    if t is None:
        return None
    out = torch.empty_like(t)
    out[torch.as_tensor(order, dtype=torch.long)] = t
    return out


def tta(
    model: nn.Module,
    batches: Iterable,
    device: torch.device | str,
    mixed_precision: torch.dtype | bool | None = None,
    *,
    augment: Callable,
    n: int = 4,
    act: Callable | None = None,
    beta: float | None = None,
) -> tuple[torch.Tensor, Any]:
    """Test-time augmentation: the mean of ``n`` :func:`predict_batches` passes, each
    with ``augment``.

    With ``beta`` the result is ``beta * augmented + (1 - beta) * plain``. The
    targets are those of the first pass (None when the batches carry none).
    """
    if augment is None or n < 1:
        raise ValueError("tta needs an augment callable and n >= 1")
    runs = [
        predict_batches(
            model, batches, device, mixed_precision, act=act, augment=augment
        )
        for _ in range(n)
    ]
    aug = torch.stack([r[0] for r in runs]).float().mean(0)
    if beta is not None:
        plain, _ = predict_batches(model, batches, device, mixed_precision, act=act)
        aug = beta * aug + (1 - beta) * plain.float()
    return aug, runs[0][1]
