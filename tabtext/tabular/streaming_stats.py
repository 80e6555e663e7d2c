"""Preprocessing and target statistics fitted in one streaming pass over chunks.

:class:`PreprocessorStats` sees a table chunk by chunk and builds the same fitted
:class:`~tabtext.tabular.preprocessing.TabularPreprocessor` that ``fit`` on the whole
table gives (same ``to_dict``/``from_dict``, same save/load):

- category vocabularies: counts per value, merged across chunks, then sorted and
  selected exactly as :class:`Categorify` does -- identical to the in-memory fit;
- date parts: expanded per chunk by :class:`DateExpander` (stateless);
- mean and std of the filled continuous columns: Welford/Chan's parallel merge of
  per-chunk (count, mean, M2) (Chan, Golub & LeVeque 1979), then merged with the
  ``k`` missing values filled by the median -- equal to the in-memory fit up to
  float rounding;
- FillMissing medians: the median of a seeded fixed-size *reservoir sample* of each
  column's finite values (Vitter's algorithm R). While a column has at most
  ``median_sample`` finite values the sample holds them all and the median is exact;
  beyond, it is the median of a uniform random sample of that size, whose rank error
  has standard deviation about ``0.5 / sqrt(median_sample)`` (0.16% of the rows for
  the default 100,000).
- ``cont_scaling="quantile"`` / ``"robust"``: the quantile or robust scaler is fitted
  on the same reservoir samples (standardized, each column's gaps represented by
  copies of its median in proportion), so it is exact while every column has at most
  ``median_sample`` values and a sample estimate beyond.

:class:`TargetEncoderStats` does the same for the target encoder: class labels and
counts, or the mean and std of ``y`` (``log1p(y)`` with ``log_target``) for the
target scaling. (The mean-target *features* of ``target_stats=`` are another thing:
:mod:`tabtext.tabular.target_stats`.)
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
from sklearn.utils.multiclass import type_of_target

from ._frame import as_float
from .categorify import Categorify, _levels_and_counts, _sorted
from .dates import DateExpander
from .numeric import FillMissing, Standardize, finite_stat
from .preprocessing import CONT_CLIP, TabularPreprocessor, _check_unique, infer_roles
from .scaling import CONT_SCALINGS, SCALERS
from .tasks import TargetEncoder, as_target_array, check_class_count

logger = logging.getLogger(__name__)
MEDIAN_SAMPLE = 100_000


class Moments:
    """Running count, mean and sum of squared deviations (M2), merged chunk-wise."""

    def __init__(self) -> None:
        self.n, self.mean, self.m2 = 0, 0.0, 0.0

    def add(self, x: np.ndarray) -> None:
        if x.size:
            mean = float(x.mean())
            self.merge(x.size, mean, float(np.square(x - mean).sum()))

    def merge(self, n: int, mean: float, m2: float) -> None:
        """Chan et al.'s pairwise update with a group of ``n`` values."""
        if n == 0:
            return
        total = self.n + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.n * n / total
        self.n = total

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.n) if self.n else 0.0


class Reservoir:
    """A uniform sample of at most ``size`` values of a stream (algorithm R, seeded)."""

    def __init__(self, size: int, seed: int | list[int]) -> None:
        self.values = np.empty(size, dtype=np.float64)
        self.size, self.filled, self.seen = size, 0, 0
        self.rng = np.random.default_rng(seed)

    def add(self, x: np.ndarray) -> None:
        take = min(self.size - self.filled, x.size)
        self.values[self.filled : self.filled + take] = x[:take]
        self.filled += take
        self.seen += take
        rest = x[take:]
        if not rest.size:
            return
        # item number i (0-based, over the whole stream) replaces slot j ~ U[0, i]
        # when j < size; a later item replacing the same slot wins, as in the loop
        idx = self.seen + np.arange(rest.size)
        slots = self.rng.integers(0, idx + 1)
        hit = slots < self.size
        slots, vals = slots[hit][::-1], rest[hit][::-1]
        _, last = np.unique(slots, return_index=True)
        self.values[slots[last]] = vals[last]
        self.seen += rest.size

    def median(self) -> float:
        return finite_stat(np.median, self.values[: self.filled])


