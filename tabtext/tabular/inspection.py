"""What a fitted table model relies on, as pictures: permutation importance and partial
dependence, computed by scikit-learn's own ``sklearn.inspection`` (Breiman 2001 for
permutation importance, Friedman 2001 for partial dependence) and drawn as PNGs.

Both work with any fitted scikit-learn estimator; for an :class:`EmbeddingModel` the
columns it embeds are passed to scikit-learn as categorical, so that their partial
dependence is taken over their categories (scikit-learn cannot tell that from a
fitted model by itself).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.recorder import save_fig

__all__ = [
    "categorical_columns",
    "plot_partial_dependence",
    "plot_permutation_importance",
]


def plot_permutation_importance(
    estimator,
    X,
    y,
    path: str | Path,
    n_repeats: int = 5,
    scoring: Any = None,
    random_state: int | None = 0,
    max_features: int = 30,
    n_jobs: int | None = None,
) -> pd.DataFrame:
    """Permutation importance of each column, with a bar chart (mean ± std).

    Each column of ``X`` is shuffled ``n_repeats`` times and the drop of the score
    recorded (``sklearn.inspection.permutation_importance``); use held-out rows, on
    training rows it measures what the model memorised too.

    Parameters
    ----------
    estimator : fitted estimator
    X : DataFrame or array of shape (n_samples, n_features)
    y : array-like
    path : str or Path
        The PNG to write (atomically).
    n_repeats : int
        Shuffles per column.
    scoring : str, callable or None
        As in scikit-learn; None uses ``estimator.score`` (accuracy, R^2).
    random_state : int or None
        Seeds the shuffles.
    max_features : int
        The chart shows at most this many columns, the most important ones.
    n_jobs : int, optional
        Parallel jobs of scikit-learn (each refits nothing, but predicts).

    Returns
    -------
    DataFrame
        Indexed by column, most important first: ``importance_mean``,
        ``importance_std`` and one ``repeat_i`` column per shuffle.

    Examples
    --------
    >>> imp = plot_permutation_importance(est, X_valid, y_valid, "imp.png")  # doctest: +SKIP
    >>> imp["importance_mean"].head()  # doctest: +SKIP
    """
    from sklearn.inspection import permutation_importance

    if not isinstance(n_repeats, int) or n_repeats < 1:
        raise ValueError(f"n_repeats must be an int >= 1, got {n_repeats!r}")
    res = permutation_importance(
        estimator, X, y, scoring=scoring, n_repeats=n_repeats,
        random_state=random_state, n_jobs=n_jobs,
    )  # fmt: skip
    table = pd.DataFrame(
        res.importances,
        index=pd.Index(_column_names(estimator, X), name="feature"),
        columns=[f"repeat_{i}" for i in range(n_repeats)],
    )
    table.insert(0, "importance_std", res.importances_std)
    table.insert(0, "importance_mean", res.importances_mean)
    table = table.sort_values("importance_mean", ascending=False, kind="stable")
    _bar_chart(table.head(max_features), _score_name(estimator, scoring), path)
    return table


def _bar_chart(table: pd.DataFrame, score: str, path: str | Path) -> Path:
    from matplotlib.figure import Figure

    shown = table.iloc[::-1]  # matplotlib draws the first bar at the bottom
    fig = Figure(figsize=(7, 1.2 + 0.32 * len(shown)))
    ax = fig.subplots()
    ax.barh(
        [str(i) for i in shown.index],
        shown["importance_mean"].to_numpy(),
        xerr=shown["importance_std"].to_numpy(),
        color="#4c72b0",
        ecolor="#333333",
        capsize=3,
    )
    ax.axvline(0, color="#999999", linewidth=0.8)
    ax.set(
        xlabel=f"drop in {score} when the column is shuffled (mean ± std)",
        title="permutation importance",
    )
    return save_fig(fig, path)


def plot_partial_dependence(
    estimator,
    X,
    features: Sequence[Any],
    path: str | Path,
    categorical_features: Sequence[Any] | str | None = "auto",
    n_cols: int = 3,
    grid_resolution: int = 20,
    **kwargs: Any,
):
    """Partial dependence plots of ``features``, written as one PNG.

    A thin wrapper of ``sklearn.inspection.PartialDependenceDisplay.from_estimator``
    that draws on its own figure and knows which columns are categorical.

    Parameters
    ----------
    estimator : fitted estimator
    X : DataFrame or array
        The rows the dependence is averaged over (a sample of a few hundred to a
        few thousand is plenty: each grid value predicts all of them).
    features : list
        Column names (or indices); a pair ``(a, b)`` gives a 2-D plot.
    path : str or Path
        The PNG to write (atomically).
    categorical_features : "auto", list or None
        "auto": the columns an :class:`EmbeddingModel` embeds, or for another
        estimator the columns of ``X`` of object, string, category or bool
        dtype (see :func:`categorical_columns`); a list is passed on as given.
    n_cols : int
        Plots per row.
    grid_resolution : int
        Grid values per continuous feature (scikit-learn's default is 100). Each
        one costs a ``predict`` over all of ``X``, and a pair costs the square.
    **kwargs
        Passed to ``from_estimator`` (``kind="both"``, ``target=`` for a
        multiclass model, ``grid_resolution=`` ...).

    Returns
    -------
    sklearn.inspection.PartialDependenceDisplay
        Its ``pd_results`` hold the computed curves.

    Examples
    --------
    >>> plot_partial_dependence(est, X_valid, ["Promo", "CompetitionDistance"],
    ...                         "pd.png")  # doctest: +SKIP
    """
    from matplotlib.figure import Figure
    from sklearn.inspection import PartialDependenceDisplay

    features = list(features)
    if not features:
        raise ValueError("features is empty: name at least one column to plot")
    _refuse_dates(X, features)
    if isinstance(categorical_features, str):
        if categorical_features != "auto":
            raise ValueError(
                f"categorical_features must be 'auto', a list or None, got "
                f"{categorical_features!r}"
            )
        categorical_features = categorical_columns(estimator, X)
    n_cols = max(1, min(n_cols, len(features)))
    n_rows = math.ceil(len(features) / n_cols)
    fig = Figure(figsize=(4.2 * n_cols, 3.6 * n_rows))
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    for ax in axes[len(features) :]:
        ax.set_visible(False)
    display = PartialDependenceDisplay.from_estimator(
        estimator, X, features, ax=axes[: len(features)],
        categorical_features=categorical_features or None,
        grid_resolution=grid_resolution, **kwargs,
    )  # fmt: skip
    _label_bool_bars(display, axes[: len(features)])
    save_fig(fig, path)
    return display


def _label_bool_bars(display, axes) -> None:
    """scikit-learn draws a bool column's bars at x = 0 and 1 on a numeric axis:
    name them False and True instead."""
    for ax, result in zip(axes, display.pd_results, strict=True):
        grid = result["grid_values"]
        if len(grid) == 1 and np.asarray(grid[0]).dtype == bool:
            ax.set_xticks([int(v) for v in grid[0]], [str(v) for v in grid[0]])
            ax.tick_params(axis="x", rotation=0)


def categorical_columns(estimator, X) -> list[Any]:
    """The columns of ``X`` to treat as categorical in ``sklearn.inspection``.

    For a fitted :class:`EmbeddingModel` (or a pipeline ending in one): the input
    columns it embeds (by dtype or ``cat_cols``); otherwise the columns of object,
    string, category or bool dtype of a DataFrame (none for an array).
    """
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    pre = getattr(final, "preprocessor_", None)
    names = _column_names(estimator, X)
    if pre is not None and getattr(final, "input_columns_", None) is not None:
        cats = set(pre.input_cat_cols_)
        # an array's columns are named as at fit: map those names to X's positions
        return [
            n for n, c in zip(names, final.input_columns_, strict=False) if c in cats
        ]
    if not isinstance(X, pd.DataFrame):
        return []
    return [
        c
        for c in X.columns
        if X[c].dtype == object
        or isinstance(X[c].dtype, (pd.CategoricalDtype, pd.StringDtype))
        or pd.api.types.is_bool_dtype(X[c])
    ]


def _column_names(estimator, X) -> list[Any]:
    if isinstance(X, pd.DataFrame):
        return list(X.columns)
    names = getattr(estimator, "feature_names_in_", None)
    n = np.shape(X)[1]
    if names is not None and len(names) == n:
        return list(names)
    return list(range(n))


def _refuse_dates(X, features: list) -> None:
    if not isinstance(X, pd.DataFrame):
        return
    for f in features:
        for col in f if isinstance(f, (tuple, list)) else (f,):
            if col in X.columns and pd.api.types.is_datetime64_any_dtype(X[col]):
                raise ValueError(
                    f"partial dependence over the datetime column {col!r} is not "
                    "supported: scikit-learn cannot make a grid of dates; plot a "
                    "numeric column derived from it (e.g. the month) instead"
                )


def _score_name(estimator, scoring) -> str:
    from sklearn.base import is_classifier, is_regressor

    if isinstance(scoring, str):
        return scoring
    if scoring is not None:
        return "score"
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    task = getattr(final, "task_", None)
    if is_regressor(final) or task == "regression":
        return "R^2"
    if is_classifier(final) or task in ("classification", "multilabel"):
        return "accuracy"
    return "score"
