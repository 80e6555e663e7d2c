"""Categorify: categorical values to integer codes for entity embeddings.

Each column's categories, learned on the training data, get the codes ``1..K``;
code ``0`` is reserved for a missing value or a category never seen in training, so an
embedding table of ``K + 1`` rows covers every input (Guo & Berkhahn 2016, "Entity
Embeddings of Categorical Variables"; fast.ai's ``Categorify`` keeps the same slot).
"""

from __future__ import annotations

import datetime
import logging
import math
import numbers
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from tabtext.tabular._frame import FrameTransformer, column_list, require_columns

logger = logging.getLogger(__name__)

_DECODERS = {
    "bool": bool,
    "int": int,
    "float": float,
    "str": str,
    "datetime": pd.Timestamp,
    "timedelta": lambda v: pd.Timedelta(int(v), unit="ns"),
    "date": datetime.date.fromisoformat,
}


def _tag(value: Any, name: str) -> tuple[str, Any]:
    """A category value as (type tag, JSON value)."""
    if isinstance(value, (bool, np.bool_)):
        return "bool", bool(value)
    if isinstance(value, numbers.Integral):
        return "int", int(value)
    if isinstance(value, numbers.Real):
        f = float(value)
        return "float", f if math.isfinite(f) else repr(f)  # JSON has no inf
    if isinstance(value, str):
        return "str", value
    if isinstance(value, (datetime.datetime, np.datetime64)):
        return "datetime", pd.Timestamp(value).isoformat()
    if isinstance(value, (datetime.timedelta, np.timedelta64)):
        return "timedelta", int(pd.Timedelta(value).value)
    if isinstance(value, datetime.date):
        return "date", value.isoformat()
    raise TypeError(
        f"column {name!r}: category {value!r} of type {type(value).__name__} cannot "
        "be saved to JSON; convert the column to str before fitting"
    )


def encode_categories(levels: pd.Index, name: str) -> dict[str, Any]:
    """Categories as a JSON-serialisable dict that :func:`decode_categories` reverts.

    Values keep their type (bool, int, float, str, datetime, timedelta, date) and the
    Index keeps its dtype, so codes computed after a JSON round trip are identical.
    """
    tagged = [_tag(v, name) for v in levels.tolist()]
    kinds = {kind for kind, _ in tagged}
    if len(kinds) == 1:
        values: list[Any] = [v for _, v in tagged]
        kind = kinds.pop()
    else:
        values, kind = [list(t) for t in tagged], "mixed"
    return {"type": kind, "dtype": str(levels.dtype), "values": values}


def decode_categories(d: dict[str, Any]) -> pd.Index:
    """Inverse of :func:`encode_categories`."""
    if d["type"] == "mixed":
        values = [_DECODERS[kind](v) for kind, v in d["values"]]
    else:
        values = [_DECODERS[d["type"]](v) for v in d["values"]]
    try:
        return pd.Index(values, dtype=d["dtype"])
    except (TypeError, ValueError):
        return pd.Index(values, dtype=object)


def _sorted(levels: pd.Index) -> pd.Index:
    """Sort categories; mixed types are grouped by type name, then by value."""
    try:
        return levels.sort_values()
    except TypeError:
        values = list(levels)
    try:
        ordered = sorted(values, key=lambda v: (type(v).__name__, v))
    except TypeError:
        ordered = sorted(values, key=lambda v: (type(v).__name__, str(v)))
    return pd.Index(ordered, dtype=object)


