"""The LR range test (Smith 2015, "Cyclical Learning Rates for Training Neural Networks").

Train for up to ``num_it`` batches while the LR grows exponentially from ``start_lr`` to
``end_lr`` (a :class:`ParamScheduler` over :func:`sched_exp`); record the smoothed
loss; stop once it diverges. Afterwards the model, the
optimizer state and the RNG states are restored exactly (bitwise) to what they were.
Under torchrun the test runs on rank 0 alone (on its shard, at the per-rank batch
size) and every rank receives its result.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import distributed
from .callbacks import ProgressBar
from .hooks import Callback, CancelFit, Order
from .recorder import _subplots, save_fig
from .rng import rng_state, set_rng_state
from .schedules import ParamScheduler, sched_exp

if TYPE_CHECKING:
    from .learner import Learner

SUGGESTIONS = ("valley", "steepest", "minimum")


@dataclass
class LRFinderResult:
    """What :func:`lr_find` measured.

    ``suggestions`` maps each rule to an LR: ``valley`` (the middle of the longest
    stretch where the smoothed loss keeps falling, as fastai does), ``steepest`` (where
    the smoothed loss falls fastest against log LR) and ``minimum`` (a tenth of the LR
    at the lowest smoothed loss). ``suggestion`` is the one named by ``method``.
    """

    lrs: list[float]
    losses: list[float]
    raw_losses: list[float]
    suggestions: dict[str, float] = field(default_factory=dict)
    method: str = "valley"

    @property
    def suggestion(self) -> float:
        return self.suggestions[self.method]

    def plot(self, path: str | Path) -> Path:
        """PNG of smoothed loss against LR (log scale) with the suggestions marked."""
        fig, (ax,) = _subplots(1)
        ax.plot(self.lrs, self.losses)
        for i, (name, lr) in enumerate(self.suggestions.items()):
            j = int(np.argmin(np.abs(np.log(self.lrs) - math.log(lr))))
            style = "o" if name == self.method else "x"
            ax.plot(
                lr,
                self.losses[j],
                style,
                color=f"C{i + 1}",
                markersize=9,
                label=f"{name}: {lr:.2e}"
                + (" (suggested)" if name == self.method else ""),
            )
        ax.set(
            xscale="log",
            xlabel="learning rate",
            ylabel="loss (smoothed)",
            title="LR range test",
        )
        ax.legend()
        return save_fig(fig, path)


class _RangeTest(Callback):
    """Records the LR and the smoothed loss of each batch; stops once it diverges."""

    order = Order.LR_FINDER

    def __init__(self, num_it: int, stop_div: bool):
        self.num_it, self.stop_div = num_it, stop_div
        self.lrs, self.raw, self.smooth = [], [], []
        self.avg, self.best = 0.0, math.inf

    def after_batch(self, learn: Learner) -> None:
        if learn.loss is None:
            return
        loss = float(learn.loss.detach())
        self.lrs.append(learn.opt.param_groups[-1]["lr"])
        self.raw.append(loss)
        if not math.isfinite(loss):
            self.smooth.append(math.inf)
            raise CancelFit
        self.avg = 0.98 * self.avg + 0.02 * loss  # exponential moving average, debiased
        smooth = self.avg / (1 - 0.98 ** len(self.raw))
        self.smooth.append(smooth)
        self.best = min(self.best, smooth)
        if len(self.lrs) >= self.num_it or (self.stop_div and smooth > 4 * self.best):
            raise CancelFit


def lr_find(
    learn,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_it: int = 100,
    stop_div: bool = True,
    suggest: str = "valley",
) -> LRFinderResult:
    """Run the LR range test on ``learn`` and restore its state afterwards.

    Returns
    -------
    LRFinderResult
        ``lrs``, smoothed ``losses``, ``suggestions`` and the chosen ``suggestion``.
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr, got {start_lr}, {end_lr}")
    if not isinstance(num_it, int) or num_it < 5:
        raise ValueError(f"num_it must be an int >= 5, got {num_it!r}")
    if suggest not in SUGGESTIONS:
        raise ValueError(f"suggest must be one of {SUGGESTIONS}, got {suggest!r}")
    if not learn.distributed:
        return _range_test(learn, start_lr, end_lr, num_it, stop_div, suggest)
    result, error = None, None
    if distributed.is_main():
        try:
            with learn.alone():
                result = _range_test(learn, start_lr, end_lr, num_it, stop_div, suggest)
        except Exception as e:  # the other ranks must hear of it, not wait forever
            error = e
    result, message = distributed.broadcast_object(
        (result, None if error is None else f"{type(error).__name__}: {error}")
    )
    if error is not None:
        raise error
    if message is not None:
        raise RuntimeError(f"the LR range test failed on rank 0: {message}")
    return result


