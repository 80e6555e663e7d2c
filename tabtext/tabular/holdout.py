"""Which rows train and which validate a fit: rows weighed 0 are left out, and
``eval_set`` or a seeded ``validation_fraction`` -- of the rows in memory
(stratified for classification), or of a parquet dataset's row groups -- validate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from .parquet_source import ParquetDataset
from .tasks import as_target_array
from .training import fit_seed
from .validation import check_sample_weight, check_X


def weighted_rows(frame: pd.DataFrame, y: np.ndarray, weight: np.ndarray | None):
    """``(frame, y, weight)`` without the rows weighed 0, so that they are as if
    they were not given (also to the preprocessing); ``weight`` is None when the
    remaining weights are all equal, since only their ratios count."""
    if weight is None:
        return frame, y, None
    keep = weight > 0
    if not keep.all():
        frame, y, weight = frame[keep], y[keep], weight[keep]
    return frame, y, (None if (weight == weight[0]).all() else weight)


def split_rows(est, frame: pd.DataFrame, y: np.ndarray, weight, eval_set):
    """``(frame, y, weight, valid)``: the training rows (and their weights, or None)
    and ``(X, y, weight or None)`` that validate, or None."""
    if eval_set is not None:
        Xv, yv, *wv = _eval_tuple(eval_set)
        fv = check_X(est, Xv, reset=False)
        wv = check_sample_weight(wv[0], len(fv), "eval_set's weights") if wv else None
        return frame, y, weight, (fv, as_target_array(yv, len(fv)), wv)
    if est.validation_fraction is None:
        return frame, y, weight, None
    strat = y if est.task_ == "classification" else None
    arrays = [frame, y] + ([] if weight is None else [weight])
    try:
        parts = train_test_split(
            *arrays,
            test_size=est.validation_fraction,
            stratify=strat,
            random_state=fit_seed(est),
        )
    except ValueError:  # a class too rare to stratify: fall back to a random split
        parts = train_test_split(
            *arrays, test_size=est.validation_fraction, random_state=fit_seed(est)
        )
    ft, fv, yt, yv = parts[:4]
    wt, wv = (None, None) if weight is None else parts[4:]
    return ft, yt, wt, (fv, yv, wv)


def _eval_tuple(eval_set) -> tuple:
    if not isinstance(eval_set, (tuple, list)) or len(eval_set) not in (2, 3):
        raise ValueError(
            "eval_set must be (X, y) or (X, y, sample_weight), got "
            f"{type(eval_set).__name__}"
            + (
                f" of length {len(eval_set)}"
                if isinstance(eval_set, (tuple, list))
                else ""
            )
        )
    return tuple(eval_set)


def split_row_groups(est, data: ParquetDataset, eval_set, seed: int):
    """Training row groups, and what validates: None, (X, y) or (dataset, groups)."""
    if isinstance(eval_set, (str, Path)):
        ev = ParquetDataset(eval_set, data.target, data.columns, data.weight)
        return data.row_groups, (ev, ev.row_groups)
    if eval_set is not None or est.validation_fraction is None:
        return data.row_groups, eval_set
    groups = data.row_groups
    if len(groups) < 2:
        raise ValueError(
            f"validation_fraction holds out whole row groups, and {str(data.path)!r} "
            "has only 1; write it with smaller row groups (row_group_size=...) or "
            "pass eval_set"
        )
    n_valid = min(len(groups) - 1, max(1, round(est.validation_fraction * len(groups))))
    held = set(np.random.default_rng(seed).permutation(len(groups))[:n_valid].tolist())
    train = [g for i, g in enumerate(groups) if i not in held]
    return train, (data, [g for i, g in enumerate(groups) if i in held])
