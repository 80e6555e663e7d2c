"""Pruning of hyperparameter-search trials with Optuna (Akiba et al. 2019).

:class:`OptunaPruning` reports an epoch result to an Optuna trial after each epoch
and, when the study's pruner says the trial is worse than the others were at that
point, stops the fit with the core's :class:`~tabtext.core.CancelFit` -- so every
callback's ``after_cancel_fit`` and ``after_fit`` run as after any stop -- and then
raises ``optuna.TrialPruned`` out of the fit, which is how Optuna is told. It works
for any :class:`~tabtext.core.Learner`: a table's or a text run's.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .callbacks import _metric_value
from .extras import require
from .hooks import Callback, CancelFit, Order

if TYPE_CHECKING:
    from .learner import Learner


class OptunaPruning(Callback):
    """Report ``monitor`` to ``trial`` each epoch; stop the fit if the trial is pruned.

    Parameters
    ----------
    trial : optuna.Trial
        The trial whose objective runs this fit.
    monitor : str
        The epoch result reported (a column of ``learn.history``: ``"valid_loss"``
        or a metric's name). The study's direction says whether lower is better.

    Notes
    -----
    Steps count epochs across every fit of the learner (a text run's phases), so
    each report of the trial has a step of its own. A NaN value is not reported.
    After a pruned fit, ``pruned_epoch`` says which epoch stopped it and the fit
    raises ``optuna.TrialPruned``. Meant for one process (not torchrun).

    Examples
    --------
    >>> def objective(trial):  # doctest: +SKIP
    ...     learn = Learner(model, train_dl, valid_dl, loss_fn=loss,
    ...                     callbacks=[OptunaPruning(trial)])
    ...     learn.fit_one_cycle(10, trial.suggest_float("lr", 1e-4, 1e-1, log=True))
    ...     return learn.history["valid_loss"].min()
    """

    order = Order.OPTUNA_PRUNING

    def __init__(self, trial: Any, monitor: str = "valid_loss"):
        self.trial, self.monitor = trial, monitor
        self.pruned_epoch: int | None = None
        self._step = 0
        self._last: float | None = None

    def before_fit(self, learn: Learner) -> None:
        self.pruned_epoch = None

    def after_epoch(self, learn: Learner) -> None:
        value = _metric_value(learn, self.monitor)
        if math.isnan(value):
            return
        self.trial.report(value, self._step)
        self._step += 1
        self._last = value
        if self.trial.should_prune():
            self.pruned_epoch = learn.epoch
            raise CancelFit

    def after_cancel_fit(self, learn: Learner) -> None:
        if self.pruned_epoch is None:  # another callback stopped the fit
            return
        optuna = require("optuna", "tune", "OptunaPruning")
        raise optuna.TrialPruned(
            f"trial {self.trial.number} pruned after epoch {self.pruned_epoch} "
            f"with {self.monitor} = {self._last:.6g}"
        )
