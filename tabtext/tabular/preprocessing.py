"""Tabular preprocessing for entity embeddings, as scikit-learn transformers.

:class:`TabularPreprocessor` turns a DataFrame into the two arrays an entity-embedding
network takes (Guo & Berkhahn 2016, "Entity Embeddings of Categorical Variables"):
``cats`` (int64 codes, 0 = missing/unknown) and ``conts`` (float32, standardized).
It chains the single-purpose transformers re-exported here, each usable on its own in
an sklearn Pipeline: :class:`DateExpander`, :class:`FillMissing`, :class:`Categorify`
and :class:`Standardize` (after fast.ai's ``add_datepart``, ``FillMissing``,
``Categorify`` and ``Normalize``).

Column names are always compared as ``str``: a DataFrame whose columns are ``0, 1``
is read as ``"0", "1"``, at fit and at predict alike; a numpy array's columns are
named ``x0, x1, ...``. Every fitted transformer has ``to_dict`` / ``from_dict`` for a
JSON-only round trip (no pickle).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_object_dtype,
    is_string_dtype,
)
from sklearn.utils.validation import check_is_fitted

from tabtext.tabular._frame import (
    FrameTransformer,
    column_list,
    is_numberlike,
    require_columns,
)
from tabtext.tabular.categorify import Categorify
from tabtext.tabular.dates import (
    CATEGORICAL_PARTS,
    CONTINUOUS_PARTS,
    DATE_PARTS,
    DateExpander,
)
from tabtext.tabular.numeric import FillMissing, Standardize
from tabtext.tabular.scaling import CONT_SCALINGS, SCALERS, scaler_from_dict

__all__ = [
    "CATEGORICAL_PARTS",
    "CONTINUOUS_PARTS",
    "DATE_PARTS",
    "Categorify",
    "DateExpander",
    "FillMissing",
    "Standardize",
    "TabularPreprocessor",
    "infer_roles",
]

_ROLES = ("cat_cols", "cont_cols", "date_cols")
#: Standardized continuous values are clipped to +/- this. No training value can lie
#: more than sqrt(n_rows) standard deviations from the mean, so only values far
#: outside the training range are touched; it keeps float32 (and the network) finite.
CONT_CLIP = 1e4


def _role_from_dtype(dtype: Any, name: str) -> str:
    if is_datetime64_any_dtype(dtype):
        return "date_cols"
    if (
        is_bool_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
        or is_object_dtype(dtype)
        or is_string_dtype(dtype)
    ):
        return "cat_cols"
    if is_numberlike(dtype):
        return "cont_cols"
    raise TypeError(
        f"column {name!r} has dtype {dtype}, which is neither categorical, numeric "
        "nor datetime; convert it, drop it, or name it in cat_cols"
    )


def infer_roles(
    frame: pd.DataFrame,
    cat_cols: list[str] | None = None,
    cont_cols: list[str] | None = None,
    date_cols: list[str] | None = None,
) -> tuple[list[str], list[str], list[str]]:
    """Split the columns of ``frame`` into categorical, continuous and date columns.

    Named columns take the role they are named for. The others go by dtype:
    datetime64 -> date; bool, category, object and string -> categorical; int and
    float (numpy or nullable) -> continuous. Integer-coded categories (store ids,
    codes) are therefore continuous unless named in ``cat_cols``.

    Returns
    -------
    cats, conts, dates : list of str
        Each in the column order of ``frame``.
    """
    role_of: dict[str, str] = {}
    for param, cols in zip(_ROLES, (cat_cols, cont_cols, date_cols), strict=True):
        names = column_list(cols, param) or []
        require_columns(frame, names, param)
        for name in names:
            if name in role_of:
                raise ValueError(
                    f"column {name!r} is named in both {role_of[name]} and {param}; "
                    "give each column one role"
                )
            role_of[name] = param
    for name in frame.columns:
        if name not in role_of:
            role_of[name] = _role_from_dtype(frame[name].dtype, name)
    cats, conts, dates = ([c for c in frame.columns if role_of[c] == r] for r in _ROLES)
    return cats, conts, dates


def _check_unique(names: list[str]) -> None:
    dups = sorted(n for n, k in Counter(names).items() if k > 1)
    if dups:
        raise ValueError(
            f"TabularPreprocessor.fit: the derived columns {dups} (date parts "
            "'<col>_<part>' or missing indicators '<col>_na') clash with columns of "
            "the same name in X; rename those columns in X"
        )


class TabularPreprocessor(FrameTransformer, auto_wrap_output_keys=None):
    """DataFrame -> (cats int64, conts float32) for an entity-embedding model.

    On fit, column roles are inferred (see :func:`infer_roles`), then:

    1. date columns are expanded (:class:`DateExpander`); calendar parts become
       categorical, ``<col>_elapsed`` continuous;
    2. continuous columns get missing values and +/-inf filled with the training
       median (:class:`FillMissing`); each column that had gaps in training adds a
       ``<col>_na`` categorical column (False/True). New gaps at predict time are
       filled without a new column, so shapes are stable;
    3. categorical columns are coded 1..K, 0 for missing/unseen (:class:`Categorify`);
    4. continuous columns are standardized (:class:`Standardize`) and clipped to
       ``+/-CONT_CLIP`` (1e4) standard deviations, so that an extreme value at
       predict time (``1e300``) cannot overflow float32 or the network;
    5. with ``cont_scaling="quantile"`` or ``"robust"`` they are then mapped
       through :class:`~tabtext.tabular.scaling.QuantileNormal` or
       :class:`~tabtext.tabular.scaling.RobustScale`, fitted on the training rows.

    Parameters
    ----------
    cat_cols, cont_cols, date_cols : list of str or None
        Columns forced into a role; the rest are inferred from their dtypes.
        ``date_cols`` may name columns of date strings.
    max_card : int or None
        Keep at most this many categories per categorical column (the most frequent);
        the rest share code 0.
    min_freq : int
        Categories seen fewer times than this in training are coded 0, with the
        missing and unseen values (which then get a trained embedding row).
    cont_scaling : {"standard", "quantile", "robust"}
        How continuous columns reach the network: standardized, quantile-transformed
        to a normal distribution, or robustly scaled and smoothly clipped.

    Attributes
    ----------
    cat_names_, cont_names_ : list of str
        Columns of ``cats`` and ``conts``, in order.
    cardinalities_ : list of int
        Embedding table size per categorical column, the unknown slot 0 included.
    feature_names_in_ : ndarray of str
    n_features_in_ : int
    date_expander_, fill_missing_, categorify_, standardize_, cont_scaler_
        The fitted steps (``None`` where there was nothing to do).

    Examples
    --------
    >>> X = pd.DataFrame({"shop": ["a", "b", None], "price": [1.0, np.nan, 3.0]})
    >>> pre = TabularPreprocessor().fit(X)
    >>> pre.cat_names_, pre.cont_names_, pre.cardinalities_
    (['shop', 'price_na'], ['price'], [3, 3])
    >>> cats, conts = pre.transform(X)
    >>> cats
    array([[1, 1],
           [2, 2],
           [0, 1]])
    """

    def __init__(
        self,
        cat_cols: list[str] | None = None,
        cont_cols: list[str] | None = None,
        date_cols: list[str] | None = None,
        max_card: int | None = None,
        min_freq: int = 1,
        cont_scaling: str = "standard",
    ) -> None:
        self.cat_cols = cat_cols
        self.cont_cols = cont_cols
        self.date_cols = date_cols
        self.max_card = max_card
        self.min_freq = min_freq
        self.cont_scaling = cont_scaling

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags

    def fit(self, X: Any, y: Any = None) -> TabularPreprocessor:
        """Infer column roles and fit every step on ``X``.

        Parameters
        ----------
        X : DataFrame or 2-D array
            A numeric array is all continuous, an object array all categorical.
        y : ignored

        Returns
        -------
        self
        """
        self._fit_split(X)
        return self

    def fit_transform(self, X: Any, y: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """``fit(X).transform(X)``, computing the date parts and fills once."""
        cats, conts = self._fit_split(X)
        return self._encode(cats, conts)

    def transform(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Encode ``X`` with the fitted steps.

        Parameters
        ----------
        X : DataFrame or 2-D array
            Columns are matched by name (any order, extra columns ignored); every
            column seen at fit must be present. An array must have the fitted
            number of columns.

        Returns
        -------
        cats : ndarray of int64, shape (n_rows, len(cat_names_))
            Codes in ``0..cardinalities_[j] - 1``; 0 is missing or unseen.
        conts : ndarray of float32, shape (n_rows, len(cont_names_))
            Standardized, never NaN or inf.
        """
        frame = self._start_transform(X)
        return self._encode(*self._split(frame))

    def _fit_split(self, X: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        frame = self._start_fit(X)
        Categorify(max_card=self.max_card, min_freq=self.min_freq)._check_params()
        if self.cont_scaling not in CONT_SCALINGS:
            raise ValueError(
                f"cont_scaling must be one of {CONT_SCALINGS}, "
                f"got {self.cont_scaling!r}"
            )
        roles = infer_roles(frame, self.cat_cols, self.cont_cols, self.date_cols)
        self.input_cat_cols_, self.input_cont_cols_, self.input_date_cols_ = roles
        self.date_expander_ = None
        if self.input_date_cols_:
            dates = frame[self.input_date_cols_]
            self.date_expander_ = DateExpander(date_cols=self.input_date_cols_)
            self.date_expander_.fit(dates)
            parts = self.date_expander_.get_feature_names_out().tolist()
            _check_unique(list(frame.columns) + parts)
        self.fill_missing_ = None
        cats, conts = self._split(frame, fitting=True)
        _check_unique(list(cats.columns) + list(conts.columns))
        self.categorify_, self.standardize_ = None, None
        self.cont_scaler_ = None
        if cats.shape[1]:
            cat = Categorify(max_card=self.max_card, min_freq=self.min_freq)
            self.categorify_ = cat.fit(cats)
        if conts.shape[1]:
            self.standardize_ = Standardize(list(conts.columns)).fit(conts)
        self._set_names()
        if conts.shape[1] and self.cont_scaling != "standard":
            scaler = SCALERS[self.cont_scaling](self.cont_names_)
            self.cont_scaler_ = scaler.fit(self._standardized(conts))
        return cats, conts

    def _split(
        self, frame: pd.DataFrame, fitting: bool = False
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Expand dates and fill gaps: the categorical and continuous frames."""
        cat_parts = [frame[self.input_cat_cols_]]
        cont_parts = [frame[self.input_cont_cols_]]
        if self.date_expander_ is not None:
            parts = self.date_expander_.transform(frame[self.input_date_cols_])
            cat_parts.append(parts[self.date_expander_.categorical_names_])
            cont_parts.append(parts[self.date_expander_.continuous_names_])
        conts = pd.concat(cont_parts, axis=1)
        if fitting and conts.shape[1]:
            self.fill_missing_ = FillMissing(list(conts.columns)).fit(conts)
        if self.fill_missing_ is not None:
            filled = self.fill_missing_.transform(conts)
            cat_parts.append(filled[self.fill_missing_._indicator_names()])
            conts = filled[list(conts.columns)]
        return pd.concat(cat_parts, axis=1), conts

    def _encode(
        self, cats: pd.DataFrame, conts: pd.DataFrame
    ) -> tuple[np.ndarray, np.ndarray]:
        n = len(cats)
        cat_out = np.empty((n, len(self.cat_names_)), dtype=np.int64)
        for j, name in enumerate(self.cat_names_):
            cat_out[:, j] = self.categorify_._encode_column(cats[name], name)
        z = self._standardized(conts)
        if self.cont_scaler_ is not None and z.shape[1]:
            z = self.cont_scaler_.transform(z)
        return cat_out, z.astype(np.float32)

    def _standardized(self, conts: pd.DataFrame) -> np.ndarray:
        """Standardized continuous columns clipped to +/-CONT_CLIP (float64)."""
        z = np.empty((len(conts), len(self.cont_names_)), dtype=np.float64)
        for j, name in enumerate(self.cont_names_):
            z[:, j] = self.standardize_._scale_column(conts[name], name)
        return np.clip(z, -CONT_CLIP, CONT_CLIP, out=z)

    def _set_names(self) -> None:
        categorify, standardize = self.categorify_, self.standardize_
        self.cat_names_ = list(categorify.categories_) if categorify else []
        self.cont_names_ = list(standardize.means_) if standardize else []
        self.cardinalities_ = [categorify.cardinalities_[c] for c in self.cat_names_]

    def _output_names(self) -> list[str]:
        return self.cat_names_ + self.cont_names_

    def category_labels(self, name: str) -> list[Any]:
        """Label of each code of a categorical column: ``"#na#"`` then the categories.

        Parameters
        ----------
        name : str
            One of ``cat_names_``.

        Returns
        -------
        list
            ``labels[k]`` is the category coded ``k``; ``labels[0]`` is ``"#na#"``
            (missing or unseen). Its length is the column's cardinality.
        """
        check_is_fitted(self)
        if name not in self.cat_names_:
            raise ValueError(
                f"{name!r} is not a categorical column; choose one of {self.cat_names_}"
            )
        return ["#na#", *self.categorify_.categories_[name].tolist()]

    def to_dict(self) -> dict[str, Any]:
        """The fitted preprocessor as a JSON-serialisable dict.

        ``TabularPreprocessor.from_dict(json.loads(json.dumps(p.to_dict())))``
        transforms exactly like ``p``.
        """
        check_is_fitted(self)
        steps = (
            "date_expander_", "fill_missing_", "categorify_", "standardize_",
            "cont_scaler_",
        )  # fmt: skip
        return {
            **self._header(),
            "input_cat_cols": list(self.input_cat_cols_),
            "input_cont_cols": list(self.input_cont_cols_),
            "input_date_cols": list(self.input_date_cols_),
            **{
                s[:-1]: None
                if getattr(self, s, None) is None
                else getattr(self, s).to_dict()
                for s in steps
            },
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TabularPreprocessor:
        """Rebuild a fitted TabularPreprocessor from :meth:`to_dict` output."""
        obj = cls._from_header(d)
        obj.input_cat_cols_ = list(d["input_cat_cols"])
        obj.input_cont_cols_ = list(d["input_cont_cols"])
        obj.input_date_cols_ = list(d["input_date_cols"])
        for key, step in (
            ("date_expander", DateExpander),
            ("fill_missing", FillMissing),
            ("categorify", Categorify),
            ("standardize", Standardize),
        ):
            setattr(obj, key + "_", None if d[key] is None else step.from_dict(d[key]))
        obj.cont_scaler_ = scaler_from_dict(d.get("cont_scaler"))
        obj._set_names()
        return obj
