"""Continuous columns: fill missing values (with indicators) and standardize.

These are fast.ai's ``FillMissing`` and ``Normalize`` as scikit-learn transformers.
Unlike fast.ai, a NaN that first appears at predict time in a column that had none in
training is filled rather than rejected.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from tabtext.tabular._frame import (
    FrameTransformer,
    as_float,
    column_list,
    is_numberlike,
    require_columns,
)

logger = logging.getLogger(__name__)


def finite_stat(fn: Any, finite: np.ndarray) -> float:
    """``fn(finite)`` (mean, median, std) that never overflows to inf.

    Values near the float64 limit (``1e308``) overflow the sums inside ``np.mean`` or
    the midpoint of ``np.median``; those are recomputed on the values scaled by their
    largest magnitude, whose statistic is at most 1, then scaled back.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        stat = float(fn(finite))
        if math.isfinite(stat):
            return stat
        scale = float(np.abs(finite).max())
        return float(fn(finite / scale)) * scale


def _numeric_cols(frame: pd.DataFrame, cols: Any) -> list[str]:
    """The named columns, or every int/float column (not bool) when ``cols`` is None."""
    named = column_list(cols, "cols")
    if named is None:
        return [c for c in frame.columns if is_numberlike(frame[c].dtype)]
    require_columns(frame, named, "cols")
    return named


