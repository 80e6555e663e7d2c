"""Out-of-fold target statistics of categorical columns, as extra continuous inputs.

For a categorical column with many levels, the smoothed mean of the target per level
(Micci-Barreca 2001, "A preprocessing scheme for high-cardinality categorical
attributes") is a strong feature -- it is what makes CatBoost good on ID columns
(Prokhorenkova et al. 2018, "CatBoost: unbiased boosting with categorical features").
Computed on the same rows it is then trained on, it leaks each row's own target, so
the training rows get K-fold *out-of-fold* values: a row's statistic comes only from
the rows of the other folds. At predict time the statistics of all training rows are
used. Each statistic is

    (sum of targets of the level + m * prior) / (count of the level + m)

with ``prior`` the mean target (of the same rows) and ``m`` the prior weight. Targets
are the encoded training targets: 0/1 for binary, one column per class (one-hot) for
multiclass, per label for multi-label, the scaled (log-)target for regression. The
outputs are standardized with the mean and std of the out-of-fold values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

N_FOLDS = 5
PRIOR_WEIGHT = 100.0  # a strong prior: weaker ones overfit sparse ID columns (RESULTS)


class TargetStatistics:
    """Smoothed mean-target encoding of integer-coded categorical columns.

    Parameters
    ----------
    columns : list of int
        Positions of the encoded columns among the categorical codes.
    names : list of str
        Their names (for the output feature names).
    cardinalities : list of int
        Code range of each encoded column (codes ``0..card - 1``).
    n_targets : int
        Target columns the statistics are taken of.
    n_folds : int
        Folds of the out-of-fold values on the training rows.
    prior_weight : float
        ``m``: how many rows' worth of the prior each level starts with.

    Examples
    --------
    >>> codes = np.array([[1], [1], [2], [2]])
    >>> ts = TargetStatistics([0], ["shop"], [3], 1, n_folds=2, prior_weight=1.0)
    >>> oof = ts.fit_transform(codes, np.array([[1.0], [1.0], [0.0], [0.0]]), seed=0)
    >>> oof.shape, ts.feature_names()
    ((4, 1), ['shop_te'])
    """

    def __init__(
        self,
        columns: list[int],
        names: list[str],
        cardinalities: list[int],
        n_targets: int,
        n_folds: int = N_FOLDS,
        prior_weight: float = PRIOR_WEIGHT,
    ) -> None:
        if not len(columns) == len(names) == len(cardinalities):
            raise ValueError(
                "columns, names and cardinalities must have one entry each"
            )
        if n_folds < 2:
            raise ValueError(f"n_folds must be >= 2, got {n_folds}")
        self.columns, self.names = list(columns), list(names)
        self.cardinalities = [int(c) for c in cardinalities]
        self.n_targets, self.n_folds = int(n_targets), int(n_folds)
        self.prior_weight = float(prior_weight)

    @property
    def n_features(self) -> int:
        return len(self.columns) * self.n_targets

    def feature_names(self) -> list[str]:
        if self.n_targets == 1:
            return [f"{name}_te" for name in self.names]
        return [f"{n}_te{k}" for n in self.names for k in range(self.n_targets)]

    def fit_transform(
        self, codes: np.ndarray, target: np.ndarray, seed: int
    ) -> np.ndarray:
        """Fit the full-data tables and return the out-of-fold statistics.

        Parameters
        ----------
        codes : int array (n_rows, n_cat)
        target : float array (n_rows, n_targets)
        seed : int
            Seeds the assignment of rows to folds.

        Returns
        -------
        float32 array (n_rows, n_features), standardized.
        """
        target = np.asarray(target, dtype=np.float64).reshape(len(codes), -1)
        if target.shape[1] != self.n_targets:
            raise ValueError(
                f"expected {self.n_targets} target columns, got {target.shape[1]}"
            )
        n = len(codes)
        fold = np.random.default_rng(seed).permutation(n) % self.n_folds
        self.tables_, oof = [], np.empty((n, self.n_features))
        for j, (col, card) in enumerate(zip(self.columns, self.cardinalities)):
            sums, counts = _sums(codes[:, col], target, card)
            self.tables_.append(self._smooth(sums, counts, target.sum(0), n))
            out = oof[:, j * self.n_targets : (j + 1) * self.n_targets]
            for f in range(self.n_folds):
                rows = fold == f
                fs, fc = _sums(codes[rows, col], target[rows], card)
                total = target.sum(0) - target[rows].sum(0)
                table = self._smooth(sums - fs, counts - fc, total, n - rows.sum())
                out[rows] = table[codes[rows, col]]
        self.mean_, std = oof.mean(0), oof.std(0)
        self.std_ = np.where(std > 0, std, 1.0)
        return ((oof - self.mean_) / self.std_).astype(np.float32)

    def _smooth(self, sums, counts, total, n_rows) -> np.ndarray:
        """(card, n_targets) smoothed means; the prior is the mean of the rows used."""
        prior = total / max(n_rows, 1)
        m = self.prior_weight
        return (sums + m * prior) / (counts[:, None] + m)

    def transform(self, codes: np.ndarray) -> np.ndarray:
        """Statistics of all training rows for new rows: (n_rows, n_features)."""
        parts = [t[codes[:, c]] for c, t in zip(self.columns, self.tables_)]
        stats = np.hstack(parts) if parts else np.empty((len(codes), 0))
        return ((stats - self.mean_) / self.std_).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "names": self.names,
            "cardinalities": self.cardinalities,
            "n_targets": self.n_targets,
            "n_folds": self.n_folds,
            "prior_weight": self.prior_weight,
            "tables": [t.tolist() for t in self.tables_],
            "mean": self.mean_.tolist(),
            "std": self.std_.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TargetStatistics:
        obj = cls(
            d["columns"], d["names"], d["cardinalities"], d["n_targets"],
            d["n_folds"], d["prior_weight"],
        )  # fmt: skip
        obj.tables_ = [np.asarray(t, dtype=np.float64) for t in d["tables"]]
        obj.mean_ = np.asarray(d["mean"], dtype=np.float64)
        obj.std_ = np.asarray(d["std"], dtype=np.float64)
        return obj


def _sums(codes: np.ndarray, target: np.ndarray, card: int):
    """Per code: the sums of each target column (card, t) and the row counts."""
    counts = np.bincount(codes, minlength=card).astype(np.float64)
    sums = np.stack(
        [np.bincount(codes, weights=t, minlength=card) for t in target.T], 1
    )
    return sums, counts


def target_columns(target, n_out: int, task: str) -> np.ndarray:
    """The encoded training target as float columns: class indices one-hot."""
    t = np.asarray(target)
    if task == "classification" and n_out > 1:
        return np.eye(n_out)[t.astype(np.int64).ravel()]
    return t.astype(np.float64).reshape(len(t), -1)


__all__ = ["TargetStatistics", "target_columns"]
