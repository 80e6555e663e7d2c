"""Hyperparameter search for the embedding estimators with Optuna (Akiba et al. 2019).

:func:`tune` fits one estimator per trial on the same training and validation
rows, the parameters drawn by Optuna's TPE sampler (Bergstra et al. 2011) seeded by
``seed``, scores each by its best epoch on the validation rows, stops unpromising
trials early (median pruning, through the core's :class:`~tabtext.core.
OptunaPruning` when the estimator takes ``callbacks``), and refits the best
parameters. Needs the ``tune`` extra: ``pip install 'tabtext[tune]'``.

The default search space (:func:`default_search_space`):

==================  ==========================================================
parameter           values
==================  ==========================================================
``lr``              1e-3 .. 5e-2, log scale
``weight_decay``    1e-4 .. 0.3, log scale
``layers``          1 to 3 layers; the first of 64, 128, 256, 512 or 1,024
                    units, each next one half as wide
``ps``              one dropout for every layer, 0 .. 0.5
``emb_drop``        0 .. 0.5
``emb_sizes``       the size rule ``min(600, round(1.6 * n ** 0.56))`` of each
                    categorical column's ``n`` categories times a factor
                    (``emb_size_factor``) 0.5 .. 2, log scale
``batch_size``      128, 256, 512, 1,024 or 2,048 rows, those that make at least
                    8 batches of the training rows ("auto" when none does)
``epochs``          4 .. 12 from 20,000 training rows; below, the estimator's own
                    (``"auto"`` repeats a small table's rows to make 200 steps)
==================  ==========================================================

Other parameters stay those of the ``estimator`` given (its columns, task,
``log_target`` ...), and a parameter that this space would draw stays fixed
when passed in ``fixed``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Literal, NamedTuple

from sklearn.base import clone

from ..core import NonFiniteLossError, OptunaPruning
from ..core.extras import require
from .estimator import EmbeddingModel
from .model import default_emb_size
from .preprocessing import TabularPreprocessor
from .validation import check_X

Direction = Literal["minimize", "maximize"]
SearchSpace = Callable[[Any], dict[str, Any]]  # (optuna trial) -> estimator params

#: eval_metric names whose larger values are better; any other name is minimised
MAXIMIZED = ("accuracy", "roc_auc", "f1", "r2")
WIDTHS = (64, 128, 256, 512, 1024)
BATCH_SIZES = (128, 256, 512, 1024, 2048)
MIN_BATCHES = 8  # a batch size is drawn only if the training rows make this many
EPOCHS_FROM_ROWS = 20_000  # epochs are searched from this many training rows
VALIDATION_FRACTION = 0.2  # held out for scoring when no eval_set is given


class TuneResult(NamedTuple):
    """What :func:`tune` returns: ``estimator, study = tune(...)``."""

    estimator: EmbeddingModel  # the best parameters, refit (None if refit=False)
    study: Any  # the optuna.Study: every trial's parameters, values and state


def default_search_space(
    trial: Any, cardinalities: Mapping[str, int], n_train: int
) -> dict[str, Any]:
    """Estimator parameters drawn for ``trial`` (the table in the module docstring).

    Parameters
    ----------
    trial : optuna.Trial
    cardinalities : dict column -> number of categories
        The categorical columns (as the estimator's preprocessing finds them).
    n_train : int
        Training rows, which bound the batch sizes and decide whether epochs
        are searched.
    """
    n_layers = trial.suggest_int("n_layers", 1, 3)
    width = trial.suggest_categorical("width", WIDTHS)
    dropout = trial.suggest_float("dropout", 0.0, 0.5)
    params: dict[str, Any] = {
        "lr": trial.suggest_float("lr", 1e-3, 5e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-4, 0.3, log=True),
        "layers": tuple(max(8, width >> i) for i in range(n_layers)),
        "ps": (dropout,) * n_layers,
        "emb_drop": trial.suggest_float("emb_drop", 0.0, 0.5),
    }
    if cardinalities:
        factor = trial.suggest_float("emb_size_factor", 0.5, 2.0, log=True)
        params["emb_sizes"] = {
            name: max(1, min(600, round(factor * default_emb_size(n))))
            for name, n in cardinalities.items()
        }
    sizes = [b for b in BATCH_SIZES if b * MIN_BATCHES <= n_train] or ["auto"]
    params["batch_size"] = trial.suggest_categorical("batch_size", sizes)
    if n_train >= EPOCHS_FROM_ROWS:
        params["epochs"] = trial.suggest_int("epochs", 4, 12)
    return params


def monitor_of(
    eval_metric: str | Callable | None, direction: Direction | None
) -> tuple[str, Direction]:
    """The history column a trial is scored by, and whether to minimise it."""
    if eval_metric is None or eval_metric == "loss":
        column = "valid_loss"
    elif isinstance(eval_metric, str):
        column = eval_metric
    elif callable(eval_metric):
        column = getattr(eval_metric, "__name__", type(eval_metric).__name__)
        if direction is None:
            raise ValueError(
                f"tune: a callable eval_metric ({column}) needs direction="
                "'minimize' or 'maximize'"
            )
    else:
        raise ValueError(
            f"eval_metric must be a name or a callable, got {eval_metric!r}"
        )
    if direction is None:
        direction = "maximize" if column in MAXIMIZED else "minimize"
    if direction not in ("minimize", "maximize"):
        raise ValueError(
            f"direction must be 'minimize' or 'maximize', got {direction!r}"
        )
    return column, direction


def tune(
    X,
    y,
    *,
    estimator: EmbeddingModel | None = None,
    n_trials: int | None = 30,
    timeout: float | None = None,
    eval_set: tuple[Any, Any] | None = None,
    eval_metric: str | Callable | None = None,
    direction: Direction | None = None,
    search_space: SearchSpace | None = None,
    fixed: Mapping[str, Any] | None = None,
    seed: int = 0,
    pruning: bool = True,
    study: Any = None,
    refit: bool = True,
) -> TuneResult:
    """Search the estimator's parameters with Optuna; refit the best.

    Parameters
    ----------
    X, y : the training rows, as for ``fit``.
    estimator : EmbeddingModel, EmbeddingClassifier or EmbeddingRegressor, optional
        The parameters the search leaves alone (columns, task, ``log_target``,
        device ...); default ``EmbeddingModel()``. Without a ``random_state``,
        every trial is seeded by ``seed``.
    n_trials, timeout : stop after this many trials or seconds (either, or both).
    eval_set : (X, y), optional
        The rows every trial is scored on (and keeps its best epoch by). Without
        it, the estimator's ``validation_fraction`` (default 0.2) holds out the
        same seeded share of ``X`` in every trial.
    eval_metric : str or callable, optional
        Passed to the estimator (which then keeps its best epoch by it) and
        scored: trials are compared by the best value of that history column.
        Default: the validation loss.
    direction : "minimize" or "maximize", optional
        Default: maximise "accuracy", "roc_auc", "f1" and "r2", minimise the rest;
        needed for a callable ``eval_metric``.
    search_space : callable ``(trial) -> dict of estimator parameters``, optional
        Default :func:`default_search_space` for these rows.
    fixed : dict, optional
        Parameters set after the search space's, on every trial.
    seed : int
        Seeds the TPE sampler (and the fits, see ``estimator``): the same call
        gives the same trials (``timeout`` aside, which cuts them by time).
    pruning : bool
        Median pruning after each epoch (needs an estimator with ``callbacks``).
    study : optuna.Study, optional
        Continue this study (its sampler, pruner and storage); default a new one.
    refit : bool
        Fit the best trial's parameters once more on the same rows; that is the
        returned estimator (None with ``refit=False``).

    Returns
    -------
    TuneResult
        ``(estimator, study)``; ``study.best_params`` are the sampled values,
        ``study.trials_dataframe()`` every trial.

    Examples
    --------
    >>> est, study = tune(X, y, estimator=EmbeddingClassifier(cat_cols=["city"]),
    ...                   n_trials=30, eval_set=(X_valid, y_valid))  # doctest: +SKIP
    >>> study.best_params  # doctest: +SKIP
    """
    optuna = require("optuna", "tune", "tune")
    monitor, direction = monitor_of(eval_metric, direction)
    template = _template(estimator, eval_set, eval_metric, seed)
    space = search_space or partial(default_search_space, **_data_shape(template, X))
    fixed = dict(fixed or {})

    def trial_estimator(params: dict[str, Any]) -> EmbeddingModel:
        return clone(template).set_params(**{**params, **fixed})

    def objective(trial) -> float:
        est = trial_estimator(space(trial))
        if pruning and "callbacks" in est.get_params():
            cbs = [*(est.callbacks or ()), OptunaPruning(trial, monitor)]
            est.set_params(callbacks=cbs)
        est.fit(X, y, eval_set=eval_set)
        trial.set_user_attr("epochs_run", len(est.history_))
        return _best(est.history_, monitor, direction)

    if study is None:
        study = optuna.create_study(
            direction=direction,
            sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=_pruner(optuna, pruning),
        )
    elif study.direction.name.lower() != direction:
        raise ValueError(
            f"tune: the study given is set to {study.direction.name.lower()}, but "
            f"{monitor} is to {direction}; pass direction= or a matching study"
        )
    study.optimize(
        objective, n_trials=n_trials, timeout=timeout, catch=(NonFiniteLossError,)
    )
    if not refit:
        return TuneResult(None, study)
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    if not done:
        raise RuntimeError(
            f"tune: none of the study's {len(study.trials)} trials completed "
            "(pruned, failed or cut by timeout); raise n_trials or timeout"
        )
    best = trial_estimator(space(optuna.trial.FixedTrial(study.best_trial.params)))
    return TuneResult(best.fit(X, y, eval_set=eval_set), study)


def _template(estimator, eval_set, eval_metric, seed: int) -> EmbeddingModel:
    """The estimator every trial clones: seeded, validated, with ``eval_metric``."""
    est = clone(estimator) if estimator is not None else EmbeddingModel()
    if est.random_state is None:
        est.set_params(random_state=seed)
    if eval_set is None and est.validation_fraction is None:
        est.set_params(validation_fraction=VALIDATION_FRACTION)
    if eval_metric is not None:  # an estimator without eval_metric refuses it here
        est.set_params(eval_metric=eval_metric)
    return est


def _data_shape(template: EmbeddingModel, X) -> dict[str, Any]:
    """``cardinalities`` and ``n_train`` for :func:`default_search_space`."""
    frame = check_X(clone(template), X, reset=True)
    pre = TabularPreprocessor(
        cat_cols=template.cat_cols, cont_cols=template.cont_cols,
        date_cols=template.date_cols, min_freq=template.min_freq,
    ).fit(frame)  # fmt: skip
    cards = dict(zip(pre.cat_names_, (int(c) for c in pre.cardinalities_)))
    share = 1.0 - (template.validation_fraction or 0.0)
    return {"cardinalities": cards, "n_train": int(len(frame) * share)}


def _pruner(optuna, pruning: bool):
    if not pruning:
        return optuna.pruners.NopPruner()
    # trials are compared from their second epoch on, once 5 trials have finished
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)


def _best(history, monitor: str, direction: Direction) -> float:
    """The best value of the history column ``monitor``: the kept epoch's."""
    if monitor not in history:
        raise ValueError(
            f"tune: the fit's history has no column {monitor!r} to score trials by; "
            f"its columns are {list(history.columns)}"
        )
    values = history[monitor].dropna()
    if values.empty:
        return float("nan")
    return float(values.max() if direction == "maximize" else values.min())
