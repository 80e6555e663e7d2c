"""EmbeddingModel on parquet datasets larger than memory: fit and predict by chunks.

``EmbeddingModel.fit_parquet(path, target=...)`` makes one streaming pass over the
training row groups to fit the preprocessing and target statistics
(:mod:`tabtext.tabular.streaming_stats`), then trains the usual network on the core's
:class:`~tabtext.core.Learner` with a :class:`~tabtext.core.ParquetLoader`: each
epoch reads the row groups in a seeded random order, encodes each record batch with
the fitted preprocessor, and mixes rows across chunks in a bounded shuffle buffer. What is held
at once is bounded by ``batch_rows`` and ``shuffle_rows``, not by the dataset size.
``predict_parquet`` predicts chunk by chunk, into an array or a parquet file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from sklearn.utils.validation import check_is_fitted

from ..core import Learner, ParquetLoader, TensorLoader, distributed
from ..core.loaders import BATCH_ROWS, located
from . import resume
from .model import TabularModel
from .parquet_source import ParquetDataset
from .streaming_stats import MEDIAN_SAMPLE, PreprocessorStats, TargetStats
from .targets import as_target_array
from .validation import check_X

VALID_BATCH = 8192


def _check_rows(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return value


class ParquetFitMixin:
    """``fit_parquet`` / ``predict_parquet`` for :class:`EmbeddingModel`."""

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
        self._check_params()
        if distributed.world_size() > 1:
            raise NotImplementedError(
                "fit_parquet trains in one process; under torchrun use fit() (each "
                "rank takes its shard) or launch fit_parquet without torchrun"
            )
        batch_rows = _check_rows(batch_rows, "batch_rows")
        if shuffle_rows is not None:
            _check_rows(shuffle_rows, "shuffle_rows")
        data = ParquetDataset(path, target, columns)
        seed = self._seed()
        groups, valid = self._holdout(data, eval_set, seed)
        counts = self._fit_statistics(data, groups, batch_rows, median_sample, seed)
        identity = self._identity(data, [batch_rows, shuffle_rows, median_sample])
        rngs = torch.random.fork_rng(devices=self._rng_devices())
        with rngs, resume.global_rng_kept():
            torch.manual_seed(seed)
            self.model_ = TabularModel(self.config_)
            train = ParquetLoader(
                data, groups, self._encode_chunk, self.batch_size, batch_rows,
                shuffle=True, shuffle_rows=shuffle_rows, seed=seed,
                drop_last=sum(g.num_rows for g in groups) % self.batch_size == 1,
            )  # fmt: skip
            valid_dl, tensors = self._valid_loader(valid, batch_rows)
            learn = self._stream_learner(
                train, valid_dl, counts, seed, identity, tensors
            )
            start, self.lr_ = resume.start(learn, self.checkpoint_dir, self._pick_lr)
            learn.fit_one_cycle(self.epochs, self.lr_, start_epoch=start)
        self.history_ = learn.history
        self.stream_info_ = {
            "train_rows": train.n,
            "row_groups": len(groups),
            "max_rows_held": train.max_rows_held,
            "max_frame_rows": data.max_frame_rows,
        }
        self.model_.eval()
        self.model_.to("cpu")
        return self

    def _holdout(self, data: ParquetDataset, eval_set, seed: int):
        """Training row groups, and what validates: None, (X, y) or (dataset, groups)."""
        if isinstance(eval_set, (str, Path)):
            ev = ParquetDataset(eval_set, data.target, data.columns)
            return data.row_groups, (ev, ev.row_groups)
        if eval_set is not None or self.validation_fraction is None:
            return data.row_groups, eval_set
        groups = data.row_groups
        if len(groups) < 2:
            raise ValueError(
                f"validation_fraction holds out whole row groups, and {str(data.path)!r} "
                "has only 1; write it with smaller row groups (row_group_size=...) or "
                "pass eval_set"
            )
        n_valid = min(
            len(groups) - 1, max(1, round(self.validation_fraction * len(groups)))
        )
        held = set(
            np.random.default_rng(seed).permutation(len(groups))[:n_valid].tolist()
        )
        train = [g for i, g in enumerate(groups) if i not in held]
        return train, (data, [g for i, g in enumerate(groups) if i in held])

    def _fit_statistics(self, data, groups, batch_rows, median_sample, seed):
        """The one streaming pass: preprocessor, target encoder, task; class counts."""
        stats = PreprocessorStats(
            data.template(), self.cat_cols, self.cont_cols, self.date_cols,
            median_sample=median_sample, seed=seed,
        )  # fmt: skip
        ystats = TargetStats(self._fixed_task(), self.log_target, self.y_range is None)
        for frame, y, where in data.frames(groups, batch_rows):
            with located(where):
                stats.add(frame)
                ystats.add(y)
        if ystats.n < 2:
            raise ValueError(
                f"EmbeddingModel needs at least 2 samples, got {ystats.n} in "
                f"{str(data.path)!r}"
            )
        self.preprocessor_ = stats.finish()
        self.task_, self.target_, counts = ystats.finish()
        if self.task_ == "classification":
            self.classes_ = self.target_.classes
        self.input_columns_ = list(data.columns)
        self.feature_names_in_ = np.asarray(data.columns, dtype=object)
        self.n_features_in_ = len(data.columns)
        self.config_ = self._config()
        return counts

    def _encode_chunk(self, frame: pd.DataFrame, y: np.ndarray) -> list[torch.Tensor]:
        cats, conts = self.preprocessor_.transform(frame)
        target = self.target_.encode(as_target_array(y, len(frame)))
        return [torch.as_tensor(cats), torch.as_tensor(conts), target]

    def _valid_loader(self, valid, batch_rows: int):
        """The validation loader and, for an in-memory eval_set, its tensors."""
        if valid is None:
            return None, []
        if isinstance(valid[0], ParquetDataset):
            ds, groups = valid
            loader = ParquetLoader(
                ds, groups, self._encode_chunk, VALID_BATCH, batch_rows
            )
            return loader, []
        Xv, yv = valid
        frame = check_X(self, Xv, reset=False)
        cats, conts = self._tensors(frame)
        target = self.target_.encode(as_target_array(yv, len(frame)))
        loader = TensorLoader(cats, conts, target, batch_size=VALID_BATCH)
        return loader, [cats, conts, target]

    def _stream_learner(
        self, train, valid_dl, counts, seed, identity, tensors
    ) -> Learner:
        loss = self._stream_loss(counts)
        return self._new_learner(train, valid_dl, loss, seed, [identity, *tensors])

    def _stream_loss(self, counts: np.ndarray | None) -> torch.nn.Module:
        """The training loss; "balanced" class weights from the streamed class counts."""
        weight = self.class_weight
        if self.task_ != "classification":
            return self.target_.loss(np.zeros(0), None)
        classes = self.target_.classes
        if isinstance(weight, str) and weight == "balanced":
            balanced = counts.sum() / (len(counts) * counts)
            weight = dict(zip(classes.tolist(), balanced.tolist(), strict=True))
        return self.target_.loss(classes, weight)

    @staticmethod
    def _identity(data: ParquetDataset, extra: list) -> torch.Tensor:
        """What identifies the training data for ``checkpoint_dir`` resumes: files
        (path, size, mtime), columns, target and the reading parameters."""
        files = [
            (str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns)
            for f in data.files
        ]
        blob = json.dumps([files, data.columns, data.target, extra]).encode()
        return torch.frombuffer(bytearray(blob), dtype=torch.uint8)

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
        batch_rows = _check_rows(batch_rows, "batch_rows")
        data = ParquetDataset(path, None, self.input_columns_)
        preds = (
            self.predict(frame)
            for frame, _, _ in data.frames(data.row_groups, batch_rows)
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
