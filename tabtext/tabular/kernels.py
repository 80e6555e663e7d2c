"""CPU kernels of the entity-embedding network, each the same function as a stock
PyTorch op with a faster CPU path: :class:`Dropout` from random bits (four 16-bit
draws from one 64-bit variate) and :class:`EmbeddingLookup`, the concatenated
embedding lookup with an ``index_add_`` backward. :mod:`tabtext.tabular.model` uses
them while training on a CPU; other devices take the stock ops.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Dropout(nn.Module):
    """``nn.Dropout(p)`` (zero each value with probability ``p`` in training, scale the
    rest to keep the mean; identity in eval mode), faster on the CPU.

    On the CPU, ``nn.Dropout`` draws one Bernoulli variate per value; here one 64-bit
    draw of the global CPU generator gives four 16-bit values, each kept when its low
    15 bits are at least ``t = round(p * 32768)``: the drop probability is
    ``t / 32768`` (within 1.6e-5 of ``p``), and ``torch.manual_seed`` makes the masks
    repeatable as before. On other devices it is ``F.dropout``. Timings:
    ``benchmarks/RESULTS.md`` (measurements behind design choices).
    """

    def __init__(self, p: float):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p!r}")
        self.p = float(p)
        self.threshold = round(self.p * 32768)
        self.scale = 32768 / (32768 - self.threshold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.threshold == 0:
            return x
        if x.device.type != "cpu":
            return F.dropout(x, self.p, training=True)
        n = x.numel()
        bits = torch.empty((n + 3) // 4, dtype=torch.int64).random_()
        bits = bits.view(torch.int16)[:n].view(x.shape).bitwise_and_(0x7FFF)
        mask = (bits >= self.threshold).to(x.dtype)
        return x * mask.mul_(self.scale)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class EmbeddingLookup(torch.autograd.Function):
    """Every categorical column's embedding rows, concatenated: ``(batch,
    sum(widths))`` from ``codes`` ``(n_cat, batch)`` and one weight per column.

    The values and gradients of ``torch.cat([emb(x[:, i]) ...], 1)``, but the
    backward adds each column's gradient rows with one ``index_add_`` instead of
    ``embedding_dense_backward``, which is slow per looked-up row on the CPU
    (timings: ``benchmarks/RESULTS.md``, measurements behind design choices).
    """

    @staticmethod
    def forward(ctx, codes: torch.Tensor, *weights: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(codes)
        ctx.shapes = [w.shape for w in weights]
        return torch.cat(
            [w.index_select(0, codes[i]) for i, w in enumerate(weights)], 1
        )

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (codes,) = ctx.saved_tensors
        grads, lo = [], 0
        for i, shape in enumerate(ctx.shapes):
            hi = lo + shape[1]
            if ctx.needs_input_grad[i + 1]:  # (n_i, width_i): rows summed per code
                g = grad.new_zeros(shape).index_add_(0, codes[i], grad[:, lo:hi])
            else:
                g = None
            grads.append(g)
            lo = hi
        return (None, *grads)


__all__ = ["Dropout", "EmbeddingLookup"]
