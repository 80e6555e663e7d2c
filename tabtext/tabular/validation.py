"""Input checks of EmbeddingModel, in sklearn's terms: its parameters (checked in
``fit``, as sklearn wants), ``X`` for fit/predict/transform, the parquet options."""

from __future__ import annotations

import numbers
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.validation import _check_sample_weight, validate_data

from ._frame import as_frame


def check_X(est, X, reset: bool) -> pd.DataFrame:
    """Validate ``X`` (DataFrame or 2-D array-like) and return it as a DataFrame.

    On ``reset`` (fit) records ``input_columns_`` and, through sklearn's
    ``validate_data``, ``n_features_in_`` / ``feature_names_in_`` (as sklearn's
    validation does); otherwise checks them with sklearn's own messages, so
    Pipelines and GridSearchCV behave.
    """
    if sp.issparse(X):
        raise TypeError(
            "sparse input is not supported: EmbeddingModel needs dense columns; "
            "convert with X.toarray() or pass a DataFrame"
        )
    if not isinstance(X, pd.DataFrame):
        if hasattr(X, "__dataframe__") or hasattr(X, "to_pandas"):
            X = (
                X.to_pandas()
                if hasattr(X, "to_pandas")
                else pd.api.interchange.from_dataframe(X)
            )
        else:
            X = np.asarray(X)
            if X.dtype.kind == "c":
                raise ValueError("Complex data not supported; pass real numbers")
            if X.ndim != 2:
                raise ValueError(
                    f"Expected 2D array, got {X.ndim}D array instead. Reshape your data "
                    "with X.reshape(-1, 1) for a single feature or X.reshape(1, -1) "
                    "for a single sample"
                )
    elif any(pd.api.types.is_complex_dtype(t) for t in X.dtypes):
        raise ValueError("Complex data not supported; pass real numbers")
    if isinstance(X, pd.DataFrame):  # before sklearn's check, whose error is obscure
        _check_unique_names(X.columns, type(est).__name__)
    validate_data(est, X, reset=reset, skip_check_array=True)  # names and count
    frame, _ = as_frame(X, type(est).__name__)
    if not reset:
        frame = frame.set_axis(est.input_columns_, axis=1) if not _named(X) else frame
    else:
        est.input_columns_ = list(frame.columns)
    return frame


def _named(X) -> bool:
    return isinstance(X, pd.DataFrame)


def _check_unique_names(columns: pd.Index, where: str) -> None:
    names = list(columns)
    dups = sorted(n for n, k in Counter(str(c) for c in names).items() if k > 1)
    if dups:
        raise ValueError(
            f"{where}: duplicated column names {dups} (after converting names to "
            "str); give every column a unique name"
        )
    equal = [c for c, k in Counter(names).items() if k > 1]  # 0 == False, 1 == 1.0
    if equal:
        same = [repr(c) for c in names if c == equal[0]]
        raise ValueError(
            f"{where}: the column names {', '.join(same)} are equal in Python, so "
            "they cannot be told apart; give every column a unique (str) name"
        )


def check_params(est) -> None:
    """The estimator's parameters, checked at the start of every fit."""
    for name in ("epochs", "batch_size"):
        v = getattr(est, name)
        if not (_is_auto(v) or _positive_int(v)):
            raise ValueError(f"{name} must be an int >= 1 or 'auto', got {v!r}")
    if not (est.lr == "auto" or (isinstance(est.lr, numbers.Real) and est.lr > 0)):
        raise ValueError(f"lr must be a positive number or 'auto', got {est.lr!r}")
    vf = est.validation_fraction
    if vf is not None and not (isinstance(vf, numbers.Real) and 0 < vf < 1):
        raise ValueError(f"validation_fraction must be in (0, 1) or None, got {vf!r}")
    if len(est.ps) != len(est.layers):
        raise ValueError(f"ps {est.ps!r} needs one dropout per layer of {est.layers!r}")


def _is_auto(v) -> bool:
    return isinstance(v, str) and v == "auto"


def _positive_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1


def check_rows(value: Any, name: str) -> int:
    """A row count option of the parquet methods (``batch_rows``, ``shuffle_rows``)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return value


def check_sample_weight(sample_weight, n_rows: int, where: str = "sample_weight"):
    """``sample_weight`` as a float64 array of ``n_rows`` finite weights >= 0 with
    at least one above 0, or None."""
    if sample_weight is None:
        return None
    try:  # sklearn's checks of shape, length and finiteness, with its messages
        w = _check_sample_weight(sample_weight, np.empty((n_rows, 0)), dtype=np.float64)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    if (w < 0).any():
        raise ValueError(
            f"{where} has negative values (first at row {np.argmax(w < 0)}); give "
            "weights >= 0"
        )
    if not (w > 0).any():
        raise ValueError(
            f"{where}: all weights are zero; at least one row needs a weight above zero"
        )
    return w
