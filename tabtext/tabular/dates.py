"""Date expansion: one datetime column becomes year, month, ..., elapsed seconds.

The calendar parts follow fast.ai's ``add_datepart``; treating them as categorical
features with their own embeddings is what Guo & Berkhahn (2016), "Entity Embeddings
of Categorical Variables", did on Rossmann (year, month, day, day of week, ...).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pandas.api.types import (
    is_datetime64_any_dtype,
    is_object_dtype,
    is_string_dtype,
)
from sklearn.utils.validation import check_is_fitted

from tabtext.tabular._frame import FrameTransformer, column_list, require_columns

DATE_PARTS: tuple[str, ...] = (
    "year",
    "month",
    "week",
    "day",
    "dayofweek",
    "dayofyear",
    "is_month_start",
    "is_month_end",
    "is_quarter_start",
    "is_quarter_end",
    "is_year_start",
    "is_year_end",
    "elapsed",
)
CONTINUOUS_PARTS: frozenset[str] = frozenset({"elapsed"})
CATEGORICAL_PARTS: frozenset[str] = frozenset(DATE_PARTS) - CONTINUOUS_PARTS
_PANDAS_NAMES = {"dayofweek": "day_of_week", "dayofyear": "day_of_year"}


def to_datetime(column: pd.Series, name: str) -> pd.Series:
    """The column as datetime64: kept if it is one, parsed if it holds strings.

    Raises ValueError naming the column, the first value that does not parse and its
    row; TypeError for other dtypes (numbers are not guessed to be timestamps).
    """
    if is_datetime64_any_dtype(column.dtype):
        return column
    if not (is_object_dtype(column.dtype) or is_string_dtype(column.dtype)):
        raise TypeError(
            f"date column {name!r} has dtype {column.dtype}; expected datetime64 or "
            "strings. Convert it with pd.to_datetime(...) first"
        )
    parsed = pd.to_datetime(column, errors="coerce")
    bad = parsed.isna().to_numpy() & column.notna().to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"date column {name!r}: cannot parse {column.iloc[pos]!r} at row "
            f"{column.index[pos]!r} as a date ({int(bad.sum())} values fail). Convert "
            "the column with pd.to_datetime(..., format=...) before fitting"
        )
    return parsed


def _as_floats(values: Any) -> np.ndarray:
    return pd.Series(values).to_numpy(dtype=np.float64, na_value=np.nan)


def expand_dates(dates: pd.Series, parts: Iterable[str]) -> dict[str, np.ndarray]:
    """Calendar parts of a datetime64 Series, each a float64 array (NaT -> NaN).

    Flags (``is_month_end`` ...) are 0.0/1.0; ``dayofweek`` is 0 for Monday; ``week``
    is the ISO week; ``elapsed`` is seconds since 1970-01-01 (UTC for tz-aware data).
    """
    dt = dates.dt
    nat = dates.isna().to_numpy()
    out: dict[str, np.ndarray] = {}
    for part in parts:
        if part == "week":
            values = _as_floats(dt.isocalendar()["week"])
        elif part == "elapsed":
            epoch = pd.Timestamp(0, tz=dt.tz)
            values = _as_floats((dates - epoch).dt.total_seconds())
        else:
            values = _as_floats(getattr(dt, _PANDAS_NAMES.get(part, part)))
        if part.startswith("is_"):
            values[nat] = np.nan  # pandas says False for NaT; unknown is honest
        out[part] = values
    return out


class DateExpander(FrameTransformer):
    """Expand datetime columns into calendar parts.

    Each date column ``c`` becomes ``c_year, c_month, c_week, c_day, c_dayofweek,
    c_dayofyear, c_is_month_start, c_is_month_end, c_is_quarter_start,
    c_is_quarter_end, c_is_year_start, c_is_year_end, c_elapsed`` (those in
    ``parts``), appended after the other columns. All parts are float64 so that a
    missing date (NaT) gives NaN parts and the dtype never depends on the data;
    flags are 0.0/1.0. Which parts are categorical is given by
    ``DateExpander.categorical_parts`` (every part but ``elapsed``), and per fitted
    column by ``categorical_names_`` / ``continuous_names_``.

    Parameters
    ----------
    date_cols : list of str or None
        Columns to expand. ``None``: every datetime64 column (tz-aware included).
        Named columns may also hold date strings; they are parsed with
        ``pd.to_datetime`` and a value that fails raises a ValueError naming it.
    parts : sequence of str
        Parts to produce, a subset of ``DATE_PARTS``.
    drop : bool
        Drop the original date columns from the output.

    Attributes
    ----------
    date_cols_ : list of str
    categorical_names_, continuous_names_ : list of str
        Output part columns by role.

    Examples
    --------
    >>> X = pd.DataFrame({"d": pd.to_datetime(["2015-07-31"])})
    >>> DateExpander(parts=("year", "dayofweek")).fit_transform(X)
       d_year  d_dayofweek
    0  2015.0          4.0
    """

    categorical_parts: ClassVar[frozenset[str]] = CATEGORICAL_PARTS
    continuous_parts: ClassVar[frozenset[str]] = CONTINUOUS_PARTS

    def __init__(
        self,
        date_cols: list[str] | None = None,
        parts: tuple[str, ...] = DATE_PARTS,
        drop: bool = True,
    ) -> None:
        self.date_cols = date_cols
        self.parts = parts
        self.drop = drop

    def fit(self, X: Any, y: Any = None) -> DateExpander:
        """Find the date columns and check that they parse.

        Parameters
        ----------
        X : DataFrame or 2-D array
        y : ignored

        Returns
        -------
        self
        """
        frame = self._start_fit(X)
        parts = self._check_parts()
        named = column_list(self.date_cols, "date_cols")
        if named is None:
            named = [c for c in frame.columns if is_datetime64_any_dtype(frame[c])]
        require_columns(frame, named, "date_cols")
        for name in named:
            to_datetime(frame[name], name)
        self.date_cols_ = named
        self._set_names(parts)
        kept = set(self._kept_inputs())
        clash = [c for c in self._part_names() if c in kept]
        if clash:
            raise ValueError(
                f"DateExpander.fit: output columns {clash} already exist in X; "
                "rename those columns or pass drop=True"
            )
        return self

    def _check_parts(self) -> list[str]:
        parts = column_list(self.parts, "parts")
        unknown = [p for p in parts if p not in DATE_PARTS]
        if unknown or not parts:
            raise ValueError(
                f"parts {unknown or parts} are not valid; choose a non-empty subset "
                f"of {list(DATE_PARTS)}"
            )
        return parts

    def _set_names(self, parts: list[str]) -> None:
        self.categorical_names_ = [
            f"{c}_{p}" for c in self.date_cols_ for p in parts if p in CATEGORICAL_PARTS
        ]
        self.continuous_names_ = [
            f"{c}_{p}" for c in self.date_cols_ for p in parts if p in CONTINUOUS_PARTS
        ]

    def _part_names(self) -> list[str]:
        return [f"{c}_{p}" for c in self.date_cols_ for p in self.parts]

    def _kept_inputs(self) -> list[str]:
        dates = set(self.date_cols_) if self.drop else set()
        return [c for c in self.feature_names_in_ if c not in dates]

    def _output_names(self) -> list[str]:
        return self._kept_inputs() + self._part_names()

    def transform(self, X: Any) -> pd.DataFrame:
        """Expand the fitted date columns.

        Parameters
        ----------
        X : DataFrame or 2-D array
            Must contain the columns seen at fit; extra columns are dropped.

        Returns
        -------
        DataFrame
            Columns ``get_feature_names_out()``, same index as ``X``.
        """
        frame = self._start_transform(X)
        out = {c: frame[c] for c in self._kept_inputs()}
        for name in self.date_cols_:
            dates = to_datetime(frame[name], name)
            for part, values in expand_dates(dates, self.parts).items():
                out[f"{name}_{part}"] = values
        return pd.DataFrame(out, index=frame.index)

    def to_dict(self) -> dict[str, Any]:
        """The fitted state as a JSON-serialisable dict (see :meth:`from_dict`)."""
        check_is_fitted(self)
        return {**self._header(), "date_cols": list(self.date_cols_)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DateExpander:
        """Rebuild a fitted DateExpander from :meth:`to_dict` output."""
        obj = cls._from_header(d)
        obj.date_cols_ = list(d["date_cols"])
        obj._set_names(obj._check_parts())
        return obj
