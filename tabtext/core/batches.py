"""Batch plumbing shared by the Learner: device moves, (x, y) splitting, model calls.

A batch is ``(x, y)``, or ``(x, y, w)`` with ``w`` one weight per row: the
learner then calls the loss as ``loss_fn(pred, y, w)`` and weighs the validation
loss and metrics by ``w`` (see :class:`tabtext.core.losses.RowWeighted`).
"""

from __future__ import annotations

import torch
from torch import nn


def to_device(b, device: torch.device):
    """Move a tensor, or tensors nested in tuples/lists/dicts, to ``device``."""
    if isinstance(b, torch.Tensor):
        return b.to(device, non_blocking=device.type == "cuda")
    if isinstance(b, dict):
        return {k: to_device(v, device) for k, v in b.items()}
    if isinstance(b, (list, tuple)):
        return type(b)(to_device(v, device) for v in b)
    return b


def _is_pair(batch) -> bool:
    """True for an ``(x, y)`` or ``(x, y, w)`` batch (inputs with targets)."""
    return isinstance(batch, (tuple, list)) and len(batch) in (2, 3)


def _split_batch(batch):
    """``(x, y, w)`` of a batch; ``w`` (row weights) is None for an ``(x, y)`` pair."""
    if not _is_pair(batch):
        raise ValueError(
            f"a batch must be an (x, y) pair or an (x, y, weights) triple, got "
            f"{type(batch).__name__}"
            + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
        )
    return batch[0], batch[1], (batch[2] if len(batch) == 3 else None)


def _call(model: nn.Module, x):
    if isinstance(x, dict):
        return model(**x)
    if isinstance(x, (tuple, list)):
        return model(*x)
    return model(x)


def _n_targets(y) -> int:
    return y.numel() if isinstance(y, torch.Tensor) else 1


def _to_cpu(t):
    if isinstance(t, torch.Tensor):
        t = t.detach()
        return (t.float() if t.dtype in (torch.bfloat16, torch.float16) else t).cpu()
    if isinstance(t, (tuple, list)):
        return _to_cpu(
            t[0]
        )  # models returning (output, extras): metrics see the output
    return t


def _cat(ts: list):
    if not ts:
        return torch.empty(0)
    return torch.cat(ts) if ts[0].dim() > 0 else torch.stack(ts)


def _name(m) -> str:
    name = getattr(m, "__name__", None) or type(m).__name__
    return "metric" if name == "<lambda>" else name
