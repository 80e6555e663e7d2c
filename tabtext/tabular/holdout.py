"""Which rows validate a fit: ``eval_set``, or a seeded ``validation_fraction`` --
of the rows in memory (stratified for classification), or of a parquet dataset's
row groups."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from .parquet_source import ParquetDataset
from .tasks import as_target_array
from .training import fit_seed
from .validation import check_X


def split_rows(est, frame: pd.DataFrame, y: np.ndarray, eval_set):
    """``(frame, y, valid)``: the training rows and ``(X, y)`` that validate, or None."""
    if eval_set is not None:
        Xv, yv = eval_set
        fv = check_X(est, Xv, reset=False)
        return frame, y, (fv, as_target_array(yv, len(fv)))
    if est.validation_fraction is None:
        return frame, y, None
    strat = y if est.task_ == "classification" else None
    try:
        ft, fv, yt, yv = train_test_split(
            frame,
            y,
            test_size=est.validation_fraction,
            stratify=strat,
            random_state=fit_seed(est),
        )
    except ValueError:  # a class too rare to stratify: fall back to a random split
        ft, fv, yt, yv = train_test_split(
            frame, y, test_size=est.validation_fraction, random_state=fit_seed(est)
        )
    return ft, yt, (fv, yv)


def split_row_groups(est, data: ParquetDataset, eval_set, seed: int):
    """Training row groups, and what validates: None, (X, y) or (dataset, groups)."""
    if isinstance(eval_set, (str, Path)):
        ev = ParquetDataset(eval_set, data.target, data.columns)
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
