"""The label column of a text dataset, read for its task; which options fit a task.

Three tasks: ``classification`` (one label per row, any number of classes: integer
codes ``0..C-1`` in sorted order of the values), ``multilabel`` (a set of labels per
row, given as a list-like or as one string split at ``label_sep``, e.g. ``"a|b"``; an
empty string or list is the empty set: a ``(rows, C)`` 0/1 float32 matrix) and
``regression`` (a number per row: float64). ``auto`` picks classification for
integers and strings, multilabel for list-like values, and refuses what it cannot
tell apart: non-integer numbers (regression, or each value a class?) and strings
holding the separator (several labels, or class names with a ``|`` in them?).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

__all__ = [
    "REGRESSION_LOSSES",
    "TASKS",
    "Task",
    "check_task_options",
    "encode_labels",
    "label_values",
    "resolve_task",
    "split_label_set",
]

Task = Literal["auto", "classification", "multilabel", "regression"]
TASKS = ("classification", "multilabel", "regression")
REGRESSION_LOSSES = ("mse", "smooth_l1")


def _place(where: str, label_col: str | None) -> str:
    """``file, column 'label'`` (or just ``where`` for labels given directly)."""
    return f"{where}, column {label_col!r}" if label_col else where


def _in(label_col: str | None) -> str:
    return f" in column {label_col!r}" if label_col else ""


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))


def _is_listlike(v: Any) -> bool:
    return isinstance(v, (list, tuple, set, frozenset, np.ndarray))


def _number(v: Any) -> float | None:
    """``v`` as a float if it is a number or a string holding one, else None."""
    if isinstance(v, (bool, np.bool_)):
        return None
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def resolve_task(
    task: str, values: Sequence[Any], where: str, label_col: str | None, sep: str = "|"
) -> str:
    """``task`` itself, or for ``"auto"`` the task the label values call for.

    Raises a ValueError naming the column, a row and what to pass when the values
    could mean two tasks.
    """
    if task != "auto":
        if task not in TASKS:
            raise ValueError(f"task must be auto or one of {TASKS}, got {task!r}")
        return task
    present = [(i, v) for i, v in enumerate(values) if not _missing(v)]
    if any(_is_listlike(v) for _, v in present):
        return "multilabel"
    at = _place(where, label_col)
    nums = [(i, _number(v)) for i, v in present]
    if present and all(x is not None and np.isfinite(x) for _, x in nums):
        fractional = [(i, x) for i, x in nums if x != round(x)]
        if fractional:
            i, x = fractional[0]
            n = len({x for _, x in nums})
            raise ValueError(
                f"{at} holds non-integer numbers ({n} distinct values, "
                f"e.g. {x!r} at row {i}); pass --task regression (task='regression') "
                "to predict them as numbers, or --task classification to make each "
                "distinct value a class."
            )
        return "classification"
    if sep:
        for i, v in present:
            if isinstance(v, str) and sep in v:
                raise ValueError(
                    f"{at} has labels holding {sep!r} (row {i}: {v!r}); pass "
                    "--task multilabel (task='multilabel') to split them into "
                    "several labels, or --task classification to keep each string "
                    "as one class."
                )
    return "classification"


def split_label_set(value: Any, sep: str = "|") -> list[Any]:
    """One row's labels: a list-like's items, a string split at ``sep`` (stripped,
    empty parts dropped), or a single scalar label; duplicates once, in order."""
    if isinstance(value, str):
        items = [p.strip() for p in (value.split(sep) if sep else [value])]
        items = [p for p in items if p]
    elif _is_listlike(value):
        items = list(value)
    else:
        items = [value]
    items = [x.item() if isinstance(x, np.generic) else x for x in items]
    return list(dict.fromkeys(items))


def encode_labels(
    values: list[Any],
    rows: np.ndarray,
    where: str,
    label_col: str | None,
    task: str = "classification",
    classes: list[Any] | None = None,
    sep: str = "|",
) -> tuple[np.ndarray, list[Any]]:
    """Labels of ``task`` and their class names (``[]`` for regression).

    ``rows`` gives each value's row number in the file, for the error messages;
    ``classes``: the class names to use (a hub ClassLabel), in order.
    """
    for v, row in zip(values, rows):
        if _missing(v):
            empty = " (an empty label set is '' or [])" if task == "multilabel" else ""
            raise ValueError(
                f"{where}: label missing{_in(label_col)} at row {row}{empty}; "
                "fill or drop unlabelled rows, or pass label_col=None."
            )
    values = [v.item() if isinstance(v, np.generic) else v for v in values]
    if task == "regression":
        return _regression(values, rows, where, label_col), []
    if task == "multilabel":
        return _multilabel(values, rows, where, label_col, classes, sep)
    return _classes(values, where, label_col, classes)


def _regression(values, rows, where, label_col) -> np.ndarray:
    out = np.empty(len(values), np.float64)
    for k, (v, row) in enumerate(zip(values, rows)):
        x = _number(v)
        if x is None or not np.isfinite(x):
            raise ValueError(
                f"{_place(where, label_col)}, row {row}: {v!r} is not a finite "
                "number; task 'regression' needs numeric labels."
            )
        out[k] = x
    return out


def _multilabel(values, rows, where, label_col, classes, sep):
    sets = [split_label_set(v, sep) for v in values]
    if classes is None:
        names = {x for s in sets for x in s}
        if not names:
            raise ValueError(
                f"{_place(where, label_col)} holds no labels at all (every row's "
                "label set is empty); a multi-label classifier needs some."
            )
        classes = _sorted(names, where, label_col)
    index = {c: j for j, c in enumerate(classes)}
    y = np.zeros((len(sets), len(classes)), np.float32)
    for k, (s, row) in enumerate(zip(sets, rows)):
        for x in s:
            if x not in index:
                raise ValueError(
                    f"{_place(where, label_col)}, row {row}: label {x!r} is not one "
                    f"of {classes}"
                )
            y[k, index[x]] = 1.0
    return y, list(classes)


def _sorted(present: set, where: str, label_col: str | None) -> list[Any]:
    try:
        return sorted(present)
    except TypeError:
        kinds = sorted({type(v).__name__ for v in present})
        raise TypeError(
            f"{where}: labels{_in(label_col)} mix types {kinds}; "
            "make them all str or all int."
        ) from None


def _classes(values, where, label_col, classes) -> tuple[np.ndarray, list[Any]]:
    try:
        present = set(values)
    except TypeError:
        kinds = sorted({type(v).__name__ for v in values})
        raise TypeError(
            f"{where}: labels{_in(label_col)} must be str or int, got "
            f"{kinds}; convert the column (or pass --task multilabel for lists)."
        ) from None
    if classes is None:
        classes = _sorted(present, where, label_col)
    if len(present) < 2:
        raise ValueError(
            f"{_place(where, label_col)} has {len(present)} distinct label(s) "
            f"{sorted(present, key=str)}; a classifier needs two or more classes."
        )
    index = {c: i for i, c in enumerate(classes)}
    return np.fromiter((index[v] for v in values), np.int64, len(values)), classes


def label_values(labels: np.ndarray, classes: list[Any], task: str) -> list[Any]:
    """The original label of each row (a list of names for multilabel): the inverse
    of :func:`encode_labels`, to re-encode several files' labels together."""
    if task == "regression":
        return labels.tolist()
    if task == "multilabel":
        return [[classes[j] for j in np.flatnonzero(row)] for row in labels]
    return [classes[i] for i in labels]