def _range_test(learn, start_lr, end_lr, num_it, stop_div, suggest) -> LRFinderResult:
    model_state = {k: v.clone() for k, v in learn.model.state_dict().items()}
    opt_state = copy.deepcopy(learn.opt.state_dict())
    amp_state = learn.amp.state_dict()  # fp16: the divergent end lowers the scale
    rng_js, rng_t = rng_state()
    dl_state = _loader_state(learn.train_dl)
    # the exponential sweep reaches end_lr at batch num_it - 1, in every group
    sweep = ParamScheduler(
        [1.0] * learn.n_groups, sched_exp(start_lr, end_lr), n_iter=max(num_it - 1, 1)
    )
    test = _RangeTest(num_it, stop_div)
    # only the progress bar stays: no history, checkpoint or early stop of this fit
    others = [cb for cb in learn.callbacks if not isinstance(cb, ProgressBar)]
    try:
        n_epochs = math.ceil(num_it / len(learn.train_dl))
        with learn.removed_cbs(others):
            learn.fit_epochs(n_epochs, [sweep, test], validate=False)
    finally:
        learn.model.load_state_dict(model_state)
        learn.opt.load_state_dict(opt_state)
        learn.amp.load_state_dict(amp_state)
        set_rng_state(rng_js, rng_t)
        if dl_state is not None:
            learn.train_dl.load_state_dict(dl_state)
    return _result(test, suggest)


def _loader_state(dl):
    return dl.state_dict() if callable(getattr(dl, "state_dict", None)) else None


def _result(test: _RangeTest, method: str) -> LRFinderResult:
    lrs, smooth = np.array(test.lrs), np.array(test.smooth)
    keep = np.isfinite(smooth)
    lrs_k, smooth_k = lrs[keep], smooth[keep]
    if len(lrs_k) < 3:
        raise ValueError(
            f"the LR range test diverged after {len(lrs_k)} batches; lower start_lr"
        )
    return LRFinderResult(
        test.lrs, test.smooth, test.raw, suggestions(lrs_k, smooth_k), method
    )


def suggestions(lrs: np.ndarray, losses: np.ndarray) -> dict[str, float]:
    """The three suggestion rules on smoothed losses (see :class:`LRFinderResult`)."""
    i_min = int(np.argmin(losses))
    slope = np.gradient(losses, np.log(lrs))
    i_steep = int(np.argmin(slope[: max(i_min, 1) + 1]))  # only left of the minimum
    start, end = _longest_descent(losses)
    i_valley = start + (end - start) * 2 // 3
    return {
        "valley": float(lrs[i_valley]),
        "steepest": float(lrs[i_steep]),
        "minimum": float(lrs[i_min] / 10),
    }


def _longest_descent(losses: np.ndarray) -> tuple[int, int]:
    """Start and end of the longest decreasing subsequence of ``losses`` (O(n^2))."""
    n = len(losses)
    length, prev = np.ones(n, dtype=int), np.arange(n)
    for i in range(1, n):
        earlier = np.nonzero(losses[:i] > losses[i])[0]
        if len(earlier):
            j = earlier[np.argmax(length[earlier])]
            length[i], prev[i] = length[j] + 1, j
    end = int(np.argmax(length))
    start = end
    while prev[start] != start:
        start = int(prev[start])
    return start, end
