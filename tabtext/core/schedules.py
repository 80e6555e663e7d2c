"""Learning-rate and momentum schedules as pure functions of training progress.

A schedule maps ``pos`` in [0, 1] (the fraction of the fit's training batches done) to a
value. LR schedules return a *multiplier* of each layer group's base LR, so one schedule
serves discriminative LRs; momentum schedules return absolute values.

- SGDR, cosine annealing with warm restarts: Loshchilov & Hutter 2017.
- 1cycle: Smith 2018, "A disciplined approach to neural network hyper-parameters".
- Slanted triangular LRs: Howard & Ruder 2018 (ULMFiT).
- Exponential sweep of the LR range test: Smith 2015, "Cyclical learning rates".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .hooks import Callback, Order

if TYPE_CHECKING:
    from .learner import Learner

Schedule = Callable[[float], float]


def _check_pos_args(**kwargs: float) -> None:
    for name, value in kwargs.items():
        if not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise ValueError(f"{name} must be a finite number, got {value!r}")


def _check_pct(pct_start: float) -> None:
    if not (isinstance(pct_start, (int, float)) and 0 <= pct_start <= 1):
        raise ValueError(f"pct_start must be in [0, 1], got {pct_start!r}")


def sched_cos(start: float, end: float) -> Schedule:
    """Half-cosine from ``start`` (pos 0) to ``end`` (pos 1)."""
    return lambda pos: end + (start - end) * (1 + math.cos(math.pi * pos)) / 2


def sched_lin(start: float, end: float) -> Schedule:
    """Straight line from ``start`` to ``end``."""
    return lambda pos: start + (end - start) * pos


def sched_exp(start: float, end: float) -> Schedule:
    """Geometric interpolation from ``start`` to ``end`` (both > 0)."""
    if start <= 0 or end <= 0:
        raise ValueError(f"sched_exp needs positive ends, got {start} and {end}")
    return lambda pos: start * (end / start) ** pos


def combine(pcts: Sequence[float], scheds: Sequence[Schedule]) -> Schedule:
    """Chain schedules: schedule i runs over the share ``pcts[i] / sum(pcts)`` of training.

    Edges are computed as ``cumsum / total`` (not by adding fractions) so that integer
    shares, such as SGDR cycle lengths in epochs, put each edge exactly on a batch.
    """
    if len(pcts) != len(scheds):
        raise ValueError(f"{len(pcts)} fractions for {len(scheds)} schedules")
    if min(pcts) < 0 or sum(pcts) <= 0:
        raise ValueError(
            f"fractions must be >= 0 with a positive sum, got {list(pcts)}"
        )
    total, cum, edges = sum(pcts), 0.0, [0.0]
    for p in pcts:
        cum += p
        edges.append(cum / total)

    def f(pos: float) -> float:
        pos = min(max(pos, 0.0), 1.0)
        for i, sched in enumerate(scheds):
            lo, hi = edges[i], edges[i + 1]
            if pos < hi or i == len(scheds) - 1:
                return sched((pos - lo) / (hi - lo) if hi > lo else 1.0)
        raise AssertionError("unreachable")

    return f


def one_cycle_lr(div: float = 25.0, div_final: float = 1e4, pct_start: float = 0.25):
    """1cycle LR multiplier: cosine up from 1/div to 1, then cosine down to 1/div_final."""
    _check_pos_args(div=div, div_final=div_final, pct_start=pct_start)
    if div <= 0 or div_final <= 0:
        raise ValueError(f"div and div_final must be > 0, got {div}, {div_final}")
    _check_pct(pct_start)
    return combine(
        [pct_start, 1 - pct_start],
        [sched_cos(1 / div, 1.0), sched_cos(1.0, 1 / div_final)],
    )


def one_cycle_mom(
    moms: tuple[float, float, float] = (0.95, 0.85, 0.95), pct_start=0.25
):
    """1cycle momentum: cosine from moms[0] down to moms[1], then back up to moms[2]."""
    _check_pct(pct_start)
    if len(moms) != 3:
        raise ValueError(f"moms must be 3 values (start, middle, end), got {moms!r}")
    return combine(
        [pct_start, 1 - pct_start],
        [sched_cos(moms[0], moms[1]), sched_cos(moms[1], moms[2])],
    )


def slanted_triangular(cut_frac: float = 0.1, ratio: float = 32.0) -> Schedule:
    """ULMFiT's STLR multiplier: linear up from 1/ratio to 1 over ``cut_frac``, then down.

    Follows eq. 3 of Howard & Ruder 2018: ``(1 + p (ratio - 1)) / ratio``.
    """
    _check_pos_args(cut_frac=cut_frac, ratio=ratio)
    if not 0 < cut_frac < 1:
        raise ValueError(f"cut_frac must be in (0, 1), got {cut_frac}")
    if ratio < 1:
        raise ValueError(f"ratio must be >= 1, got {ratio}")

    def f(pos: float) -> float:
        p = pos / cut_frac if pos < cut_frac else 1 - (pos - cut_frac) / (1 - cut_frac)
        return (1 + max(p, 0.0) * (ratio - 1)) / ratio

    return f


def sgdr_epochs(
    n_cycles: int, cycle_len: float = 1, cycle_mult: float = 1
) -> list[float]:
    """Length in epochs of each SGDR cycle: ``cycle_len * cycle_mult**i``."""
    if not isinstance(n_cycles, int) or n_cycles < 1:
        raise ValueError(f"n_cycles must be an int >= 1, got {n_cycles!r}")
    if cycle_len <= 0 or cycle_mult <= 0:
        raise ValueError(
            f"cycle_len and cycle_mult must be > 0, got {cycle_len}, {cycle_mult}"
        )
    return [cycle_len * cycle_mult**i for i in range(n_cycles)]


def sgdr(n_cycles: int, cycle_len: float = 1, cycle_mult: float = 1) -> Schedule:
    """SGDR multiplier: each cycle anneals 1 -> 0 by cosine, then restarts at 1.

    ``pos`` is measured over the whole fit (all cycles). Cycle ``i`` lasts
    ``cycle_len * cycle_mult**i`` epochs.
    """
    lens = sgdr_epochs(n_cycles, cycle_len, cycle_mult)
    return combine(lens, [sched_cos(1.0, 0.0)] * n_cycles)


class ParamScheduler(Callback):
    """Callback that sets each group's LR (base LR x ``lr_sched``) and momentum per batch.

    ``pos`` is ``learn.iter / n_iter``, a pure function of progress, so a resumed fit
    reproduces the schedule exactly; ``n_iter`` defaults to the fit's batch count
    (``learn.n_iter``).
    """

    order = Order.SCHEDULER

    def __init__(
        self,
        base_lrs: Sequence[float],
        lr_sched: Schedule,
        mom_sched: Schedule | None = None,
        n_iter: int | None = None,
    ):
        self.base_lrs, self.lr_sched, self.mom_sched = (
            list(base_lrs),
            lr_sched,
            mom_sched,
        )
        self.n_iter = n_iter

    def before_batch(self, learn: Learner) -> None:
        if not learn.training:
            return
        pos = learn.iter / (learn.n_iter if self.n_iter is None else self.n_iter)
        factor = self.lr_sched(pos)
        for group, base in zip(learn.opt.param_groups, self.base_lrs, strict=True):
            group["lr"] = base * factor
        if self.mom_sched is not None:
            learn.set_mom(self.mom_sched(pos))
