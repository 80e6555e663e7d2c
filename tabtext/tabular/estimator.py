"""EmbeddingModel: entity embeddings (Guo & Berkhahn 2016) as a scikit-learn estimator.

Categorical columns are embedded (categories seen fewer than ``min_freq`` times share
the unknown row), continuous ones filled, standardised and embedded with PLR
(Gorishniy et al. 2022), and an MLP is trained on the core's Learner with one-cycle
(Smith 2018). The defaults were chosen by ``benchmarks/tabular_ablation.py``. ``EmbeddingClassifier``
and ``EmbeddingRegressor`` fix the task; ``EmbeddingModel`` infers it from y.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    TransformerMixin,
)
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ..core import Callback
from .holdout import split_rows, weighted_rows
from .persistence import load_estimator, save_estimator
from .preprocessing import TabularPreprocessor
from .streaming import ParquetMethods
from .tasks import TargetEncoder, as_target_array, infer_task, target_column
from .training import (
    TrainResult,
    fit_seed,
    frame_tensors,
    network_config,
    predict_outputs,
    target_statistics,
    tensor_data,
    train_network,
)
from .validation import check_params, check_sample_weight, check_X


def _can_predict_proba(est) -> bool:
    return (
        est._fixed_task() != "regression"
        and getattr(est, "task_", None) != "regression"
    )


def _predicts_quantiles(est) -> bool:
    return est.loss == "quantile"


class EmbeddingModel(ParquetMethods, TransformerMixin, BaseEstimator):
    """Entity-embedding network for tables with categorical columns.

    ``fit_parquet`` / ``predict_parquet`` train and predict from parquet datasets
    larger than memory, chunk by chunk (:mod:`tabtext.tabular.streaming`).

    Parameters
    ----------
    task : {"auto", "classification", "multilabel", "regression"}
        "auto": regression for a float y (integral floats such as ``1.0, 2.0``
        included) and whenever ``log_target=True`` or a ``y_range`` is given; a
        2-D 0/1 matrix is multi-label; labels that are strings, bools or integers
        give classification, unless they are too many to be classes (more than
        2,000, or more than 50 and more than half the rows), which is refused with
        an error. Use ``EmbeddingRegressor`` (or ``task="regression"``) for
        integer targets such as counts; an explicit ``task="classification"``
        trains on any number of classes.
    cat_cols, cont_cols, date_cols : lists of column names, optional
        Override the roles inferred from dtypes: object/string/category/bool columns
        are categorical; other numeric columns, integer codes included, are
        continuous unless named in ``cat_cols``; datetime columns are expanded into
        parts (year, month, week, day, dayofweek, ... , elapsed).
    min_freq : int
        Categories seen fewer times than this in training share code 0 with the
        missing and unseen values, so that an unseen category at predict time gets
        an embedding trained on the rare ones.
    emb_sizes : dict column -> int, optional
        Embedding size per categorical column, e.g. ``{"DayOfWeek": 4}``; the
        others use ``min(600, round(1.6 * n_categories ** 0.56))``.
    layers, ps : MLP sizes and their dropout probabilities.
    emb_drop : dropout on the embeddings.
    cont_scaling : {"standard", "quantile", "robust"}
        Continuous columns standardized, quantile-transformed to a normal
        distribution, or robustly scaled and smoothly clipped
        (:mod:`tabtext.tabular.scaling`).
    num_embedding : {"none", "plr"}
        Continuous columns each embedded by PLR (periodic features, linear, ReLU;
        :mod:`tabtext.tabular.num_embeddings`), or batch-normed into the MLP as
        they are ("none").
    label_smoothing : float
        Classification and multi-label targets smoothed by this much (0 = off).
    target_stats : int or None
        Categorical columns with at least this many categories also get out-of-fold
        smoothed mean-target statistics as continuous inputs
        (:mod:`tabtext.tabular.target_stats`); None turns them off.
    y_range : (low, high), optional
        Regression output squashed by a scaled sigmoid into this range, in the
        units of the (log-)target.
    log_target : bool
        Regression on ``log1p(y)``, predictions mapped back with ``expm1``.
    class_weight : None, "balanced" or dict label -> weight.
    epochs : int or "auto"
        "auto": 5 epochs, and at least 200 optimiser steps in all, as long as that
        takes at most 20 passes over the rows: on a small table each epoch goes
        over the rows several times (reshuffled); from about 20,000 rows an epoch
        is one pass. An int: exactly that many epochs of one pass.
    batch_size : int or "auto"
        "auto": 512 rows (1,024 from 250,000 training rows), but a small table
        is cut into up to 8 balanced batches of at least 8 rows (under 16 rows,
        one batch). The values used are in
        ``batch_size_``, ``n_steps_`` (optimiser steps) and ``passes_per_epoch_``
        after fit.
    lr, weight_decay :
        Training with one-cycle; ``lr="auto"`` uses the LR finder's suggestion.
    validation_fraction : float, optional
        Hold out this share of the training rows (stratified for classification)
        for early stopping; ``eval_set=(X, y)`` in ``fit`` does the same with given
        rows. The weights of the best validation epoch are kept.
    n_iter_no_change : int or None
        Early-stopping patience in epochs when a validation set exists.
    eval_metric : "loss", "accuracy", "roc_auc", "f1", "rmse", "mae", an
        :class:`~tabtext.tabular.EvalMetric`, or ``(callable, "max" | "min")``
        What picks the best epoch and stops early on the validation set: its loss,
        or a score of y and the predictions (or probabilities, for "roc_auc"),
        weighted by the validation rows' weights; the score is a column of
        ``history_`` (:mod:`tabtext.tabular.eval_metric`).
    loss : {"auto", "quantile"}
        "auto": the task's loss (cross-entropy, MSE on the standardised target);
        "quantile" (regression on one target): one output per ``quantiles``
        entry, trained with the pinball loss; ``predict`` returns the median and
        ``predict_quantiles`` all of them (sorted, so that they never cross).
    quantiles : increasing floats in (0, 1) including 0.5
        The quantiles of ``loss="quantile"``.
    callbacks : list of :class:`tabtext.core.Callback`, optional
        Added to the Learner of every fit as given (a logger or an
        ``OptunaPruning`` you hold sees the fit; ``clone`` copies them), e.g. a
        CSVLogger or GradientClip.
    random_state : int, optional
        Seeds weight initialisation, dropout and shuffling (without touching the
        global RNG state).
    device : "cpu", "cuda", ... ; default CUDA when available.
    verbose : int
        0 (default) is silent; > 0 shows a progress bar on a terminal and one line
        per epoch otherwise (losses, metrics, rows/s, elapsed and remaining time).
    checkpoint_dir : str or Path, optional
        Save the training state into this folder after every epoch (``last/``, and
        ``best/`` with a validation set). A fit that was killed and is started again
        with the same data, parameters and an int ``random_state`` resumes after the
        last saved epoch and ends with the same weights as an uninterrupted fit; a
        different fit starts afresh and replaces the checkpoint. A corrupted
        checkpoint is refused with a ``CheckpointError`` naming the file. One fit
        per folder at a time.
    """

    def __init__(
        self,
        task: Literal["auto", "classification", "multilabel", "regression"] = "auto",
        cat_cols: list[str] | None = None,
        cont_cols: list[str] | None = None,
        date_cols: list[str] | None = None,
        min_freq: int = 3,
        emb_sizes: dict[str, int] | None = None,
        layers: tuple[int, ...] = (200, 100),
        ps: tuple[float, ...] = (0.1, 0.1),
        emb_drop: float = 0.0,
        cont_scaling: Literal["standard", "quantile", "robust"] = "standard",
        num_embedding: Literal["none", "plr"] = "plr",
        label_smoothing: float = 0.0,
        target_stats: int | None = None,
        y_range: tuple[float, float] | None = None,
        log_target: bool = False,
        class_weight: Any = None,
        epochs: int | Literal["auto"] = "auto",
        lr: float | Literal["auto"] = 1e-2,
        batch_size: int | Literal["auto"] = "auto",
        weight_decay: float = 0.01,
        validation_fraction: float | None = None,
        n_iter_no_change: int | None = 3,
        eval_metric: Any = "loss",
        loss: Literal["auto", "quantile"] = "auto",
        quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
        callbacks: Sequence[Callback] | None = None,
        random_state: int | None = None,
        device: str | None = None,
        verbose: int = 0,
        checkpoint_dir: str | Path | None = None,
    ):
        self.task = task
        self.cat_cols = cat_cols
        self.cont_cols = cont_cols
        self.date_cols = date_cols
        self.min_freq = min_freq
        self.emb_sizes = emb_sizes
        self.layers = layers
        self.ps = ps
        self.emb_drop = emb_drop
        self.cont_scaling = cont_scaling
        self.num_embedding = num_embedding
        self.label_smoothing = label_smoothing
        self.target_stats = target_stats
        self.y_range = y_range
        self.log_target = log_target
        self.class_weight = class_weight
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.eval_metric = eval_metric
        self.loss = loss
        self.quantiles = quantiles
        self.callbacks = callbacks
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.checkpoint_dir = checkpoint_dir

    # ---- sklearn plumbing ---------------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.input_tags.sparse = False
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        if tags.classifier_tags is not None:
            tags.classifier_tags.multi_label = True
        return tags

    # ---- fit ------------------------------------------------------------------------------
    def fit(
        self,
        X,
        y,
        eval_set: tuple[Any, ...] | None = None,
        sample_weight: Any = None,
    ) -> EmbeddingModel:
        """Fit the preprocessing and the network on ``X, y``; returns self.

        A named Series y (or a DataFrame) leaves its column name(s) in
        ``target_column_`` (None otherwise), saved with the model.

        ``sample_weight`` (one weight >= 0 per row) weighs each row's training loss
        and, for the rows held out by ``validation_fraction``, the validation loss
        and ``eval_metric``; ``eval_set=(X, y, sample_weight)`` weighs given
        validation rows. Rows weighed 0 are left out (also of the preprocessing),
        and the weights are scaled to a mean of 1, so only their ratios count.
        """
        check_params(self)
        frame = check_X(self, X, reset=True)
        self.target_column_ = target_column(y)
        y = as_target_array(y, len(frame))
        weight = check_sample_weight(sample_weight, len(frame))
        frame, y, weight = weighted_rows(frame, y, weight)
        if len(frame) < 2:
            raise ValueError(
                f"EmbeddingModel needs at least 2 samples, got {len(frame)} sample"
                + (" with a weight above 0" if sample_weight is not None else "")
            )
        self.task_ = infer_task(y, self._fixed_task())
        frame, y, weight, valid = split_rows(self, frame, y, weight, eval_set)
        self.preprocessor_ = TabularPreprocessor(
            cat_cols=self.cat_cols, cont_cols=self.cont_cols,
            date_cols=self.date_cols, min_freq=self.min_freq,
            cont_scaling=self.cont_scaling,
        ).fit(frame)  # fmt: skip
        self.target_ = TargetEncoder.fit(
            y, self.task_, self.log_target, scale=self.y_range is None
        ).with_loss(self.loss, self.quantiles)
        if self.task_ == "classification":
            self.classes_ = self.target_.classes
        self.target_stats_ = target_statistics(self)  # fitted with the training rows
        self.config_ = network_config(self)
        seed = fit_seed(self)
        data = tensor_data(self, frame, y, valid, seed, weight)
        self._keep_training(train_network(self, data, seed))
        return self

    def _keep_training(self, result: TrainResult) -> None:
        """The fitted attributes that training gives (``fit`` and ``fit_parquet``)."""
        self.model_ = result.model
        self.batch_size_ = result.batch_size
        self.lr_ = result.lr
        self.n_steps_ = result.n_steps
        self.passes_per_epoch_ = result.passes_per_epoch
        self.history_ = result.history

    def _fixed_task(self) -> str:
        """The task as far as the parameters fix it: "auto" unless given, or unless
        ``log_target`` / ``y_range``, which only make sense for regression."""
        if self.task == "auto" and (self.log_target or self.y_range is not None):
            return "regression"
        return self.task

    # ---- predict ----------------------------------------------------------------------
    def _outputs(self, X, forward=None) -> torch.Tensor:
        """The network's outputs (or ``forward(model, (cats, conts))``) for ``X``, on
        the CPU where the fitted estimator lives."""
        check_is_fitted(self, "model_")
        frame = check_X(self, X, reset=False)
        cats, conts = frame_tensors(self, frame)
        return predict_outputs(self, cats, conts, forward)

    def predict(self, X) -> np.ndarray:
        """Labels (classification), 0/1 matrix (multi-label) or values (regression)."""
        out = self._outputs(X)
        return self.target_.decode(out)

    @available_if(_predicts_quantiles)
    def predict_quantiles(self, X) -> np.ndarray:
        """``(rows, len(quantiles))`` predicted quantiles of y (``loss="quantile"``),
        in y's units, increasing along each row."""
        return self.target_.decode_quantiles(self._outputs(X))

    @available_if(_can_predict_proba)
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (classification) or label probabilities (multi-label)."""
        out = self._outputs(X)
        return self.target_.proba(out)

    def score(self, X, y) -> float:
        """Accuracy for classification and multi-label (exact match), R^2 for regression."""
        pred = self.predict(X)
        if self.task_ == "regression":
            return float(r2_score(y, pred))
        return float(accuracy_score(np.asarray(y), pred))

    def transform(self, X) -> np.ndarray:
        """The embedded representation: embeddings concatenated with processed conts."""
        out = self._outputs(X, forward=lambda model, x: model.embed(*x))
        return out.numpy().astype(np.float32, copy=False)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "model_")
        names = [
            f"{c}_emb{j}"
            for c, d in zip(self.preprocessor_.cat_names_, self.config_.emb_sizes)
            for j in range(d)
        ]
        names += list(self.preprocessor_.cont_names_)
        if self.target_stats_ is not None:
            names += self.target_stats_.feature_names()
        return np.asarray(names, dtype=object)

    # ---- embeddings for reuse -----------------------------------------------------------
    @property
    def embeddings_(self) -> dict[str, pd.DataFrame]:
        """{column: DataFrame indexed by category (row 0 = unknown/missing)}."""
        check_is_fitted(self, "model_")
        out = {}
        for i, name in enumerate(self.preprocessor_.cat_names_):
            w = self.model_.embeds[i].weight.detach().numpy()
            labels = self.preprocessor_.category_labels(name)
            out[name] = pd.DataFrame(
                w,
                index=pd.Index(labels, name=name),
                columns=[f"emb{j}" for j in range(w.shape[1])],
            )
        return out

    def plot_embedding(
        self, column: str, path: str | Path, max_labels: int = 60
    ) -> Path:
        """PNG of a column's embedding projected on its 2 principal components."""
        from .plots import plot_embedding

        emb = self.embeddings_
        if column not in emb:
            raise ValueError(
                f"{column!r} is not an embedded column; embedded: {list(emb)}"
            )
        return plot_embedding(emb[column], column, path, max_labels)

    # ---- persistence --------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the fitted estimator as safetensors + JSON (no pickle)."""
        check_is_fitted(self, "model_")
        return save_estimator(self, path)

    @classmethod
    def load(cls, path: str | Path) -> EmbeddingModel:
        """Load what :meth:`save` wrote; never executes code from the files."""
        return load_estimator(path)

    def export_onnx(self, path: str | Path) -> Path:
        """Write the network and its target decoding as one ONNX file.

        Inputs ``cats``/``conts`` are ``preprocessor_.transform(X)``; outputs are
        ``probabilities`` and ``class_index`` (classification), ``probabilities``
        (multi-label) or ``prediction`` (regression, in y's units). Needs the
        ``onnx`` extra; see :mod:`tabtext.tabular.onnx_export`.
        """
        from .onnx_export import export_onnx

        return export_onnx(self, path)


class EmbeddingClassifier(ClassifierMixin, EmbeddingModel):
    """:class:`EmbeddingModel` for classification; ``task="auto"`` means binary/multiclass
    labels (at most 2,000, and at most half the rows beyond 50), or multi-label for a
    2-D 0/1 y; ``task="classification"`` takes any number of classes."""

    def _fixed_task(self) -> str:
        return "auto_classifier" if self.task == "auto" else self.task


class EmbeddingRegressor(RegressorMixin, EmbeddingModel):
    """:class:`EmbeddingModel` for regression, integer targets (counts) included;
    ``task="auto"`` means regression."""

    def _fixed_task(self) -> str:
        return "regression" if self.task == "auto" else self.task


__all__ = ["EmbeddingClassifier", "EmbeddingModel", "EmbeddingRegressor"]
