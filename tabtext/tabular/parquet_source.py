"""A parquet dataset read in bounded chunks, for tables larger than memory.

A dataset is one parquet file or a directory of them (searched recursively; names
starting with ``.`` or ``_``, such as ``_SUCCESS``, are skipped). Its unit of
shuffling and of holding out validation rows is the *row group*; each row group is
read as record batches of at most ``batch_rows`` rows with
``pyarrow.parquet.ParquetFile.iter_batches``, so what is held at once is bounded by
the row-group and batch sizes, never by the dataset size. Predictions go back out
the same way, chunk by chunk (:func:`write_predictions`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


@dataclass(frozen=True)
class RowGroup:
    """One row group of one file: the unit that is shuffled and held out."""

    path: str
    index: int
    num_rows: int


def _files(path: Path) -> list[Path]:
    if not path.exists():
        raise FileNotFoundError(f"parquet dataset {str(path)!r} does not exist")
    if path.is_file():
        return [path]
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
    )
    if not files:
        raise ValueError(f"directory {str(path)!r} holds no parquet files")
    return files


def _open(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as err:
        raise ValueError(
            f"{str(path)!r} is not a readable parquet file ({err}); pass a .parquet "
            "file or a directory of them"
        ) from None


class ParquetDataset:
    """The row groups of a parquet file or directory, with their columns checked.

    Parameters
    ----------
    path : str or Path
        A parquet file or a directory of parquet files.
    target : str or None
        The target column; every file must have it. ``None`` when predicting.
    columns : list of str or None
        Feature columns; ``None`` takes every column of the first file but the
        target (and the weight). Every file must have them all.
    weight : str or None
        A column of row weights (not a feature), read with the features.

    Attributes
    ----------
    files : list of Path
    row_groups : list of RowGroup
        Row groups with at least one row, in file order.
    columns : list of str
        The feature columns, in the order frames are returned.
    max_frame_rows : int
        The largest number of rows :meth:`frames` has returned in one frame (a
        counter that tests use to check that memory is bounded by the chunk size).
    """

    def __init__(
        self,
        path: str | Path,
        target: str | None = None,
        columns: Sequence[str] | None = None,
        weight: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.target, self.weight = target, weight
        self.files = _files(self.path)
        handles = [_open(f) for f in self.files]
        first = handles[0].schema_arrow
        if target is not None and not isinstance(target, str):
            raise TypeError(f"target must be a column name (str), got {target!r}")
        if columns is None:  # pandas' stored index (__index_level_0__) is no feature
            index = (first.pandas_metadata or {}).get("index_columns", [])
            skip = {target, weight, *(c for c in index if isinstance(c, str))}
            columns = [n for n in first.names if n not in skip]
        elif isinstance(columns, str):
            raise TypeError(f"columns must be a list of names, got {columns!r}")
        self.columns = [str(c) for c in columns]
        if target in self.columns:
            raise ValueError(f"the target {target!r} is also named in columns")
        if weight is not None and (weight in self.columns or weight == target):
            raise ValueError(
                f"the weight column {weight!r} is also the target or a feature; "
                "name a column of its own"
            )
        if not self.columns:
            raise ValueError(
                f"{str(self.path)!r}: no feature columns besides {target!r}"
            )
        self.row_groups: list[RowGroup] = []
        for file, handle in zip(self.files, handles, strict=True):
            self._check_columns(file, handle.schema_arrow)
            meta = handle.metadata
            for i in range(meta.num_row_groups):
                n = meta.row_group(i).num_rows
                if n:
                    self.row_groups.append(RowGroup(str(file), i, n))
        if not self.row_groups:
            names = ", ".join(repr(str(f)) for f in self.files[:5])
            raise ValueError(f"parquet dataset {names} has 0 rows; nothing to read")
        self._schema = first
        self.max_frame_rows = 0

    def _check_columns(self, file: Path, schema: pa.Schema) -> None:
        names = set(schema.names)
        if self.target is not None and self.target not in names:
            raise ValueError(
                f"parquet file {str(file)!r} has no target column {self.target!r}; "
                f"its columns are {schema.names}"
            )
        missing = [c for c in self.columns + [self.weight] if c not in names]
        missing = [c for c in missing if c is not None]
        if missing:
            raise ValueError(
                f"parquet file {str(file)!r} lacks the columns {missing}; its columns "
                f"are {schema.names}"
            )

    @property
    def n_rows(self) -> int:
        return sum(g.num_rows for g in self.row_groups)

    def template(self) -> pd.DataFrame:
        """A 0-row frame of the feature columns with the dtypes pandas gives them
        (read from the first file's schema): what column roles are inferred from."""
        empty = self._schema.empty_table().select(self.columns)
        return empty.to_pandas()[self.columns]

    def split_weight(
        self, frame: pd.DataFrame
    ) -> tuple[pd.DataFrame, np.ndarray | None]:
        """``(features, row weights or None)`` of a frame from :meth:`frames`."""
        if self.weight is None:
            return frame, None
        return frame[self.columns], frame[self.weight].to_numpy()

    def frames(
        self, groups: Sequence[RowGroup], batch_rows: int
    ) -> Iterator[tuple[pd.DataFrame, np.ndarray | None, str]]:
        """``(features, target or None, where)`` for each record batch of ``groups``,
        in the given order; ``where`` names the file and row group for error messages.
        With a ``weight`` column, the features end with it (see :meth:`split_weight`).
        """
        extra = [c for c in (self.target, self.weight) if c is not None]
        wanted = self.columns + extra
        features = self.columns + ([self.weight] if self.weight is not None else [])
        for g in groups:
            # one open file at a time (re-reading a footer per row group is cheap)
            handle = pq.ParquetFile(g.path)
            batches = handle.iter_batches(
                batch_size=batch_rows, row_groups=[g.index], columns=wanted
            )
            where = f"parquet file {g.path!r}, row group {g.index}"
            try:
                for batch in batches:
                    if not batch.num_rows:
                        continue
                    frame = batch.to_pandas()
                    self.max_frame_rows = max(self.max_frame_rows, len(frame))
                    y = None
                    if self.target is not None:
                        y = frame.pop(self.target).to_numpy()
                    yield frame[features], y, where
            finally:
                handle.close()


def write_predictions(preds, out: Path, column: str) -> Path:
    """Write predicted chunks to ``out`` as parquet, atomically: one column
    ``column``, or ``column_0, column_1, ...`` for 2-D predictions."""
    tmp = out.with_name(out.name + ".tmp")
    writer = None
    try:
        for pred in preds:
            table = _prediction_table(pred, column)
            writer = writer or pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(out)
    return out


def _prediction_table(pred: np.ndarray, column: str) -> pa.Table:
    if pred.ndim == 1:
        return pa.table({column: pred})
    return pa.table({f"{column}_{j}": pred[:, j] for j in range(pred.shape[1])})
