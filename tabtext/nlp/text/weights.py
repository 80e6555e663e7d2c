"""Row weights of labeled texts: checked, and read from a column of a table.

A row of weight ``k`` counts as ``k`` copies of it in the classifier's loss and
validation scores; the language-model stages ignore weights. Weights must be
finite numbers >= 0, not all zero.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def check_weights(weights: Any, n: int, where: str = "sample_weight") -> np.ndarray:
    """``weights`` as a float64 array of ``n`` finite values >= 0, not all zero; a
    ValueError names ``where`` and the first bad row."""
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        bad = next(i for i, v in enumerate(weights) if not _is_number(v))
        raise ValueError(
            f"{where}: row {bad} holds {list(weights)[bad]!r}, not a number; "
            "weights must be numbers >= 0"
        ) from None
    if w.ndim != 1 or len(w) != n:
        raise ValueError(
            f"{where}: expected one weight per text ({n}), got shape {w.shape}"
        )
    bad_rows = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if len(bad_rows):
        i = int(bad_rows[0])
        raise ValueError(
            f"{where}: row {i} has weight {float(w[i])} ({len(bad_rows)} such row(s)); "
            "weights must be finite and >= 0"
        )
    if n and not w.sum() > 0:
        raise ValueError(f"{where}: all {n} weights are 0; nothing would be learned")
    return w


def _is_number(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


def read_weight_column(path: str | Path, column: str, rows: np.ndarray) -> np.ndarray:
    """The weights in ``column`` of the table ``path`` (parquet or CSV) at ``rows``
    (the rows :func:`~tabtext.nlp.text.reading.load_texts` kept), checked."""
    import pandas as pd

    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file() or suffix not in (".parquet", ".pq", ".csv", ".tsv"):
        raise ValueError(
            f"{path}: weight column {column!r} needs a parquet or CSV file, not a "
            "folder or hub dataset"
        )
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
        _check_column(path, column, names)
        values = pq.read_table(path, columns=[column]).column(column).to_pylist()
    else:
        sep = "\t" if suffix == ".tsv" else ","
        names = list(pd.read_csv(path, sep=sep, nrows=0).columns)
        _check_column(path, column, names)
        frame = pd.read_csv(path, sep=sep, usecols=[column], dtype=str)
        values = frame[column].tolist()
    picked = [values[i] for i in rows]
    where = f"{path}, weight column {column!r}"
    try:
        return check_weights(picked, len(picked), where)
    except ValueError as e:  # name the file's own row, not the kept rows' index
        raise ValueError(_file_rows(str(e), rows)) from None


def _check_column(path: Path, column: str, names: list[str]) -> None:
    if column not in names:
        raise ValueError(
            f"{path}: no weight column {column!r}; available columns: {names}"
        )


def _file_rows(message: str, rows: np.ndarray) -> str:
    """``message`` with its "row i" (among kept rows) turned into the file's row."""
    import re

    return re.sub(
        r"row (\d+)", lambda m: f"row {int(rows[int(m.group(1))])}", message, count=1
    )
