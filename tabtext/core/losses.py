"""Row weights for any loss with a ``reduction``: what ``(x, y, w)`` batches need.

:class:`RowWeighted` turns a loss such as ``nn.MSELoss()`` or
``nn.CrossEntropyLoss()`` into one the learner can call as ``loss(pred, y, w)``:
each row's loss times its weight, averaged over the batch's values. The weights are
not renormalised per batch (so that a batch without heavy rows does not train the
light ones at full strength): give them a mean of 1 over the training rows, and a
row of weight ``k`` counts as ``k`` copies of it.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class RowWeighted(nn.Module):
    """``loss`` with one weight per row: ``mean(w[row] * loss_value)``.

    Parameters
    ----------
    loss : nn.Module with a ``reduction`` attribute
        Copied, with ``reduction="none"``; its per-value losses have the batch on
        their first dimension.

    Examples
    --------
    >>> loss = RowWeighted(nn.MSELoss())
    >>> float(loss(torch.tensor([1.0, 3.0]), torch.zeros(2), torch.tensor([2.0, 0.0])))
    1.0
    """

    row_weights = True  # tells the Learner that (x, y, w) batches are welcome

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        if not hasattr(loss, "reduction"):
            raise TypeError(
                f"RowWeighted needs a loss with a 'reduction' attribute (as torch's "
                f"losses have), got {type(loss).__name__}; give it "
                "reduction='none' support"
            )
        self.loss = copy.deepcopy(loss)
        self.loss.reduction = "none"

    def forward(
        self,
        out: torch.Tensor,
        target: torch.Tensor,
        weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        per = self.loss(out, target)  # (batch, ...)
        if weight is None:
            return per.mean()
        w = weight.to(per.dtype).reshape(-1, *([1] * (per.dim() - 1)))
        return (per * w).mean()


__all__ = ["RowWeighted"]