class CategoryCounts:
    """Counts of each value of one categorical column, merged across chunks."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.counts: pd.Series | None = None
        self.order: list | None = None  # a category dtype's own order, first seen

    def add(self, column: pd.Series) -> None:
        levels, counts = _levels_and_counts(column, self.name)
        chunk = pd.Series(counts, index=levels, dtype=np.int64)
        if isinstance(column.dtype, pd.CategoricalDtype):
            self.order = self.order or []
            known = set(self.order)
            self.order += [v for v in levels if v not in known]
        if self.counts is None:
            self.counts = chunk
        else:
            self.counts = self.counts.add(chunk, fill_value=0).astype(np.int64)

    def levels_and_counts(self) -> tuple[pd.Index, np.ndarray]:
        """Like ``_levels_and_counts`` on the whole column: sorted levels (a category
        dtype's own order) and their counts."""
        if self.counts is None:
            return pd.Index([], dtype=object), np.zeros(0, dtype=np.int64)
        if self.order is not None:
            levels = pd.Index(self.order, dtype=self.counts.index.dtype)
        else:
            levels = _sorted(self.counts.index)
        return levels, self.counts.reindex(levels).to_numpy(dtype=np.int64)


def _fitted(obj, names: list[str]):
    """Mark a transformer built from statistics as fitted on the columns ``names``."""
    obj.feature_names_in_ = np.asarray(names, dtype=object)
    obj.n_features_in_ = len(names)
    return obj


class PreprocessorStats:
    """One streaming pass of a :class:`TabularPreprocessor` fit.

    Parameters
    ----------
    template : DataFrame
        A 0-row frame with the columns and dtypes of the chunks (roles are inferred
        from its dtypes, as ``TabularPreprocessor.fit`` does).
    cat_cols, cont_cols, date_cols : as in TabularPreprocessor
    median_sample : int
        Reservoir size per continuous column for the FillMissing median (and the
        quantile or robust scaler).
    seed : int
        Seeds the reservoirs.
    cont_scaling : {"standard", "quantile", "robust"}
        As in TabularPreprocessor.
    min_freq : int
        As in TabularPreprocessor.
    """

    def __init__(
        self,
        template: pd.DataFrame,
        cat_cols=None,
        cont_cols=None,
        date_cols=None,
        median_sample: int = MEDIAN_SAMPLE,
        seed: int = 0,
        cont_scaling: str = "standard",
        min_freq: int = 1,
    ) -> None:
        if not isinstance(median_sample, int) or median_sample < 1:
            raise ValueError(
                f"median_sample must be an int >= 1, got {median_sample!r}"
            )
        if cont_scaling not in CONT_SCALINGS:
            raise ValueError(
                f"cont_scaling must be one of {CONT_SCALINGS}, got {cont_scaling!r}"
            )
        pre = TabularPreprocessor(
            cat_cols=cat_cols, cont_cols=cont_cols, date_cols=date_cols,
            cont_scaling=cont_scaling, min_freq=min_freq,
        )  # fmt: skip
        Categorify(min_freq=min_freq)._check_params()
        roles = infer_roles(template, cat_cols, cont_cols, date_cols)
        pre.input_cat_cols_, pre.input_cont_cols_, pre.input_date_cols_ = roles
        _fitted(pre, list(template.columns))
        pre.date_expander_ = None
        cat_names, cont_names = list(roles[0]), list(roles[1])
        if roles[2]:
            dates = _fitted(DateExpander(date_cols=roles[2]), roles[2])
            dates.date_cols_ = list(roles[2])
            dates._set_names(dates._check_parts())
            _check_unique(list(template.columns) + dates._part_names())
            pre.date_expander_ = dates
            cat_names += dates.categorical_names_
            cont_names += dates.continuous_names_
        self.pre, self.cat_names, self.cont_names = pre, cat_names, cont_names
        self.counts = {c: CategoryCounts(c) for c in cat_names}
        self.moments = {c: Moments() for c in cont_names}
        self.samples = {
            c: Reservoir(median_sample, [seed, j]) for j, c in enumerate(cont_names)
        }
        self.missing = dict.fromkeys(cont_names, 0)

    def add(self, frame: pd.DataFrame) -> None:
        """Fold one chunk into the statistics."""
        pre = self.pre
        columns = {c: frame[c] for c in pre.input_cat_cols_ + pre.input_cont_cols_}
        if pre.date_expander_ is not None:
            parts = pre.date_expander_.transform(frame[pre.input_date_cols_])
            columns.update({c: parts[c] for c in parts.columns})
        for name in self.cat_names:
            self.counts[name].add(columns[name])
        for name in self.cont_names:
            values = as_float(columns[name], name)
            finite = np.isfinite(values)
            self.missing[name] += int(values.size - finite.sum())
            values = values[finite]
            self.samples[name].add(values)
            with np.errstate(over="ignore", invalid="ignore"):
                self.moments[name].add(values)

    def finish(self) -> TabularPreprocessor:
        """The fitted preprocessor, as ``TabularPreprocessor.fit`` would build it."""
        pre, conts = self.pre, self.cont_names
        pre.fill_missing_ = pre.categorify_ = pre.standardize_ = None
        pre.cont_scaler_ = None
        gappy = [c for c in conts if self.missing[c]]  # these get a <col>_na column
        indicators = [f"{c}_na" for c in gappy]
        if conts:
            fill = _fitted(FillMissing(list(conts)), conts)
            fill.fill_values_ = {c: self._median(c) for c in conts}
            fill.indicator_cols_ = gappy
            _check_unique(self.cat_names + conts + indicators)
            pre.fill_missing_ = fill
            pre.standardize_ = self._standardize(fill.fill_values_)
        cats = self.cat_names + indicators
        if cats:
            cat = _fitted(Categorify(max_card=None, min_freq=pre.min_freq), cats)
            cat.categories_ = {
                c: cat._select(*self.counts[c].levels_and_counts(), c)
                for c in self.cat_names
            }
            for c in gappy:
                counts = np.array([self.moments[c].n, self.missing[c]])
                levels = pd.Index([False, True], dtype=bool)
                cat.categories_[f"{c}_na"] = cat._select(levels, counts, f"{c}_na")
            cat._set_cardinalities()
            pre.categorify_ = cat
        pre._set_names()
        if conts and pre.cont_scaling != "standard":
            scaler = SCALERS[pre.cont_scaling](pre.cont_names_)
            pre.cont_scaler_ = scaler.fit(self._scaler_sample(pre))
        return pre

    def _scaler_sample(self, pre: TabularPreprocessor) -> np.ndarray:
        """Each column's reservoir plus its share of filled gaps, standardized and
        NaN-padded to one length (both scalers ignore NaN)."""
        cols = []
        for name in pre.cont_names_:
            sample = self.samples[name]
            kept = sample.values[: sample.filled]
            gaps = round(sample.filled * self.missing[name] / max(1, sample.seen))
            if not sample.filled:
                gaps = min(self.missing[name], sample.size)
            fill = pre.fill_missing_.fill_values_[name]
            values = np.concatenate([kept, np.full(gaps, fill)])
            z = pre.standardize_._scale_column(pd.Series(values), name)
            cols.append(np.clip(z, -CONT_CLIP, CONT_CLIP))
        out = np.full((max(len(c) for c in cols), len(cols)), np.nan)
        for j, col in enumerate(cols):
            out[: len(col), j] = col
        return out

    def _median(self, name: str) -> float:
        if not self.samples[name].filled:
            logger.warning(
                "FillMissing: column %r has no finite value in training; "
                "its missing values will be filled with 0.0",
                name,
            )
            return 0.0
        return self.samples[name].median()

    def _standardize(self, fills: dict[str, float]) -> Standardize:
        std = _fitted(Standardize(list(self.cont_names)), self.cont_names)
        std.means_, std.stds_ = {}, {}
        for name in self.cont_names:
            m = self.moments[name]
            filled = Moments()  # the finite values, then the gaps filled by the median
            filled.merge(m.n, m.mean, m.m2)
            filled.merge(self.missing[name], fills[name], 0.0)
            if not (math.isfinite(filled.mean) and math.isfinite(filled.std)):
                raise ValueError(
                    f"column {name!r}: its values are too large for the streaming "
                    "mean/std (they overflow float64); rescale the column or fit in "
                    "memory"
                )
            std.means_[name] = filled.mean
            std.stds_[name] = filled.std if filled.std > 0 else 1.0
        return std


class TargetEncoderStats:
    """One streaming pass over y: the task, and a fitted :class:`TargetEncoder`.

    ``task`` is the estimator's fixed task ("auto", "auto_classifier",
    "classification" or "regression"). With "auto", y is regression as soon as one
    chunk is float or continuous (sklearn's ``type_of_target``), else
    classification; an inferred classification is limited as in ``infer_task``.
    """

    def __init__(self, task: str, log_target: bool, scale: bool) -> None:
        if task == "multilabel":
            raise ValueError(
                "fit_parquet reads one target column; multi-label targets need the "
                "in-memory fit (EmbeddingModel.fit)"
            )
        self.task, self.log_target, self.scale = task, log_target, scale
        self.kinds: set[str] = set()
        self.labels: pd.Series | None = None
        self.moments, self.n, self.y_min = Moments(), 0, math.inf

    def add(self, y: np.ndarray) -> None:
        y = as_target_array(y, len(y))
        self.n += len(y)
        if self.task in ("auto", "auto_classifier", "classification"):
            kind = type_of_target(y)
            if self.task == "auto" and y.dtype.kind == "f":  # as infer_task
                kind = "continuous"
            if kind == "continuous" and self.task != "auto":
                raise ValueError(
                    "classification needs class labels, got a continuous y; use "
                    "EmbeddingRegressor or task='regression'"
                )
            self.kinds.add(kind)
            if kind != "continuous":
                values, counts = np.unique(y, return_counts=True)
                chunk = pd.Series(counts, index=values, dtype=np.int64)
                labels = self.labels
                self.labels = (
                    chunk if labels is None else labels.add(chunk, fill_value=0)
                )
        if self.task in ("auto", "regression") and y.dtype.kind in "biuf":
            yf = y.astype(np.float64)
            self.y_min = min(self.y_min, float(yf.min()))
            if self.log_target:
                yf = np.log1p(np.maximum(yf, -1 + 1e-12))
            self.moments.add(yf)

    def finish(self) -> tuple[str, TargetEncoder, np.ndarray | None]:
        """(task, fitted TargetEncoder, class counts or None)."""
        task = self.task
        if task == "auto":
            task = "regression" if "continuous" in self.kinds else "classification"
        elif task == "auto_classifier":
            task = "classification"
        if task == "classification":
            if self.task != "classification":
                check_class_count(len(self.labels), self.n)
            classes = np.unique(np.asarray(self.labels.index))
            counts = self.labels.reindex(classes).to_numpy(dtype=np.int64)
            if len(classes) < 2:
                raise ValueError(
                    f"classification needs at least 2 classes in y, got 1 class "
                    f"({classes[0]!r})"
                )
            n_out = 1 if len(classes) == 2 else len(classes)
            return task, TargetEncoder(task, classes=classes, n_out=n_out), counts
        if self.moments.n != self.n:
            raise ValueError("task='regression' needs a numeric y")
        if self.log_target and self.y_min <= -1:
            raise ValueError(
                "log_target=True takes log1p(y), so y must be > -1; "
                f"the smallest y is {self.y_min}"
            )
        mean, std = np.zeros(1), np.ones(1)
        if self.scale:
            mean[0], std[0] = self.moments.mean, self.moments.std or 1.0
        enc = TargetEncoder(task, mean=mean, std=std, log_target=self.log_target)
        return task, enc, None
