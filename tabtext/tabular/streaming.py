"""EmbeddingModel on parquet datasets larger than memory: fit and predict by chunks.

``EmbeddingModel.fit_parquet(path, target=...)`` makes one streaming pass over the
training row groups to fit the preprocessing and target statistics
(:mod:`tabtext.tabular.streaming_stats`), then trains the usual network with the
shared tail of :mod:`tabtext.tabular.training` on a
:class:`~tabtext.core.ParquetLoader`: each epoch reads the row groups in a seeded
random order, encodes each record batch with the fitted preprocessor, and mixes rows
across chunks in a bounded shuffle buffer. What is held at once is bounded by
``batch_rows`` and ``shuffle_rows``, not by the dataset size. ``predict_parquet``
predicts chunk by chunk, into an array or a parquet file.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted

from ..core import ParquetLoader, RowWeighted, TensorLoader, distributed
from ..core.loaders import BATCH_ROWS, located
from .holdout import split_row_groups
from .parquet_source import ParquetDataset, write_predictions
from .preprocessing import TabularPreprocessor
from .streaming_stats import MEDIAN_SAMPLE, PreprocessorStats, TargetEncoderStats
from .tasks import TargetEncoder, as_target_array
from .training import (
    TrainingData,
    batch_size_for,
    fit_seed,
    frame_tensors,
    network_config,
    train_network,
)
from .validation import check_params, check_rows, check_sample_weight, check_X

VALID_BATCH = 8192
logger = logging.getLogger(__name__)


class ParquetMethods:
    """``fit_parquet`` and ``predict_parquet``, a base of
    :class:`~tabtext.tabular.estimator.EmbeddingModel`, which provides the
    parameters, ``_fixed_task``, ``_keep_training`` (the fitted attributes of a
    :class:`~tabtext.tabular.training.TrainResult`) and ``predict``."""

    def fit_parquet(
        self,
        path: str | Path,
        target: str,
        columns: Sequence[str] | None = None,
        *,
        eval_set: str | Path | tuple[Any, Any] | None = None,
        batch_rows: int = BATCH_ROWS,
        shuffle_rows: int | None = None,
        median_sample: int = MEDIAN_SAMPLE,
        weight: str | None = None,
    ):
        """Fit on a parquet file or directory that need not fit in memory.

        One streaming pass fits the preprocessing (category vocabularies, medians,
        means and stds, date parts) and the target scaling on the training row
        groups; the network then trains on record batches streamed each epoch in a
        seeded random row-group order through a bounded shuffle buffer. The result
        is the same kind of fitted estimator as :meth:`fit` gives (``predict``,
        ``save``/``load``, ``embeddings_`` ... unchanged).

        Parameters
        ----------
        path : str or Path
            A parquet file or a directory of parquet files.
        target : str
            The target column (regression, binary or multiclass labels).
        columns : list of str, optional
            Feature columns; default every column but ``target``.
        eval_set : path, or (X, y), optional
            Validation rows for early stopping and the best epoch: another parquet
            dataset (same ``target`` and ``columns``, streamed) or an in-memory
            ``(X, y)``. Without it, ``validation_fraction`` holds out that share of
            the *row groups* (seeded), which must then number at least 2.
        batch_rows : int
            Rows per record batch read (default 65,536).
        shuffle_rows : int, optional
            Shuffle-buffer size in rows (default ``4 * batch_rows``): rows are
            mixed within it across row groups. Memory is bounded by
            ``shuffle_rows + batch_rows`` encoded rows.
        median_sample : int
            Reservoir size per continuous column for the missing-value median;
            exact while a column has at most this many values (default 100,000).
        weight : str, optional
            A column of row weights >= 0 (not a feature), as ``sample_weight`` of
            :meth:`fit`: rows weighed 0 are left out, the others' training loss
            and validation score weighed (the parquet ``eval_set`` needs the column
            too; an in-memory one may be ``(X, y, sample_weight)``).

        Returns
        -------
        self
            With the usual fitted attributes, and ``stream_info_``: a dict of
            ``train_rows``, ``row_groups`` (training ones), ``max_rows_held`` (the
            most encoded rows the loader held) and ``max_frame_rows`` (the largest
            record batch read).

        Examples
        --------
        >>> est = EmbeddingRegressor(cat_cols=["Store"], log_target=True)
        >>> est.fit_parquet("sales/", "Sales", eval_set="valid.parquet")  # doctest: +SKIP
        >>> est.predict_parquet("test.parquet", out="preds.parquet")  # doctest: +SKIP
        """
        check_params(self)
        source = _source(
            self, path, target, columns, eval_set, batch_rows, shuffle_rows, weight
        )
        stats = _fit_statistics(self, self._fixed_task(), source, median_sample)
        self.task_ = stats.task
        self.target_ = stats.target.with_loss(self.loss, self.quantiles)
        self.preprocessor_ = stats.preprocessor
        self.target_stats_ = _no_target_stats(self.target_stats)
        if self.task_ == "classification":
            self.classes_ = self.target_.classes
        self.input_columns_ = list(source.data.columns)
        self.feature_names_in_ = np.asarray(source.data.columns, dtype=object)
        self.n_features_in_ = len(source.data.columns)
        self.target_column_ = source.data.target
        self.config_ = network_config(self)
        data, loader = _training_data(self, source, stats, median_sample)
        self._keep_training(train_network(self, data, source.seed))
        self.stream_info_ = {
            "train_rows": loader.n,
            "row_groups": len(source.groups),
            "max_rows_held": loader.max_rows_held,
            "max_frame_rows": source.data.max_frame_rows,
        }
        return self

    def predict_parquet(
        self,
        path: str | Path,
        out: str | Path | None = None,
        *,
        batch_rows: int = BATCH_ROWS,
        column: str = "prediction",
    ) -> np.ndarray | Path:
        """Predict the rows of a parquet file or directory, chunk by chunk.

        Parameters
        ----------
        path : str or Path
            Must have the columns seen at fit (others are ignored).
        out : str or Path, optional
            Write the predictions there as parquet (one column ``column``, or
            ``column_0, column_1, ...`` for 2-D predictions), in the dataset's row
            order, without holding them all; otherwise return them as an array.
        batch_rows : int
            Rows read and predicted at a time.

        Returns
        -------
        ndarray, or the Path of the written file
        """
        check_is_fitted(self, "model_")
        batch_rows = check_rows(batch_rows, "batch_rows")
        data = ParquetDataset(path, None, self.input_columns_)
        preds = (
            self.predict(frame)
            for frame, _, _ in data.frames(data.row_groups, batch_rows)
        )
        if out is None:
            return np.concatenate(list(preds))
        return write_predictions(preds, Path(out), column)


@dataclass(frozen=True)
class StreamSource:
    """A parquet fit's data: the dataset, its training row groups, what validates
    (None, ``(X, y)`` or ``(dataset, groups)``), the seed and the reading options."""

    data: ParquetDataset
    groups: list
    valid: Any
    seed: int
    batch_rows: int
    shuffle_rows: int | None


@dataclass(frozen=True)
class StreamStatistics:
    """What the streaming pass fits: task, preprocessor, target encoder, and the
    class counts (classification; None otherwise)."""

    task: str
    preprocessor: TabularPreprocessor
    target: TargetEncoder
    counts: np.ndarray | None
    n_rows: int  # training rows with a weight above 0 (all, without weights)
    weight_mean: float | None  # of those rows; None: no weights, or all equal


def _source(est, path, target, columns, eval_set, batch_rows, shuffle_rows, weight):
    """The dataset and its split, the options checked."""
    if distributed.world_size() > 1:
        raise NotImplementedError(
            "fit_parquet trains in one process; under torchrun use fit() (each "
            "rank takes its shard) or launch fit_parquet without torchrun"
        )
    batch_rows = check_rows(batch_rows, "batch_rows")
    if shuffle_rows is not None:
        check_rows(shuffle_rows, "shuffle_rows")
    data = ParquetDataset(path, target, columns, weight)
    seed = fit_seed(est)
    groups, valid = split_row_groups(est, data, eval_set, seed)
    return StreamSource(data, groups, valid, seed, batch_rows, shuffle_rows)


def _fit_statistics(
    est, task: str, source: StreamSource, median_sample: int
) -> StreamStatistics:
    """The one streaming pass: preprocessor, target encoder, task; class counts."""
    data = source.data
    stats = PreprocessorStats(
        data.template(), est.cat_cols, est.cont_cols, est.date_cols,
        median_sample=median_sample, seed=source.seed, cont_scaling=est.cont_scaling,
        min_freq=est.min_freq,
    )  # fmt: skip
    ystats = TargetEncoderStats(task, est.log_target, est.y_range is None)
    weights = WeightStats()
    for frame, y, where in data.frames(source.groups, source.batch_rows):
        with located(where):
            frame, y, w = _weighted_chunk(data, frame, y)
            weights.add(w)
            stats.add(frame)
            ystats.add(y)
    if ystats.n < 2:
        weighed = "" if data.weight is None else f" with a {data.weight!r} above 0"
        raise ValueError(
            f"EmbeddingModel needs at least 2 samples, got {ystats.n}{weighed} in "
            f"{str(data.path)!r}"
        )
    task, target, counts = ystats.finish()
    return StreamStatistics(
        task, stats.finish(), target, counts, ystats.n, weights.mean()
    )


class WeightStats:
    """Count, sum and range of the positive row weights met in the streaming pass."""

    def __init__(self) -> None:
        self.n, self.total, self.lo, self.hi = 0, 0.0, np.inf, -np.inf

    def add(self, w: np.ndarray | None) -> None:
        if w is None or not len(w):
            return
        self.n, self.total = self.n + len(w), self.total + float(w.sum())
        self.lo, self.hi = min(self.lo, float(w.min())), max(self.hi, float(w.max()))

    def mean(self) -> float | None:
        """The mean weight, or None when there are none or all are equal."""
        return None if self.n == 0 or self.lo == self.hi else self.total / self.n


def _weighted_chunk(data: ParquetDataset, frame: pd.DataFrame, y):
    """A chunk's ``(features, y, weights)`` without its rows weighed 0 (weights
    None without a weight column)."""
    frame, w = data.split_weight(frame)
    if w is None:
        return frame, y, None
    w = np.asarray(w, dtype=np.float64)
    if not (np.isfinite(w) & (w >= 0)).all():
        raise ValueError(
            f"weight column {data.weight!r} has a negative, NaN or inf value; give "
            "finite weights >= 0"
        )
    keep = w > 0
    return frame[keep], y[keep], w[keep]


def _no_target_stats(target_stats: int | None) -> None:
    """Out-of-fold target statistics need every row's fold: not streamed (yet)."""
    if target_stats is not None:
        logger.warning(
            "fit_parquet: target_stats=%r is ignored (out-of-fold target statistics "
            "are computed by fit() on data in memory only)",
            target_stats,
        )
    return None