class FillMissing(FrameTransformer):
    """Fill NaN, None and +/-inf in numeric columns with a training statistic.

    For each column that had missing values in training, a ``<col>_na`` boolean
    indicator is appended (after all other columns). A value missing at transform
    time in a column that had none in training is filled too, but gets no indicator:
    the set of output columns is fixed at fit, so shapes never change at predict.

    Parameters
    ----------
    cols : list of str or None
        Columns to fill; ``None`` means every int/float column (bool excluded).
        Other columns pass through unchanged.
    add_indicator : bool
        Append ``<col>_na`` columns for the columns that had missing values in fit.
    strategy : {"median", "mean"}
        Statistic of the finite training values used as the fill value.

    Attributes
    ----------
    fill_values_ : dict of str to float
    indicator_cols_ : list of str
        Columns that get a ``<col>_na`` indicator.

    Notes
    -----
    Filled columns are returned as float64. A column with no finite value in training
    is filled with 0.0 and a warning is logged.

    Examples
    --------
    >>> X = pd.DataFrame({"a": [1.0, np.nan, 3.0]})
    >>> FillMissing().fit_transform(X)
         a   a_na
    0  1.0  False
    1  2.0   True
    2  3.0  False
    """

    def __init__(
        self,
        cols: list[str] | None = None,
        add_indicator: bool = True,
        strategy: Literal["median", "mean"] = "median",
    ) -> None:
        self.cols = cols
        self.add_indicator = add_indicator
        self.strategy = strategy

    def fit(self, X: Any, y: Any = None) -> FillMissing:
        """Learn the fill value of each column and which columns had gaps.

        Parameters
        ----------
        X : DataFrame or 2-D array
        y : ignored

        Returns
        -------
        self
        """
        frame = self._start_fit(X)
        if self.strategy not in ("median", "mean"):
            raise ValueError(
                f"strategy must be 'median' or 'mean', got {self.strategy!r}"
            )
        self.fill_values_: dict[str, float] = {}
        self.indicator_cols_: list[str] = []
        for name in _numeric_cols(frame, self.cols):
            values = as_float(frame[name], name)
            finite = np.isfinite(values)
            self.fill_values_[name] = self._statistic(values[finite], name)
            if self.add_indicator and not finite.all():
                self.indicator_cols_.append(name)
        clash = [n for n in self._indicator_names() if n in frame.columns]
        if clash:
            raise ValueError(
                f"FillMissing.fit: indicator columns {clash} already exist in X; "
                "rename those columns or use add_indicator=False"
            )
        return self

    def _statistic(self, finite: np.ndarray, name: str) -> float:
        if finite.size == 0:
            logger.warning(
                "FillMissing: column %r has no finite value in training; "
                "its missing values will be filled with 0.0",
                name,
            )
            return 0.0
        return finite_stat(np.median if self.strategy == "median" else np.mean, finite)

    def _indicator_names(self) -> list[str]:
        return [f"{c}_na" for c in self.indicator_cols_]

    def _output_names(self) -> list[str]:
        return list(self.feature_names_in_) + self._indicator_names()

    def _fill_column(
        self, column: pd.Series, name: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """The filled float64 values of one column and its missing mask."""
        values = as_float(column, name)
        missing = ~np.isfinite(values)
        return np.where(missing, self.fill_values_[name], values), missing

    def transform(self, X: Any) -> pd.DataFrame:
        """Fill missing values and append the indicators.

        Parameters
        ----------
        X : DataFrame or 2-D array
            Must contain the columns seen at fit (any order); extra ones are dropped.

        Returns
        -------
        DataFrame
            Columns ``get_feature_names_out()``, same index as ``X``.
        """
        frame = self._start_transform(X)
        out: dict[str, Any] = {}
        masks: dict[str, np.ndarray] = {}
        for name in self.feature_names_in_:
            if name in self.fill_values_:
                out[name], masks[name] = self._fill_column(frame[name], name)
            else:
                out[name] = frame[name]
        for name in self.indicator_cols_:
            out[f"{name}_na"] = masks[name]
        return pd.DataFrame(out, index=frame.index)

    def to_dict(self) -> dict[str, Any]:
        """The fitted state as a JSON-serialisable dict (see :meth:`from_dict`)."""
        check_is_fitted(self)
        return {
            **self._header(),
            "fill_values": dict(self.fill_values_),
            "indicator_cols": list(self.indicator_cols_),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FillMissing:
        """Rebuild a fitted FillMissing from :meth:`to_dict` output."""
        obj = cls._from_header(d)
        obj.fill_values_ = {c: float(v) for c, v in d["fill_values"].items()}
        obj.indicator_cols_ = list(d["indicator_cols"])
        return obj


class Standardize(FrameTransformer):
    """Scale numeric columns to zero mean and unit variance using training statistics.

    Mean and standard deviation (ddof=0) are computed over the finite training
    values, without overflow even near the float64 limit; a constant or empty column
    gets std 1 so it maps to 0, not NaN.
    Missing values stay missing: fill them first (:class:`FillMissing`).

    Parameters
    ----------
    cols : list of str or None
        Columns to scale; ``None`` means every int/float column (bool excluded).

    Attributes
    ----------
    means_, stds_ : dict of str to float

    Examples
    --------
    >>> Standardize().fit_transform(pd.DataFrame({"a": [1.0, 3.0]}))
         a
    0 -1.0
    1  1.0
    """

    def __init__(self, cols: list[str] | None = None) -> None:
        self.cols = cols

    def fit(self, X: Any, y: Any = None) -> Standardize:
        """Learn mean and standard deviation of each column.

        Parameters
        ----------
        X : DataFrame or 2-D array
        y : ignored

        Returns
        -------
        self
        """
        frame = self._start_fit(X)
        self.means_: dict[str, float] = {}
        self.stds_: dict[str, float] = {}
        for name in _numeric_cols(frame, self.cols):
            values = as_float(frame[name], name)
            finite = values[np.isfinite(values)]
            mean = finite_stat(np.mean, finite) if finite.size else 0.0
            std = finite_stat(np.std, finite) if finite.size else 0.0
            self.means_[name] = mean
            self.stds_[name] = std if std > 0 else 1.0
        return self

    def _scale_column(self, column: pd.Series, name: str) -> np.ndarray:
        """Standardized float64 values of one column (+/-inf where they overflow)."""
        with np.errstate(over="ignore"):
            return (as_float(column, name) - self.means_[name]) / self.stds_[name]

    def transform(self, X: Any) -> pd.DataFrame:
        """Standardize the fitted columns (returned as float64).

        Parameters
        ----------
        X : DataFrame or 2-D array
            Must contain the columns seen at fit (any order); extra ones are dropped.

        Returns
        -------
        DataFrame
        """
        frame = self._start_transform(X)
        out = {
            c: self._scale_column(frame[c], c) if c in self.means_ else frame[c]
            for c in self.feature_names_in_
        }
        return pd.DataFrame(out, index=frame.index)

    def to_dict(self) -> dict[str, Any]:
        """The fitted state as a JSON-serialisable dict (see :meth:`from_dict`)."""
        check_is_fitted(self)
        return {**self._header(), "means": self.means_, "stds": self.stds_}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Standardize:
        """Rebuild a fitted Standardize from :meth:`to_dict` output."""
        obj = cls._from_header(d)
        obj.means_ = {c: float(v) for c, v in d["means"].items()}
        obj.stds_ = {c: float(v) for c, v in d["stds"].items()}
        return obj