def check_task_options(
    task: str, class_weight: Any = None, regression_loss: str | None = None
) -> None:
    """Refuse option combinations that do not fit ``task`` ("auto" allowed: only
    what no resolved task could take is refused then), with what to change."""
    if task != "auto" and task not in TASKS:
        raise ValueError(f"task must be auto or one of {TASKS}, got {task!r}")
    if class_weight is not None:
        if task in ("multilabel", "regression"):
            raise ValueError(
                "class weights (--class-weight, class_weight=) weight the "
                f"cross-entropy of single-label classification; task {task!r} has "
                "none: drop them"
            )
        if isinstance(class_weight, dict):
            bad = {k: w for k, w in class_weight.items() if not _positive(w)}
            if bad:
                raise ValueError(
                    f"class_weight values must be finite numbers > 0, got {bad}"
                )
        elif class_weight != "balanced":
            raise ValueError(
                "class_weight must be None, 'balanced' or a dict {class: weight}, "
                f"got {class_weight!r}"
            )
    if regression_loss is not None:
        if task in ("classification", "multilabel"):
            raise ValueError(
                f"--regression-loss (regression_loss=) is for task 'regression', "
                f"not {task!r}: drop it or pass --task regression"
            )
        if regression_loss not in REGRESSION_LOSSES:
            raise ValueError(
                f"regression loss must be one of {REGRESSION_LOSSES}, got "
                f"{regression_loss!r}"
            )


def _positive(w: Any) -> bool:
    return (
        isinstance(w, (int, float, np.integer, np.floating))
        and not isinstance(w, bool)
        and bool(np.isfinite(w))
        and w > 0
    )
