"""The validation score that picks the best epoch and stops a fit early.

``eval_metric="loss"`` (the default) watches the validation loss. A name --
"accuracy", "roc_auc", "f1" (classification and multi-label), "rmse", "mae"
(regression) -- or an :class:`EvalMetric` (any ``(y_true, y_pred) -> float`` with
its direction), or a pair ``(callable, "max" | "min")``, is computed over the whole
validation set each epoch, in the units and labels of y, and weighted by the
validation rows' weights when they have some (passed as ``sample_weight=``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    roc_auc_score,
    root_mean_squared_error,
)

from .tasks import TargetEncoder

log = logging.getLogger(__name__)
CLASSIFICATION = ("classification", "multilabel")


@dataclass(frozen=True)
class EvalMetric:
    """A validation score: ``fn(y_true, y_pred) -> float`` and its direction.

    Parameters
    ----------
    fn : callable ``(y_true, y_pred) -> float``
        Also called with ``sample_weight=`` when the validation rows have weights.
    direction : {"max", "min"}
        Whether a higher or a lower score is better.
    name : str, optional
        The column of ``history_``; default ``fn.__name__``.
    on : {"predict", "proba"}
        ``y_pred`` is what ``predict`` returns, or what ``predict_proba`` returns
        (for a binary task, the probability of the second class).

    Examples
    --------
    >>> from sklearn.metrics import log_loss
    >>> EvalMetric(log_loss, "min", on="proba")  # doctest: +SKIP
    """

    fn: Callable[..., float]
    direction: Literal["max", "min"]
    name: str | None = None
    on: Literal["predict", "proba"] = "predict"

    def __post_init__(self):
        if not callable(self.fn):
            raise TypeError(f"EvalMetric needs a callable fn, got {self.fn!r}")
        if self.direction not in ("max", "min"):
            raise ValueError(
                f"EvalMetric direction must be 'max' or 'min', got {self.direction!r}"
            )
        if self.on not in ("predict", "proba"):
            raise ValueError(
                f"EvalMetric on must be 'predict' or 'proba', got {self.on!r}"
            )

    @property
    def label(self) -> str:
        return self.name or getattr(self.fn, "__name__", "eval_metric")


def _f1(y_true, y_pred, **kw) -> float:
    """F1 of the second class (labels sorted, as ``classes_``) for a binary task,
    macro-averaged otherwise."""
    labels = np.unique(np.concatenate([y_true.ravel(), y_pred.ravel()]))
    if y_true.ndim == 1 and len(labels) <= 2:
        return f1_score(y_true, y_pred, pos_label=labels[-1], **kw)
    return f1_score(y_true, y_pred, average="macro", **kw)


def _roc_auc(y_true, y_score, **kw) -> float:
    """ROC AUC (one-vs-rest for multiclass); NaN for a validation set of a single
    class, where it is undefined (that epoch then is not the best)."""
    if y_true.ndim == 1 and len(np.unique(y_true)) < 2:
        log.warning("eval_metric roc_auc is undefined: one class in the validation set")
        return float("nan")
    multiclass = y_score.ndim == 2 and y_true.ndim == 1
    return roc_auc_score(
        y_true, y_score, multi_class="ovr" if multiclass else "raise", **kw
    )


BUILTIN = {
    "accuracy": (EvalMetric(accuracy_score, "max", "accuracy"), CLASSIFICATION),
    "roc_auc": (EvalMetric(_roc_auc, "max", "roc_auc", on="proba"), CLASSIFICATION),
    "f1": (EvalMetric(_f1, "max", "f1"), CLASSIFICATION),
    "rmse": (EvalMetric(root_mean_squared_error, "min", "rmse"), ("regression",)),
    "mae": (EvalMetric(mean_absolute_error, "min", "mae"), ("regression",)),
}


def resolve(eval_metric: Any, task: str) -> EvalMetric | None:
    """The :class:`EvalMetric` of the ``eval_metric`` parameter for ``task``; None
    for "loss" (the validation loss)."""
    if isinstance(eval_metric, str):
        if eval_metric == "loss":
            return None
        if eval_metric not in BUILTIN:
            raise ValueError(
                f"eval_metric must be 'loss', one of {sorted(BUILTIN)}, an EvalMetric "
                f"or (callable, 'max' | 'min'), got {eval_metric!r}"
            )
        metric, tasks = BUILTIN[eval_metric]
        if task not in tasks:
            raise ValueError(
                f"eval_metric={eval_metric!r} is for {' and '.join(tasks)} and this "
                f"fit is {task}; pick one of "
                f"{['loss'] + [k for k, (_, t) in BUILTIN.items() if task in t]}"
            )
        return metric
    if isinstance(eval_metric, EvalMetric):
        return eval_metric
    if isinstance(eval_metric, (tuple, list)) and len(eval_metric) == 2:
        return EvalMetric(eval_metric[0], eval_metric[1])
    if callable(eval_metric):
        raise ValueError(
            "eval_metric: a callable needs its direction; pass (fn, 'max') or "
            "(fn, 'min'), or EvalMetric(fn, direction)"
        )
    raise ValueError(f"eval_metric: cannot use {eval_metric!r}; see the docstring")


def monitor(metric: EvalMetric | None) -> tuple[str, Literal["min", "max"]]:
    """The epoch-results column and direction that best epoch and early stopping
    watch."""
    return ("valid_loss", "min") if metric is None else (metric.label, metric.direction)


class ValidScore:
    """The learner metric computing ``metric`` from raw outputs and encoded
    targets: both decoded to y's units and labels by ``target``."""

    def __init__(self, metric: EvalMetric, target: TargetEncoder):
        self.metric, self.target = metric, target
        self.__name__ = metric.label

    def __call__(
        self, preds: torch.Tensor, targets: torch.Tensor, weights=None
    ) -> float:
        y_true = self.target.labels(targets)
        if self.metric.on == "proba":
            y_pred = self.target.proba(preds)
            if self.target.task == "classification" and y_pred.shape[1] == 2:
                y_pred = y_pred[:, 1]
        else:
            y_pred = self.target.decode(preds)
        kw = {} if weights is None else {"sample_weight": weights.double().numpy()}
        try:
            return float(self.metric.fn(y_true, y_pred, **kw))
        except ValueError as err:  # e.g. ROC AUC of a validation set of one class
            log.warning(
                "eval_metric %s is undefined this epoch: %s", self.__name__, err
            )
            return float("nan")
