"""A full softmax's cross-entropy computed a slice of tokens at a time.

``F.cross_entropy(F.linear(h, weight, bias), target)`` over a language model's batch
(64 x 70 tokens, 30,000 words) builds logits of 537 MB, then as large a log-softmax,
a zero-filled gradient of it and the gradient of the logits: on the CPU most of that
step is spent faulting in and zeroing fresh pages, not multiplying matrices.
:func:`linear_cross_entropy` gives the same loss and gradients while holding the
logits of only ``chunk`` tokens at a time: for each slice it computes the logits, their
log-sum-exp, the loss and at once the gradient (softmax minus one-hot), and multiplies
it into the gradients of ``h``, ``weight`` and ``bias``; the backward pass then only
scales those by the incoming gradient. (The same idea as Liger Kernel's fused linear
cross-entropy and Wijmans et al. 2024, "Cut your losses in large-vocabulary language
models", here with plain PyTorch matrix products.) :func:`adaptive_cross_entropy` runs
an adaptive softmax's head and tail clusters through it.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["adaptive_cross_entropy", "linear_cross_entropy"]

IGNORE_INDEX = -100  # as F.cross_entropy's default
CHUNK_ELEMENTS = 1 << 24  # logits held at a time: 16M floats (64 MB)
TINY = 1e-30  # probabilities below this get their log-probability recomputed


def linear_cross_entropy(
    h: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    target: Tensor,
    chunk: int | None = None,
) -> Tensor:
    """Mean cross-entropy of ``h @ weight.T + bias`` against ``target``, chunked.

    Equal to ``F.cross_entropy(F.linear(h, weight, bias).float(), target)`` (targets of
    -100 ignored), with the same gradients, without the ``(tokens, vocab)`` logits.
    Under CPU or CUDA autocast the products run in its dtype, as ``F.linear`` would,
    and the softmax in fp32.

    Parameters
    ----------
    h : Tensor
        ``(..., emb)`` decoder inputs.
    weight : Tensor
        ``(vocab, emb)``.
    bias : Tensor, optional
        ``(vocab,)``.
    target : Tensor
        Class ids, one per row of ``h`` (any shape with that many elements).
    chunk : int, optional
        Tokens per slice; by default as many as make 16M logits.
    """
    h2, target = _flat(h, target, "linear_cross_entropy")
    if chunk is None:
        chunk = max(1, CHUNK_ELEMENTS // max(1, weight.size(0)))
    dtype = _compute_dtype(h2)
    if torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (h, weight, bias)
    ):
        return _LinearCrossEntropy.apply(h2, weight, bias, target, chunk, dtype)
    loss, count = _chunks(h2, weight, bias, target, chunk, dtype)
    return loss / count


def adaptive_cross_entropy(
    adaptive: torch.nn.AdaptiveLogSoftmaxWithLoss, h: Tensor, target: Tensor
) -> Tensor:
    """``adaptive(h, target).loss`` with each softmax through
    :func:`linear_cross_entropy`: the head over all tokens (shortlist and one class
    per cluster), each tail cluster over its own tokens after its projection.

    Parameters
    ----------
    adaptive : nn.AdaptiveLogSoftmaxWithLoss
    h : Tensor
        ``(..., in_features)``.
    target : Tensor
        Class ids in ``[0, n_classes)``, one per row of ``h``.
    """
    h2, target = _flat(h, target, "adaptive_cross_entropy")
    n_classes = adaptive.n_classes
    bad = (target < 0) | (target >= n_classes)
    if bool(bad.any()):
        row = int(bad.nonzero()[0, 0])
        raise ValueError(
            f"target {int(target[row])} at row {row} is outside [0, {n_classes}): "
            "token ids must be below the model's vocabulary size."
        )
    bounds = [0, *adaptive.cutoffs]  # cutoffs end with n_classes
    head_target = target.clone()
    tails = h2.new_zeros((), dtype=torch.float32)
    for i, (lo, hi) in enumerate(zip(bounds[1:-1], bounds[2:])):
        rows = ((target >= lo) & (target < hi)).nonzero().squeeze(1)
        if rows.numel() == 0:
            continue
        head_target[rows] = adaptive.shortlist_size + i
        proj, out = adaptive.tail[i]
        z = proj(h2.index_select(0, rows))
        tail = linear_cross_entropy(z, out.weight, out.bias, target[rows] - lo)
        tails = tails + tail * rows.numel()
    head = adaptive.head
    return linear_cross_entropy(h2, head.weight, head.bias, head_target) + (
        tails / max(1, target.numel())
    )


def _flat(h: Tensor, target: Tensor, who: str) -> tuple[Tensor, Tensor]:
    """``h`` as ``(tokens, features)`` and ``target`` as ``(tokens,)``, checked."""
    h2, target = h.reshape(-1, h.size(-1)), target.reshape(-1)
    if target.numel() != h2.size(0):
        raise ValueError(
            f"{who}: {h2.size(0)} rows of h but {target.numel()} targets; pass one "
            "target per token."
        )
    return h2, target


def _compute_dtype(h: Tensor) -> torch.dtype:
    device = h.device.type
    if device in ("cpu", "cuda") and torch.is_autocast_enabled(device):
        return torch.get_autocast_dtype(device)
    return h.dtype


def _acc_dtype(*tensors) -> torch.dtype:
    """fp64 if any input is, else fp32: the softmax's and the gradients' dtype."""
    wide = any(t is not None and t.dtype == torch.float64 for t in tensors)
    return torch.float64 if wide else torch.float32


def _chunks(h, weight, bias, target, chunk, dtype, grads=(None, None, None)):
    """:func:`_slices` with autocast off (it casts for itself)."""
    if h.device.type not in ("cpu", "cuda"):
        return _slices(h, weight, bias, target, chunk, dtype, grads)
    with torch.autocast(h.device.type, enabled=False):
        return _slices(h, weight, bias, target, chunk, dtype, grads)


def _slices(h, weight, bias, target, chunk, dtype, grads):
    """Summed loss and count of counted targets; accumulates unscaled gradients
    (softmax minus one-hot) into ``grads = (grad_h, grad_w, grad_b)``, entries None
    where not wanted. Products run in ``dtype``, the softmax in fp32 (fp64 if the
    inputs are); every slice reuses the same buffers (fresh ones would be fresh
    pages to fault in)."""
    n_rows, rows = h.size(0), min(chunk, h.size(0))
    hc_all, w = h.to(dtype), weight.to(dtype)
    b = None if bias is None else bias.to(dtype)
    acc = _acc_dtype(h, weight, bias)
    low = dtype != acc  # e.g. bf16 products under autocast
    grad_h, grad_w, grad_b = grads
    wanted = any(g is not None for g in grads)
    buf = torch.empty(rows, w.size(0), dtype=acc, device=h.device)
    buf_low = torch.empty(rows, w.size(0), dtype=dtype, device=h.device) if low else buf
    gw_low = None
    if low and grad_w is not None:
        gw_low = torch.empty(w.shape, dtype=dtype, device=h.device)
    loss = torch.zeros((), dtype=acc, device=h.device)
    count = 0
    for start in range(0, n_rows, chunk):
        stop = min(start + chunk, n_rows)
        hc, tc, n = hc_all[start:stop], target[start:stop], stop - start
        logits, out = buf[:n], buf_low[:n]
        if b is None:
            torch.mm(hc, w.t(), out=out)
        else:
            torch.addmm(b, hc, w.t(), out=out)
        if low:
            logits.copy_(out)
        keep = tc != IGNORE_INDEX
        safe = torch.where(keep, tc, 0).unsqueeze(1)
        # one pass (softmax in place) rather than log_softmax and then exp
        p = torch.softmax(logits, dim=1, out=logits)
        p_t = p.gather(1, safe).squeeze(1)
        nll = -torch.log(p_t)
        tiny = p_t < TINY  # log of an underflowed probability: recompute those rows
        if bool(tiny.any()):
            rows_t = tiny.nonzero().squeeze(1)
            z = torch.nn.functional.linear(hc[rows_t], w, b).to(acc)
            nll[rows_t] = -torch.log_softmax(z, 1).gather(1, safe[rows_t]).squeeze(1)
        loss += torch.where(keep, nll, 0.0).sum()
        n_keep = int(keep.sum())
        count += n_keep
        if not wanted:
            continue
        # the gradient of the summed loss with respect to the logits, in place
        g = p.scatter_add_(1, safe, torch.full_like(p_t, -1.0).unsqueeze(1))
        if n_keep < n:
            g.mul_(keep.unsqueeze(1))
        if grad_b is not None:
            grad_b += g.sum(0)
        if low:
            g = out.copy_(g)
        if grad_h is not None:
            if low:
                grad_h[start:stop] = g @ w
            else:
                torch.mm(g, w, out=grad_h[start:stop])
        if grad_w is not None:
            if low:
                grad_w += torch.mm(g.t(), hc, out=gw_low)
            else:
                grad_w.addmm_(g.t(), hc)
    return loss, max(count, 1)


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h, weight, bias, target, chunk, dtype):
        # the gradients are computed now, slice by slice, and only scaled later
        acc, dev = _acc_dtype(h, weight, bias), h.device
        grads = tuple(
            torch.zeros(t.shape, dtype=acc, device=dev)
            if t is not None and t.requires_grad
            else None
            for t in (h, weight, bias)
        )
        loss, count = _chunks(h, weight, bias, target, chunk, dtype, grads)
        ctx.count = count
        ctx.dtypes = (h.dtype, weight.dtype, None if bias is None else bias.dtype)
        ctx.grads = grads
        return loss / count

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        scale = grad_out / ctx.count
        out = [
            None if g is None else (g * scale).to(dt)
            for g, dt in zip(ctx.grads, ctx.dtypes, strict=True)
        ]
        return out[0], out[1], out[2], None, None, None
