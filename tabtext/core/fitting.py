"""The fit variants of the Learner: each picks a schedule and calls ``fit_schedule``.

- SGDR, cosine annealing with warm restarts (Loshchilov & Hutter 2017): ``fit``.
- 1cycle (Smith 2018): ``fit_one_cycle``.
- Slanted triangular LRs (Howard & Ruder 2018, ULMFiT): ``fit_stlr``.
- The LR range test (Smith 2015): ``lr_find`` (see :mod:`tabtext.core.lr_finder`).
"""

from __future__ import annotations

from collections.abc import Sequence

from .hooks import Callback
from .lr_finder import LRFinderResult, lr_find
from .param_groups import LR, lrs_for_groups
from .schedules import (
    ParamScheduler,
    Schedule,
    one_cycle_lr,
    one_cycle_mom,
    sgdr,
    sgdr_epochs,
    slanted_triangular,
)


class FitVariants:
    """Base of :class:`~tabtext.core.Learner`: the ``fit*`` front-ends and ``lr_find``.

    They only choose a schedule; the host provides the training through
    :meth:`fit_epochs` (a fit of so many epochs with some callbacks added) and the
    layer groups through ``n_groups``.
    """

    def fit_schedule(
        self,
        n_epochs: int,
        lr: LR,
        lr_sched: Schedule,
        mom_sched: Schedule | None = None,
        start_epoch: int = 0,
        validate: bool = True,
    ) -> None:
        """Train ``n_epochs`` with LR = base LR of each group x ``lr_sched(progress)``."""
        check_epochs(n_epochs, start_epoch)
        base = lrs_for_groups(lr, self.n_groups)
        scheduler = ParamScheduler(base, lr_sched, mom_sched)
        self.fit_epochs(n_epochs, [scheduler], start_epoch, validate)

    def fit_epochs(
        self,
        n_epochs: int,
        cbs: Sequence[Callback] = (),
        start_epoch: int = 0,
        validate: bool = True,
    ) -> None:
        """Provided by the host: train ``n_epochs`` with ``cbs`` added for the fit."""
        raise NotImplementedError

    def fit(
        self,
        lr: LR,
        n_cycles: int = 1,
        cycle_len: float = 1,
        cycle_mult: float = 1,
        start_epoch: int = 0,
    ) -> None:
        """SGDR: ``n_cycles`` cosine annealings from ``lr`` to 0 with warm restarts.

        Cycle ``i`` lasts ``cycle_len * cycle_mult**i`` epochs; the LR is set per batch.
        ``fit(0.1, 3, cycle_len=1, cycle_mult=2)`` trains 1 + 2 + 4 = 7 epochs.
        """
        n_epochs = sum(sgdr_epochs(n_cycles, cycle_len, cycle_mult))
        if abs(n_epochs - round(n_epochs)) > 1e-9:
            raise ValueError(
                f"the cycles add up to {n_epochs} epochs; make it a whole number"
            )
        self.fit_schedule(
            round(n_epochs),
            lr,
            sgdr(n_cycles, cycle_len, cycle_mult),
            start_epoch=start_epoch,
        )

    def fit_one_cycle(
        self,
        n_epochs: int,
        lr_max: LR,
        div: float = 25.0,
        div_final: float = 1e4,
        pct_start: float = 0.25,
        moms: tuple[float, float, float] | None = (0.95, 0.85, 0.95),
        start_epoch: int = 0,
    ) -> None:
        """1cycle (Smith 2018): LR up from lr_max/div to lr_max then down to lr_max/div_final,
        momentum (Adam's beta1) cycling the other way through ``moms``."""
        mom_sched = one_cycle_mom(moms, pct_start) if moms is not None else None
        self.fit_schedule(
            n_epochs,
            lr_max,
            one_cycle_lr(div, div_final, pct_start),
            mom_sched,
            start_epoch=start_epoch,
        )

    def fit_stlr(
        self,
        n_epochs: int,
        lr_max: LR,
        cut_frac: float = 0.1,
        ratio: float = 32.0,
        start_epoch: int = 0,
    ) -> None:
        """ULMFiT's slanted triangular LRs (Howard & Ruder 2018) over ``n_epochs``."""
        self.fit_schedule(
            n_epochs,
            lr_max,
            slanted_triangular(cut_frac, ratio),
            start_epoch=start_epoch,
        )

    def lr_find(
        self,
        start_lr: float = 1e-7,
        end_lr: float = 10.0,
        num_it: int = 100,
        stop_div: bool = True,
        suggest: str = "valley",
    ) -> LRFinderResult:
        """The LR range test; see :func:`tabtext.core.lr_finder.lr_find`."""
        return lr_find(self, start_lr, end_lr, num_it, stop_div, suggest)


def check_epochs(n_epochs: int, start_epoch: int) -> None:
    """Refuse a bad epoch count or start epoch before anything changes."""
    if not isinstance(n_epochs, int) or n_epochs < 1:
        raise ValueError(f"n_epochs must be an int >= 1, got {n_epochs!r}")
    if not isinstance(start_epoch, int) or not 0 <= start_epoch <= n_epochs:
        raise ValueError(f"start_epoch must be in [0, {n_epochs}], got {start_epoch!r}")
