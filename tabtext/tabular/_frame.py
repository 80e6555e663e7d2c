"""Shared input handling for the tabular transformers.

Every transformer in :mod:`tabtext.tabular.preprocessing` takes a DataFrame (or a 2-D
numpy array) and selects its columns by name. This module holds the common checks:
what counts as a table, how column names are normalised (always ``str``), how a
fitted transformer finds its columns again at transform time, and the small base
class that gives each transformer ``feature_names_in_``, ``get_feature_names_out``
and the JSON header of ``to_dict``.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_complex_dtype,
    is_numeric_dtype,
    is_object_dtype,
    is_string_dtype,
)
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

FORMAT_VERSION = 1


def default_names(n: int) -> list[str]:
    """Column names given to the columns of a numpy array: ``x0, x1, ...``."""
    return [f"x{i}" for i in range(n)]


def _array_frame(X: Any, where: str) -> pd.DataFrame:
    """A 2-D array-like as a DataFrame with columns ``x0, x1, ...``."""
    if hasattr(X, "tocsr") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(
            f"{where}: sparse input is not supported; pass a DataFrame or a dense "
            "array (X.toarray())"
        )
    if not (hasattr(X, "__array__") or isinstance(X, (list, tuple))):
        raise TypeError(
            f"{where}: expected a pandas DataFrame or a 2-D numpy array, got "
            f"{type(X).__name__}; convert it with pd.DataFrame(...)"
        )
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(
            f"{where}: expected a 2-D array (rows, columns), got shape {X.shape}. "
            "Reshape your data with X.reshape(-1, 1) for a single feature"
        )
    return pd.DataFrame(X, columns=default_names(X.shape[1]))


def as_frame(X: Any, where: str) -> tuple[pd.DataFrame, bool]:
    """Return ``X`` as a DataFrame with ``str`` column names, and whether it had names.

    Non-string column names are converted with ``str`` (``0`` becomes ``"0"``), so a
    DataFrame built from an array without names works and keeps working at predict
    time. A numpy array (or other 2-D array-like) gets the names ``x0, x1, ...``.
    """
    if isinstance(X, pd.DataFrame):
        names = [c if isinstance(c, str) else str(c) for c in X.columns]
        frame = X if names == list(X.columns) else X.set_axis(names, axis=1)
        named = True
    else:
        frame, named = _array_frame(X, where), False
    dups = sorted(name for name, k in Counter(frame.columns).items() if k > 1)
    if dups:
        raise ValueError(
            f"{where}: duplicated column names {dups} (after converting names to "
            "str); give every column a unique name"
        )
    if frame.shape[0] == 0:
        raise ValueError(f"{where}: X has 0 rows; need at least one row")
    if frame.shape[1] == 0:
        raise ValueError(
            f"{where}: X has 0 feature(s) (shape={frame.shape}) while a minimum of "
            "1 is required; pass at least one column"
        )
    complex_cols = [c for c, dt in frame.dtypes.items() if is_complex_dtype(dt)]
    if complex_cols:
        raise ValueError(
            f"{where}: Complex data not supported (columns {complex_cols}); "
            "split it into real and imaginary columns"
        )
    return frame, named


def select_input(X: Any, expected: list[str], where: str) -> pd.DataFrame:
    """Check ``X`` at transform time against the columns seen at fit.

    A DataFrame is matched by name: every expected column must be present (in any
    order); extra columns are ignored. A numpy array has no names, so it must have
    exactly the fitted number of columns, taken in fit order.
    """
    frame, named = as_frame(X, where)
    if not named:
        if frame.shape[1] != len(expected):
            owner = where.split(".")[0]  # sklearn's wording, which its checks match
            raise ValueError(
                f"X has {frame.shape[1]} features, but {owner} is expecting "
                f"{len(expected)} features as input ({expected}); pass a DataFrame "
                "with those columns"
            )
        if expected != default_names(len(expected)):
            warnings.warn(
                f"{where}: X is an array without column names but the transformer "
                f"was fitted on a DataFrame; columns are taken in fit order {expected}",
                UserWarning,
                stacklevel=3,
            )
        return frame.set_axis(expected, axis=1)
    present = set(frame.columns)
    missing = [c for c in expected if c not in present]
    if missing:
        raise ValueError(
            f"{where}: X lacks the columns {missing} that were seen at fit; "
            f"expected all of {expected} (extra columns are ignored)"
        )
    return frame


def column_list(cols: Any, param: str) -> list[str] | None:
    """Validate a list-of-column-names parameter; ``None`` stays ``None``."""
    if cols is None:
        return None
    if isinstance(cols, str) or not isinstance(cols, Iterable):
        raise TypeError(
            f"{param} must be a list of column names or None, got {cols!r}; "
            f"write {param}=[{cols!r}] for a single column"
        )
    names = [c if isinstance(c, str) else str(c) for c in cols]
    dups = sorted(name for name, k in Counter(names).items() if k > 1)
    if dups:
        raise ValueError(f"{param} names the columns {dups} more than once")
    return names


def require_columns(frame: pd.DataFrame, names: list[str], param: str) -> None:
    """Raise if columns named in a parameter are absent from the fitted frame."""
    present = set(frame.columns)
    missing = [c for c in names if c not in present]
    if missing:
        raise ValueError(
            f"{param} names the columns {missing} that are not in X; "
            f"X has {list(frame.columns)}"
        )


def is_numberlike(dtype: Any) -> bool:
    """True for int, uint and float dtypes (numpy or nullable), not bool or complex."""
    return (
        is_numeric_dtype(dtype)
        and not is_bool_dtype(dtype)
        and not is_complex_dtype(dtype)
    )


def as_float(column: pd.Series, name: str) -> np.ndarray:
    """The column as a new-or-read-only float64 array; missing values become NaN.

    Numbers stored as objects or strings are converted; a value that is not a number
    raises a ValueError naming the column, the value and its row.
    """
    dtype = column.dtype
    if is_numberlike(dtype) or is_bool_dtype(dtype):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    if not (is_object_dtype(dtype) or is_string_dtype(dtype)):
        raise TypeError(
            f"column {name!r} has dtype {dtype}, expected numbers; convert or drop it"
        )
    numbers = pd.to_numeric(column, errors="coerce")
    bad = numbers.isna().to_numpy() & column.notna().to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"column {name!r}: value {column.iloc[pos]!r} at row "
            f"{column.index[pos]!r} is not a number ({int(bad.sum())} such values); "
            "clean the column or treat it as categorical"
        )
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan)


def jsonable(value: Any) -> Any:
    """Parameter values as JSON types: tuples and arrays become lists."""
    if isinstance(value, (tuple, list, np.ndarray)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


class FrameTransformer(TransformerMixin, BaseEstimator):
    """Base of the DataFrame-in, DataFrame-out transformers.

    Subclasses call :meth:`_start_fit` / :meth:`_start_transform` and implement
    ``_output_names``. Outputs are DataFrames whose columns are
    ``get_feature_names_out()``, so ``set_output(transform="pandas")`` is a no-op.
    """

    def _start_fit(self, X: Any) -> pd.DataFrame:
        frame, _ = as_frame(X, f"{type(self).__name__}.fit")
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        return frame

    def _start_transform(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self)
        where = f"{type(self).__name__}.transform"
        return select_input(X, list(self.feature_names_in_), where)

    def _output_names(self) -> list[str]:
        """Output columns; by default the fitted input columns, unchanged."""
        return list(self.feature_names_in_)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns, in order.

        Parameters
        ----------
        input_features : array-like of str or None
            Must equal ``feature_names_in_`` when given (sklearn convention).

        Returns
        -------
        numpy.ndarray of str
        """
        check_is_fitted(self)
        if input_features is not None and [str(c) for c in input_features] != list(
            self.feature_names_in_
        ):
            raise ValueError(
                f"input_features {list(input_features)} differ from the fitted "
                f"feature_names_in_ {list(self.feature_names_in_)}"
            )
        return np.asarray(self._output_names(), dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # missing values are part of the job
        tags.transformer_tags.preserves_dtype = []  # outputs are DataFrames
        return tags

    def _header(self) -> dict[str, Any]:
        return {
            "class": type(self).__name__,
            "version": FORMAT_VERSION,
            "params": {k: jsonable(v) for k, v in self.get_params().items()},
            "feature_names_in": list(self.feature_names_in_),
        }

    @classmethod
    def _from_header(cls, d: dict[str, Any]) -> FrameTransformer:
        if not isinstance(d, dict) or d.get("class") != cls.__name__:
            found = d.get("class") if isinstance(d, dict) else type(d).__name__
            raise ValueError(
                f"{cls.__name__}.from_dict: expected a dict made by "
                f"{cls.__name__}.to_dict(), got class {found!r}"
            )
        if d.get("version") != FORMAT_VERSION:
            raise ValueError(
                f"{cls.__name__}.from_dict: format version {d.get('version')!r} is not "
                f"supported (this tabtext reads version {FORMAT_VERSION})"
            )
        obj = cls(**d["params"])
        obj.feature_names_in_ = np.asarray(d["feature_names_in"], dtype=object)
        obj.n_features_in_ = len(obj.feature_names_in_)
        return obj