def _training_data(est, source: StreamSource, stats: StreamStatistics, median_sample):
    """The training data, and its loader (which records the rows it held)."""
    n_train, mean = stats.n_rows, stats.weight_mean
    batch_size = batch_size_for(est.batch_size, n_train)
    train = ParquetLoader(
        source.data, source.groups, _encoder(est, mean, source.data), batch_size,
        source.batch_rows, shuffle=True, shuffle_rows=source.shuffle_rows,
        seed=source.seed, drop_last=n_train % batch_size == 1,
        weighted=mean is not None, n_rows=n_train,
    )  # fmt: skip
    valid_dl, tensors = _valid_loader(est, source.valid, source.batch_rows, mean)
    extra = [source.batch_rows, source.shuffle_rows, median_sample]
    if source.data.weight is not None:
        extra.append(source.data.weight)
    identity = _identity(source.data, extra)
    loss = _stream_loss(est, stats.counts)
    if mean is not None:
        loss = RowWeighted(loss)
    data = TrainingData(train, valid_dl, loss, [identity, *tensors], batch_size)
    return data, train


def _encoder(
    est, weight_mean: float | None, data: ParquetDataset
) -> Callable[[pd.DataFrame, np.ndarray], list[torch.Tensor]]:
    """Encodes a chunk of ``data`` with the fitted statistics: [cats, conts, target]
    tensors, and the row weights over ``weight_mean`` last when it is given; rows
    weighed 0 are left out."""

    def encode(frame: pd.DataFrame, y: np.ndarray) -> list[torch.Tensor]:
        frame, y, w = _weighted_chunk(data, frame, y)
        cats, conts = est.preprocessor_.transform(frame)
        target = est.target_.encode(as_target_array(y, len(frame)))
        parts = [torch.as_tensor(cats), torch.as_tensor(conts), target]
        if weight_mean is not None:
            parts.append(torch.as_tensor(w / weight_mean, dtype=torch.float32))
        return parts

    return encode


