"""Class probabilities of a text classifier for numericalized documents."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..core import distributed
from .classifier import TextClassifierModel
from .loaders import ClassifierLoader

__all__ = ["predict_docs"]


def predict_docs(
    model: TextClassifierModel,
    docs: list[np.ndarray],
    bs: int,
    max_tokens: int | None,
    device=None,
    progress: Callable | None = None,
) -> np.ndarray:
    """Class probabilities for token-id documents, batched longest-first."""
    dl = ClassifierLoader(
        docs,
        None,
        bs,
        shuffle=False,
        pad_idx=model.config.pad_idx,
        max_tokens=max_tokens,
    )
    device = distributed.device(device)
    model.to(device).eval()
    cuda = device.type == "cuda"
    chunks = []
    with torch.no_grad(), torch.autocast(device.type, torch.bfloat16, enabled=cuda):
        for x in dl:
            logits = model(x.to(device, non_blocking=cuda))
            chunks.append(torch.softmax(logits.float(), 1).cpu().numpy())
            if progress is not None:
                progress(len(x))
    probs = np.concatenate(chunks)
    out = np.empty_like(probs)
    out[dl.order()] = probs
    return out
