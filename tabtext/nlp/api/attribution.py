"""Integrated gradients for the text classifier (Sundararajan, Taly & Yan 2017,
"Axiomatic Attribution for Deep Networks", arXiv:1703.01365).

A token's attribution is the path integral of the output's gradient along the
straight line from a baseline embedding to the token's embedding, times the
difference of the two, summed over the embedding dimensions. The integral is taken
with Gauss-Legendre quadrature (exact for polynomials of degree ``2 * n_steps - 1``,
so a few dozen points suffice), all points of one document in one batch. By
*completeness* the attributions add up to ``f(input) - f(baseline)``; the returned
``gap`` measures how far the quadrature is from that.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from ..models.classifier import TextClassifierModel

__all__ = ["Attribution", "class_logits", "integrated_gradients"]

Output = Literal["proba", "log_odds"]


@dataclass(frozen=True)
class Attribution:
    """Integrated gradients of one document.

    Attributes
    ----------
    scores : ndarray
        ``(n_tokens,)`` float64, one per token id given, in that order.
    target : int
        Index of the class explained.
    probs : ndarray
        ``(n_classes,)`` class probabilities of the document.
    value, baseline_value : float
        The output explained (``output``) at the document and at the baseline.
    gap : float
        ``scores.sum() - (value - baseline_value)``: 0 for exact integration.
    """

    scores: np.ndarray
    target: int
    probs: np.ndarray
    value: float
    baseline_value: float
    gap: float


def class_logits(model: TextClassifierModel, x: Tensor) -> Tensor:
    """The classifier's logits for embedded documents, differentiable in ``x``.

    Parameters
    ----------
    model : TextClassifierModel
        In eval mode (dropouts off).
    x : Tensor
        ``(batch, seq, emb_sz)``: every row a whole document of ``seq`` tokens (no
        padding), as ``model.encoder.embedding`` would embed it.

    Returns
    -------
    Tensor
        ``(batch, n_classes)``, equal to ``model(ids)`` for the ids embedded. Unlike
        ``model(ids)``, gradient flows to every token: BPT3C's lead tokens (those
        beyond ``max_len``, which only set the state) are run with it too.
    """
    se = model.sentence_encoder
    seq = x.size(1)
    skip = int(se.skipped(torch.tensor([seq]))[0])
    state, outs = None, []
    for start in range(0, seq, se.bptt):  # the same chunks as SentenceEncoder
        out, state = model.encoder.run_embedded(x[:, start : start + se.bptt], state)
        outs.append(out)  # (batch, chunk, emb)
    out = torch.cat(outs, dim=1)[:, skip:]  # the tokens the head pools over
    mask = torch.zeros(out.shape[:2], dtype=torch.bool, device=x.device)
    return model.head(out, mask)


def integrated_gradients(
    model: TextClassifierModel,
    ids: Tensor,
    target: int | None = None,
    n_steps: int = 32,
    baseline: Literal["zero", "pad"] | int = "zero",
    fixed: Tensor | None = None,
    output: Output = "proba",
    batch_tokens: int = 16384,
) -> Attribution:
    """Attribute one document's output to its tokens by integrated gradients.

    Parameters
    ----------
    model : TextClassifierModel
        Put in eval mode (and left there).
    ids : Tensor
        ``(n_tokens,)`` token ids of the document as the model reads it.
    target : int, optional
        Class to explain; default the predicted one.
    n_steps : int
        Quadrature points on the path (forward + backward passes).
    baseline : {"zero", "pad"} or int
        The embedding every token starts from: zeros, the padding token's row, or
        the row of this token id (e.g. the unknown token's).
    fixed : Tensor, optional
        ``(n_tokens,)`` bool: positions kept at their own embedding in the baseline
        too (structural tokens such as ``xxbos``); their attribution is 0.
    output : {"proba", "log_odds"}
        Explain the target's probability, or its log-odds ``log p / (1 - p)``.
    batch_tokens : int
        Path points are batched ``batch_tokens // n_tokens`` at a time (memory).

    Returns
    -------
    Attribution
    """
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    n_vocab = model.encoder.embedding.num_embeddings
    if baseline not in ("zero", "pad") and not (
        isinstance(baseline, int) and 0 <= baseline < n_vocab
    ):
        raise ValueError(
            f"baseline must be 'zero', 'pad' or a token id in 0..{n_vocab - 1}, "
            f"got {baseline!r}"
        )
    if output not in ("proba", "log_odds"):
        raise ValueError(f"output must be 'proba' or 'log_odds', got {output!r}")
    if ids.dim() != 1 or len(ids) == 0:
        raise ValueError(f"ids must be a non-empty 1-D tensor, got {tuple(ids.shape)}")
    model.eval()
    weight = model.encoder.embedding.weight
    ids = ids.to(weight.device)
    x = weight[ids].detach()  # (n, emb)
    if baseline == "zero":
        base = torch.zeros_like(x)
    else:
        row = model.config.pad_idx if baseline == "pad" else baseline
        base = weight[row].detach().expand_as(x).clone()
    if fixed is not None:
        fixed = fixed.to(x.device)
        base[fixed] = x[fixed]
    with _rnn_backward_ok(x.device), torch.enable_grad():
        with torch.no_grad():
            logits = class_logits(model, torch.stack([x, base]))  # (2, n_classes)
        probs = torch.softmax(logits.float(), dim=1)
        if target is None:
            target = int(probs[0].argmax())
        if not 0 <= target < probs.size(1):
            raise ValueError(
                f"target {target} is not a class index (0..{probs.size(1) - 1})"
            )
        ends = _output(logits, target, output)
        grads = _path_gradients(model, x, base, target, n_steps, output, batch_tokens)
    scores = ((x - base) * grads).sum(-1).double().cpu().numpy()  # (n,)
    value, base_value = (float(v) for v in ends)
    gap = float(scores.sum()) - (value - base_value)
    return Attribution(scores, target, probs[0].cpu().numpy(), value, base_value, gap)


def _path_gradients(model, x, base, target, n_steps, output, batch_tokens) -> Tensor:
    """Quadrature-weighted mean gradient of the output along base -> x, ``(n, emb)``."""
    nodes, weights = np.polynomial.legendre.leggauss(n_steps)
    alphas = torch.tensor((nodes + 1) / 2, dtype=x.dtype, device=x.device)
    weights = torch.tensor(weights / 2, dtype=x.dtype, device=x.device)  # sum to 1
    rows = max(1, batch_tokens // len(x))
    total = torch.zeros_like(x)
    for i in range(0, n_steps, rows):
        a, w = alphas[i : i + rows, None, None], weights[i : i + rows, None, None]
        path = (base + a * (x - base)).requires_grad_(True)  # (k, n, emb)
        out = _output(class_logits(model, path), target, output)  # (k,)
        (grad,) = torch.autograd.grad(out.sum(), path)
        total += (w * grad).sum(0)
    return total


def _output(logits: Tensor, target: int, output: Output) -> Tensor:
    logp = torch.log_softmax(logits.float(), dim=1)  # (k, n_classes)
    if output == "proba":
        return logp[:, target].exp()
    others = torch.cat([logp[:, :target], logp[:, target + 1 :]], dim=1)
    if others.size(1) == 0:
        raise ValueError("log_odds needs at least 2 classes")
    return logp[:, target] - torch.logsumexp(others, dim=1)


def _rnn_backward_ok(device: torch.device):
    """cuDNN's LSTM backward refuses eval mode: use the native kernels on CUDA."""
    if device.type == "cuda":
        return torch.backends.cudnn.flags(enabled=False)
    return contextlib.nullcontext()