def _levels_and_counts(column: pd.Series, name: str) -> tuple[pd.Index, np.ndarray]:
    """Distinct non-missing values in a deterministic order, with their counts."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        levels = column.cat.categories  # the dtype's own order
        return levels, np.bincount(codes[codes >= 0], minlength=len(levels))
    try:
        counts = column.value_counts(dropna=True, sort=False)
    except TypeError as err:
        raise TypeError(
            f"column {name!r}: categorical values must be hashable ({err}); "
            "convert the column to str"
        ) from err
    levels = _sorted(counts.index)
    return levels, counts.to_numpy()[counts.index.get_indexer(levels)]


class Categorify(FrameTransformer):
    """Map categorical columns to int64 codes ``1..K``; 0 means missing or unseen.

    Categories are the distinct non-missing training values, sorted (a ``category``
    dtype keeps its own order), so codes are deterministic. Transform never raises
    on new data: NaN/None/NA and categories not kept at fit become 0.

    Categorify treats every column it is given as categorical, integers included.
    Deciding that an integer column is a category rather than a number is the
    caller's job (:class:`~tabtext.tabular.preprocessing.TabularPreprocessor` treats
    integers as continuous unless they are named in ``cat_cols``).

    Parameters
    ----------
    cols : list of str or None
        Columns to encode; ``None`` encodes every column. Others pass through.
    max_card : int or None
        Keep at most this many categories per column, the most frequent ones (ties go
        to the earlier category in sort order); the rest are coded 0.
    min_freq : int
        Categories seen fewer times than this in training are coded 0.

    Attributes
    ----------
    categories_ : dict of str to pandas.Index
        Kept categories per column; category ``categories_[c][i]`` has code ``i + 1``.
    cardinalities_ : dict of str to int
        ``len(categories_[c]) + 1``: the embedding table size, slot 0 included.

    Examples
    --------
    >>> X = pd.DataFrame({"c": ["b", "a", None, "b"]})
    >>> Categorify().fit(X).transform(pd.DataFrame({"c": ["a", "b", "z", None]}))
       c
    0  1
    1  2
    2  0
    3  0
    """

    def __init__(
        self,
        cols: list[str] | None = None,
        max_card: int | None = None,
        min_freq: int = 1,
    ) -> None:
        self.cols = cols
        self.max_card = max_card
        self.min_freq = min_freq

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags

    def _check_params(self) -> None:
        for param, value, allow_none in (
            ("max_card", self.max_card, True),
            ("min_freq", self.min_freq, False),
        ):
            if value is None and allow_none:
                continue
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                raise TypeError(f"{param} must be an int >= 1, got {value!r}")
            if value < 1:
                raise ValueError(f"{param} must be >= 1, got {value}")

    def fit(self, X: Any, y: Any = None) -> Categorify:
        """Learn the categories of each column.

        Parameters
        ----------
        X : DataFrame or 2-D array
        y : ignored

        Returns
        -------
        self
        """
        frame = self._start_fit(X)
        self._check_params()
        cols = column_list(self.cols, "cols")
        cols = list(frame.columns) if cols is None else cols
        require_columns(frame, cols, "cols")
        self.categories_ = {c: self._learn(frame[c], c) for c in cols}
        self._set_cardinalities()
        return self

    def _learn(self, column: pd.Series, name: str) -> pd.Index:
        return self._select(*_levels_and_counts(column, name), name)

    def _select(self, levels: pd.Index, counts: np.ndarray, name: str) -> pd.Index:
        """The categories kept from ``levels`` seen ``counts`` times (also used by
        the streaming fit, which merges the counts of many chunks)."""
        keep = counts >= self.min_freq
        if self.max_card is not None and keep.sum() > self.max_card:
            candidates = np.flatnonzero(keep)
            order = np.argsort(-counts[candidates], kind="stable")
            keep[:] = False
            keep[candidates[order[: self.max_card]]] = True
        if not keep.any():
            logger.warning(
                "Categorify: column %r has no category seen >= %d times in training; "
                "every value will be coded 0 (unknown)",
                name,
                self.min_freq,
            )
        return levels[keep]

    def _set_cardinalities(self) -> None:
        self.cardinalities_ = {c: len(v) + 1 for c, v in self.categories_.items()}

    def _encode_column(self, column: pd.Series, name: str) -> np.ndarray:
        """int64 codes of one column: position in ``categories_[name]`` plus one."""
        levels = self.categories_[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            # map the dtype's categories once instead of hashing every row
            lookup = levels.get_indexer(column.cat.categories) + 1
            codes = column.cat.codes.to_numpy()
            out = np.where(codes >= 0, lookup[codes], 0) if len(lookup) else codes * 0
        else:
            try:
                out = levels.get_indexer(column) + 1
            except TypeError as err:
                raise TypeError(
                    f"column {name!r}: cannot look up its values ({err}); values "
                    "must be hashable"
                ) from err
        return out.astype(np.int64, copy=False)

    def transform(self, X: Any) -> pd.DataFrame:
        """Replace the fitted columns by their int64 codes.

        Parameters
        ----------
        X : DataFrame or 2-D array
            Must contain the columns seen at fit (any order); extra ones are dropped.

        Returns
        -------
        DataFrame
            Same columns as at fit, same index as ``X``.
        """
        frame = self._start_transform(X)
        out = {
            c: self._encode_column(frame[c], c) if c in self.categories_ else frame[c]
            for c in self.feature_names_in_
        }
        return pd.DataFrame(out, index=frame.index)

    def to_dict(self) -> dict[str, Any]:
        """The fitted state as a JSON-serialisable dict (see :meth:`from_dict`).

        Category values are stored with a type tag and the Index dtype, so
        ``from_dict(json.loads(json.dumps(c.to_dict())))`` gives identical codes.
        """
        check_is_fitted(self)
        return {
            **self._header(),
            "categories": {
                c: encode_categories(v, c) for c, v in self.categories_.items()
            },
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Categorify:
        """Rebuild a fitted Categorify from :meth:`to_dict` output."""
        obj = cls._from_header(d)
        obj.categories_ = {c: decode_categories(v) for c, v in d["categories"].items()}
        obj._set_cardinalities()
        return obj
