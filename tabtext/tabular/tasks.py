"""What an EmbeddingModel predicts and how it learns it, per task: the task inferred
from y, the target encoded for training, the loss, and outputs decoded back to y."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd
import torch
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from torch import nn

from .losses import (
    QuantileLoss,
    SmoothBCEWithLogits,
    WeightedCrossEntropy,
    check_quantiles,
    check_smoothing,
)
from .numeric import finite_stat

Task = Literal["auto", "classification", "multilabel", "regression"]
TASKS = ("auto", "classification", "multilabel", "regression")
MAX_CLASSES = 2000  # an inferred classification has at most this many classes ...
MIN_SHARE_CLASSES = 50  # ... and, beyond this many, at most one per two rows


def as_target_array(y, n_rows: int) -> np.ndarray:
    """y as a 1-D or 2-D array of ``n_rows`` rows, with clear errors."""
    if y is None:
        raise ValueError(
            "this estimator requires y to be passed, but the target y is None"
        )
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        import warnings

        from sklearn.exceptions import DataConversionWarning

        warnings.warn(
            "A column-vector y was passed when a 1d array was expected; "
            "it was raveled to shape (n_samples,).",
            DataConversionWarning,
            stacklevel=3,
        )
        y = y.ravel()
    if y.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D or 2-D, got shape {y.shape}")
    if len(y) != n_rows:
        raise ValueError(
            f"X has {n_rows} rows but y has {len(y)}; they must have the same length"
        )
    if y.dtype.kind in "fc" and not np.isfinite(y).all():
        bad = np.argwhere(~np.isfinite(y))[0]
        raise ValueError(
            f"y has NaN or inf values (first at row {bad[0]}); drop or impute those rows"
        )
    if y.dtype.kind == "O":
        missing = [i for i, v in enumerate(y.ravel()) if v is None or v != v]
        if missing:
            raise ValueError(
                f"y has missing values (first at row {missing[0]}); drop those rows"
            )
    return y


def target_column(y) -> str | list[str] | None:
    """The name of y's column(s) when y is a named Series or a DataFrame, else None
    (saved with the model, so that ``tabtext.tabular.predict`` can score a file)."""
    if isinstance(y, pd.Series) and y.name is not None:
        return str(y.name)
    if isinstance(y, pd.DataFrame):
        return [str(c) for c in y.columns]
    return None


def infer_task(y: np.ndarray, task: Task) -> str:
    """'classification', 'multilabel' or 'regression', from ``task`` or from y.

    ``task="auto"``: a 2-D 0/1 matrix is multi-label, any other float y regression
    (sklearn's ``type_of_target`` calls integral floats such as Rossmann's sales
    "multiclass"), strings, bools and integers classification -- within
    :func:`check_class_count`. ``"auto_classifier"`` (``EmbeddingClassifier``):
    multi-label or classification, within the same limit. An explicit
    ``"classification"`` takes any number of classes.
    """
    try:
        with np.errstate(invalid="ignore"):  # its int cast of floats near 1e308
            kind = type_of_target(y)
    except TypeError:  # numpy cannot sort labels such as ["a", 0]
        kinds = sorted({type(v).__name__ for v in y.ravel()})
        raise TypeError(
            f"y mixes label types {kinds} that cannot be ordered; make them all str "
            "or all numbers (e.g. y.astype(str))"
        ) from None
    inferred = task in ("auto", "auto_classifier")
    if task == "auto_classifier":  # EmbeddingClassifier(task="auto")
        task = "multilabel" if kind == "multilabel-indicator" else "classification"
    elif task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if task == "auto":
        task = _auto_task(y, kind)
    if task == "classification":
        check_classification_targets(y)
        if y.ndim == 2:
            raise ValueError(
                f"task='classification' needs a 1-D y, got shape {y.shape}; "
                "for a 0/1 label matrix use task='multilabel'"
            )
        if inferred:
            check_class_count(len(np.unique(y)), len(y))
    if task == "multilabel" and kind != "multilabel-indicator":
        raise ValueError(f"task='multilabel' needs a 2-D 0/1 y, got a {kind!r} target")
    if task == "regression" and y.dtype.kind not in "biuf":
        try:
            y.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                "regression (task='regression', or log_target=True or a y_range, "
                f"which mean regression) needs a numeric y, got dtype {y.dtype}"
            ) from None
    return task


def _auto_task(y: np.ndarray, kind: str) -> str:
    if kind == "multilabel-indicator":
        return "multilabel"
    if kind in ("continuous", "continuous-multioutput") or y.dtype.kind == "f":
        return "regression"
    if kind in ("binary", "multiclass"):
        return "classification"
    raise ValueError(
        f"cannot infer the task from a target of type {kind!r}; "
        "set task= or use EmbeddingClassifier / EmbeddingRegressor"
    )


def check_class_count(n_classes: int, n_rows: int) -> None:
    """Refuse an inferred classification whose labels are too many to be classes:
    more than ``MAX_CLASSES``, or more than ``MIN_SHARE_CLASSES`` and more than
    half the rows -- a numeric target read as labels, whose output layer would be
    huge and slow."""
    too_many = n_classes > MAX_CLASSES or (
        n_classes > MIN_SHARE_CLASSES and n_classes > n_rows / 2
    )
    if too_many:
        raise ValueError(
            f"y has {n_classes:,} distinct labels for {n_rows:,} rows: too many for "
            f"classification (at most {MAX_CLASSES:,} classes, and at most half the "
            "rows when there are more than "
            f"{MIN_SHARE_CLASSES}), so it looks like a numeric target. Use "
            "task='regression' (or EmbeddingRegressor, or y.astype(float)); to "
            "train a classifier on these labels anyway, pass task='classification'"
        )


@dataclass
class TargetEncoder:
    """Turns y into training tensors and model outputs back into predictions."""

    task: str
    classes: np.ndarray | None = None
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    log_target: bool = False
    n_out: int = 1
    quantiles: tuple[float, ...] | None = None  # loss="quantile": one output each

    @property
    def n_columns(self) -> int:
        """Columns of the encoded target (outputs but for quantiles: one)."""
        return 1 if self.quantiles else self.n_out

    def with_loss(self, loss: str, quantiles) -> TargetEncoder:
        """This encoder for ``loss`` ("auto": the task's own; "quantile": one output
        per quantile of a single regression target, trained with the pinball loss)."""
        if loss == "auto":
            return self
        if loss != "quantile":
            raise ValueError(f"loss must be 'auto' or 'quantile', got {loss!r}")
        if self.task != "regression" or self.n_out != 1:
            raise ValueError(
                f"loss='quantile' is for regression on one target column, and this "
                f"fit is {self.task} with {self.n_out} output(s); use loss='auto'"
            )
        return replace(self, quantiles=check_quantiles(quantiles), n_out=len(quantiles))

    @classmethod
    def fit(
        cls, y: np.ndarray, task: str, log_target: bool, scale: bool
    ) -> TargetEncoder:
        if task == "classification":
            classes = np.unique(y)
            if len(classes) < 2:
                raise ValueError(
                    f"classification needs at least 2 classes in y, got 1 class "
                    f"({classes[0]!r})"
                )
            return cls(
                task, classes=classes, n_out=1 if len(classes) == 2 else len(classes)
            )
        if task == "multilabel":
            return cls(task, n_out=y.shape[1])
        yt = _log(y) if log_target else y.astype(np.float64)
        yt = yt.reshape(len(yt), -1)
        mean, std = np.zeros(yt.shape[1]), np.ones(yt.shape[1])
        if scale:  # overflow-safe even for targets near 1e308
            mean = np.array([finite_stat(np.mean, col) for col in yt.T])
            std = np.array([finite_stat(np.std, col) for col in yt.T])
        std[std == 0] = 1.0
        return cls(task, mean=mean, std=std, log_target=log_target, n_out=yt.shape[1])

    def encode(self, y: np.ndarray) -> torch.Tensor:
        if self.task == "classification":
            idx = np.searchsorted(self.classes, y)
            bad = (idx >= len(self.classes)) | (
                self.classes[np.minimum(idx, len(self.classes) - 1)] != y
            )
            if bad.any():
                raise ValueError(
                    f"y has labels not seen in training: {np.unique(y[bad])[:5]}"
                )
            if self.n_out == 1:
                return torch.as_tensor(idx, dtype=torch.float32).unsqueeze(1)
            return torch.as_tensor(idx, dtype=torch.long)
        if self.task == "multilabel":
            return torch.as_tensor(np.asarray(y, dtype=np.float32))
        yt = _log(y) if self.log_target else y.astype(np.float64)
        yt = yt.reshape(len(yt), -1)
        with np.errstate(over="ignore", invalid="ignore"):
            z = (yt - self.mean) / self.std
            if not np.isfinite(z).all():  # y - mean overflowed: same value, no overflow
                z = yt / self.std - self.mean / self.std
        return torch.as_tensor(z, dtype=torch.float32)

    def loss(
        self,
        y: np.ndarray,
        class_weight,
        label_smoothing: float = 0.0,
        sample_weight: np.ndarray | None = None,
    ) -> nn.Module:
        """The training loss; ``label_smoothing`` applies to classification.

        With ``sample_weight`` (of the rows of ``y``) the "balanced" class weights
        and the class-weighted loss's normalisation count each row by its weight,
        as the rows it stands for would."""
        if self.task == "regression":
            return QuantileLoss(self.quantiles) if self.quantiles else nn.MSELoss()
        if self.task == "multilabel":
            return SmoothBCEWithLogits(label_smoothing)
        weights = None
        if class_weight is not None:
            weights = compute_class_weight(
                class_weight, classes=self.classes, y=y, sample_weight=sample_weight
            )
        if self.n_out == 1:
            pos = None if weights is None else torch.tensor([weights[1] / weights[0]])
            return SmoothBCEWithLogits(label_smoothing, pos_weight=pos)
        eps = check_smoothing(label_smoothing)
        if weights is None:
            return nn.CrossEntropyLoss(label_smoothing=eps)
        row_weights = weights[np.searchsorted(self.classes, y)]
        norm = np.average(row_weights, weights=sample_weight)  # per training row
        w = torch.as_tensor(weights, dtype=torch.float32)
        return WeightedCrossEntropy(w, norm, label_smoothing=eps)

    def proba(self, out: torch.Tensor) -> np.ndarray:
        """Class (or label) probabilities from raw model outputs."""
        if self.task == "multilabel" or self.n_out == 1:
            p = torch.sigmoid(out.float()).numpy()
            return np.hstack([1 - p, p]) if self.task == "classification" else p
        return torch.softmax(out.float(), 1).numpy()

    def labels(self, encoded: torch.Tensor) -> np.ndarray:
        """Encoded targets (what :meth:`encode` gave) back in y's labels and units."""
        if self.task == "classification":
            return self.classes[encoded.reshape(-1).long().numpy()]
        if self.task == "multilabel":
            return encoded.numpy().astype(np.int64)
        y = self._values(encoded)
        return y.ravel() if y.shape[1] == 1 else y

    def decode(self, out: torch.Tensor) -> np.ndarray:
        """Predictions in the units and labels of the training y (the median with
        quantiles)."""
        if self.task == "classification":
            return self.classes[self.proba(out).argmax(1)]
        if self.task == "multilabel":
            return (self.proba(out) > 0.5).astype(np.int64)
        if self.quantiles:
            return self.decode_quantiles(out)[:, self.quantiles.index(0.5)]
        y = self._values(out)
        return y.ravel() if y.shape[1] == 1 else y

    def decode_quantiles(self, out: torch.Tensor) -> np.ndarray:
        """``(rows, len(quantiles))`` predicted quantiles in y's units, sorted along
        each row so that they never cross (monotone rearrangement, Chernozhukov et
        al. 2010)."""
        return np.sort(self._values(out), axis=1)

    def _values(self, out: torch.Tensor) -> np.ndarray:
        """Standardised (log-)values back in y's units, as ``(rows, columns)``."""
        with np.errstate(over="ignore"):
            y = out.double().numpy() * self.std + self.mean
            y = np.expm1(y) if self.log_target else y
        # an output beyond float64's range (targets near 1e308, or expm1 of a large
        # log-prediction) saturates at the largest float instead of becoming inf
        big = np.finfo(np.float64).max
        return np.clip(y, -big, big)

    def to_dict(self) -> dict:
        d = {"task": self.task, "log_target": self.log_target, "n_out": self.n_out}
        if self.classes is not None:
            d["classes"] = self.classes.tolist()
            d["classes_dtype"] = (
                self.classes.dtype.str if self.classes.dtype.kind != "O" else "O"
            )
        if self.mean is not None:
            d["mean"], d["std"] = self.mean.tolist(), self.std.tolist()
        if self.quantiles:
            d["quantiles"] = list(self.quantiles)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TargetEncoder:
        classes = None
        if "classes" in d:
            dtype = (
                object if d["classes_dtype"] == "O" else np.dtype(d["classes_dtype"])
            )
            classes = np.array(d["classes"], dtype=dtype)
        mean = np.array(d["mean"]) if "mean" in d else None
        std = np.array(d["std"]) if "std" in d else None
        quantiles = tuple(d["quantiles"]) if d.get("quantiles") else None
        return cls(
            d["task"], classes, mean, std, d["log_target"], d["n_out"], quantiles
        )


def _log(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if (y <= -1).any():
        raise ValueError(
            "log_target=True takes log1p(y), so y must be > -1; "
            f"the smallest y is {y.min()}"
        )
    return np.log1p(y)
