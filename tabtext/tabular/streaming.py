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
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from sklearn.utils.validation import check_is_fitted

from ..core import ParquetLoader, TensorLoader, distributed
from ..core.loaders import located
from .holdout import split_row_groups
from .parquet_source import ParquetDataset
from .streaming_stats import PreprocessorStats, TargetStats
from .targets import as_target_array
from .training import (
    TrainingData,
    batch_size_for,
    fit_seed,
    frame_tensors,
    network_config,
    train_network,
)
from .validation import check_params, check_rows, check_X, record_columns

VALID_BATCH = 8192


def fit_parquet(
    est,
    task: str,
    path: str | Path,
    target: str,
    columns: Sequence[str] | None,
    eval_set,
    batch_rows: int,
    shuffle_rows: int | None,
    median_sample: int,
):
    """``EmbeddingModel.fit_parquet`` for the estimator's fixed ``task``."""
    check_params(est)
    if distributed.world_size() > 1:
        raise NotImplementedError(
            "fit_parquet trains in one process; under torchrun use fit() (each "
            "rank takes its shard) or launch fit_parquet without torchrun"
        )
    batch_rows = check_rows(batch_rows, "batch_rows")
    if shuffle_rows is not None:
        check_rows(shuffle_rows, "shuffle_rows")
    data = ParquetDataset(path, target, columns)
    seed = fit_seed(est)
    groups, valid = split_row_groups(est, data, eval_set, seed)
    counts = _fit_statistics(est, task, data, groups, batch_rows, median_sample, seed)
    identity = _identity(data, [batch_rows, shuffle_rows, median_sample])
    n_train = sum(g.num_rows for g in groups)
    est.batch_size_ = batch_size_for(est, n_train)
    train = ParquetLoader(
        data, groups, _encoder(est), est.batch_size_, batch_rows,
        shuffle=True, shuffle_rows=shuffle_rows, seed=seed,
        drop_last=n_train % est.batch_size_ == 1,
    )  # fmt: skip
    valid_dl, tensors = _valid_loader(est, valid, batch_rows)
    loss = _stream_loss(est, counts)
    train_network(est, TrainingData(train, valid_dl, loss, [identity, *tensors]), seed)
    est.stream_info_ = {
        "train_rows": train.n,
        "row_groups": len(groups),
        "max_rows_held": train.max_rows_held,
        "max_frame_rows": data.max_frame_rows,
    }
    return est


def _fit_statistics(est, task, data, groups, batch_rows, median_sample, seed):
    """The one streaming pass: preprocessor, target encoder, task; class counts."""
    stats = PreprocessorStats(
        data.template(), est.cat_cols, est.cont_cols, est.date_cols,
        median_sample=median_sample, seed=seed,
    )  # fmt: skip
    ystats = TargetStats(task, est.log_target, est.y_range is None)
    for frame, y, where in data.frames(groups, batch_rows):
        with located(where):
            stats.add(frame)
            ystats.add(y)
    if ystats.n < 2:
        raise ValueError(
            f"EmbeddingModel needs at least 2 samples, got {ystats.n} in "
            f"{str(data.path)!r}"
        )
    est.preprocessor_ = stats.finish()
    est.task_, est.target_, counts = ystats.finish()
    if est.task_ == "classification":
        est.classes_ = est.target_.classes
    record_columns(est, data.columns)
    est.target_column_ = data.target
    est.config_ = network_config(est)
    return counts


def _encoder(est) -> Callable[[pd.DataFrame, np.ndarray], list[torch.Tensor]]:
    """Encodes a chunk with the fitted statistics: [cats, conts, target] tensors."""

    def encode(frame: pd.DataFrame, y: np.ndarray) -> list[torch.Tensor]:
        cats, conts = est.preprocessor_.transform(frame)
        target = est.target_.encode(as_target_array(y, len(frame)))
        return [torch.as_tensor(cats), torch.as_tensor(conts), target]

    return encode


def _valid_loader(est, valid, batch_rows: int):
    """The validation loader and, for an in-memory eval_set, its tensors."""
    if valid is None:
        return None, []
    if isinstance(valid[0], ParquetDataset):
        ds, groups = valid
        loader = ParquetLoader(ds, groups, _encoder(est), VALID_BATCH, batch_rows)
        return loader, []
    Xv, yv = valid
    frame = check_X(est, Xv, reset=False)
    cats, conts = frame_tensors(est, frame)
    target = est.target_.encode(as_target_array(yv, len(frame)))
    loader = TensorLoader(cats, conts, target, batch_size=VALID_BATCH)
    return loader, [cats, conts, target]


def _stream_loss(est, counts: np.ndarray | None) -> torch.nn.Module:
    """The training loss; "balanced" class weights from the streamed class counts."""
    weight = est.class_weight
    if est.task_ != "classification":
        return est.target_.loss(np.zeros(0), None)
    classes = est.target_.classes
    if isinstance(weight, str) and weight == "balanced":
        balanced = counts.sum() / (len(counts) * counts)
        weight = dict(zip(classes.tolist(), balanced.tolist(), strict=True))
    return est.target_.loss(classes, weight)


def _identity(data: ParquetDataset, extra: list) -> torch.Tensor:
    """What identifies the training data for ``checkpoint_dir`` resumes: files
    (path, size, mtime), columns, target and the reading parameters."""
    files = [
        (str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in data.files
    ]
    blob = json.dumps([files, data.columns, data.target, extra]).encode()
    return torch.frombuffer(bytearray(blob), dtype=torch.uint8)


def predict_parquet(
    est, path: str | Path, out: str | Path | None, batch_rows: int, column: str
) -> np.ndarray | Path:
    """``EmbeddingModel.predict_parquet``: ``est.predict`` chunk by chunk."""
    check_is_fitted(est, "model_")
    batch_rows = check_rows(batch_rows, "batch_rows")
    data = ParquetDataset(path, None, est.input_columns_)
    preds = (
        est.predict(frame) for frame, _, _ in data.frames(data.row_groups, batch_rows)
    )
    if out is None:
        return np.concatenate(list(preds))
    out = Path(out)
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
