"""A text model's outputs for numericalized documents (class probabilities by
default)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch

from ...core import distributed
from ...core.inference import predict_batches
from ...core.precision import resolve
from ..text.loaders import ClassifierLoader
from .classifier import TextClassifierModel

__all__ = ["predict_docs"]


def predict_docs(
    model: TextClassifierModel,
    docs: list[np.ndarray],
    bs: int,
    max_tokens: int | None,
    device=None,
    progress: Callable | None = None,
    act: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> np.ndarray:
    """Class probabilities for token-id documents, batched longest-first (the core's
    prediction loop; on CUDA bf16 autocast, fp16 on GPUs without fast bf16). ``progress(n)`` is called per batch;
    ``act`` maps a batch's logits to what is returned (default: softmax; a
    :class:`~tabtext.nlp.training.tasks.TextTask`'s ``activation``)."""
    dl = ClassifierLoader(
        docs,
        None,
        bs,
        shuffle=False,
        pad_idx=model.config.pad_idx,
        max_tokens=max_tokens,
    )
    device = distributed.device(device)
    model.to(device)

    def batches() -> Iterator[torch.Tensor]:
        for x in dl:
            yield x
            if progress is not None:
                progress(len(x))

    probs, _ = predict_batches(
        model,
        batches(),
        device,
        resolve("auto", device).dtype if device.type == "cuda" else None,
        act=act or (lambda logits: torch.softmax(logits.float(), 1)),
        order=dl.order(),
    )
    return probs.numpy()