def _valid_loader(est, valid, batch_rows: int, weight_mean: float | None):
    """The validation loader and, for an in-memory eval_set, its tensors."""
    if valid is None:
        return None, []
    if isinstance(valid[0], ParquetDataset):
        ds, groups = valid
        encode = _encoder(est, weight_mean, ds)
        loader = ParquetLoader(
            ds,
            groups,
            encode,
            VALID_BATCH,
            batch_rows,
            weighted=weight_mean is not None,
        )
        return loader, []
    Xv, yv, *wv = valid
    frame = check_X(est, Xv, reset=False)
    cats, conts = frame_tensors(est, frame)
    target = est.target_.encode(as_target_array(yv, len(frame)))
    wv = check_sample_weight(wv[0], len(frame), "eval_set's weights") if wv else None
    if weight_mean is None or wv is None:
        loader = TensorLoader(cats, conts, target, batch_size=VALID_BATCH)
        return loader, [cats, conts, target]
    w = torch.as_tensor(wv, dtype=torch.float32)
    loader = TensorLoader(cats, conts, target, weights=w, batch_size=VALID_BATCH)
    return loader, [cats, conts, target, w]


def _stream_loss(est, counts: np.ndarray | None) -> torch.nn.Module:
    """The training loss; "balanced" class weights from the streamed class counts."""
    weight = est.class_weight
    if est.task_ != "classification":
        return est.target_.loss(np.zeros(0), None, est.label_smoothing)
    classes = est.target_.classes
    if isinstance(weight, str) and weight == "balanced":
        balanced = counts.sum() / (len(counts) * counts)
        weight = dict(zip(classes.tolist(), balanced.tolist(), strict=True))
    return est.target_.loss(classes, weight, est.label_smoothing)


def _identity(data: ParquetDataset, extra: list) -> torch.Tensor:
    """What identifies the training data for ``checkpoint_dir`` resumes: files
    (path, size, mtime), columns, target and the reading parameters."""
    files = [
        (str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in data.files
    ]
    blob = json.dumps([files, data.columns, data.target, extra]).encode()
    return torch.frombuffer(bytearray(blob), dtype=torch.uint8)
