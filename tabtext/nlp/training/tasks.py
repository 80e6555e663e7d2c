"""What a text model predicts and how it learns it: head size, loss, metrics, outputs.

- ``classification``: one softmax output per class, cross-entropy, optionally
  class-weighted: ``"balanced"`` gives class ``c`` the weight ``n / (C * n_c)`` over
  the training labels (inverse frequency, scikit-learn's ``compute_class_weight``),
  or a dict ``{class: weight}`` (classes left out weigh 1). Metric: accuracy.
- ``multilabel``: one sigmoid output per label, binary cross-entropy, a label is
  predicted when its probability exceeds 0.5. Metrics: micro-F1 and subset accuracy
  (the share of rows whose whole label set is right).
- ``regression``: one linear output trained on the standardised target
  ``z = (y - mean) / std`` (mean and std of the training labels) with MSE or
  smooth-L1 (Huber with beta 1, in std units), decoded back with
  ``y = z * std + mean``. Metrics: MAE and RMSE on the label's own scale.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...core.losses import RowWeighted
from ..text.labels import REGRESSION_LOSSES, TASKS, check_task_options

__all__ = ["REGRESSION_LOSSES", "TextTask", "check_task_options"]

METRICS = {
    "classification": ("accuracy",),
    "multilabel": ("micro_f1", "subset_accuracy"),
    "regression": ("mae", "rmse"),
}
#: metrics computed only when a run monitors them (``ULMFiTConfig.monitor``)
EXTRA_METRICS = {"classification": ("f1", "roc_auc")}


@dataclass(frozen=True)
class TextTask:
    """A text model's task and what was learned about its labels.

    Parameters
    ----------
    kind : {"classification", "multilabel", "regression"}
    label_sep : str
        Separator of several labels in one string (multilabel files).
    regression_loss : {"mse", "smooth_l1"}
    mean, std : float
        Of the training labels (regression): the output is ``z * std + mean``.
    class_weight : tuple of float, optional
        The cross-entropy weight of each class, in class order.
    """

    kind: str = "classification"
    label_sep: str = "|"
    regression_loss: str = "mse"
    mean: float = 0.0
    std: float = 1.0
    class_weight: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.kind!r}")
        if self.regression_loss not in REGRESSION_LOSSES:
            raise ValueError(
                f"regression loss must be one of {REGRESSION_LOSSES}, got "
                f"{self.regression_loss!r}"
            )
        if not (np.isfinite(self.std) and self.std > 0):
            raise ValueError(f"std must be finite and > 0, got {self.std}")

    def fit(self, labels: np.ndarray, classes: list, class_weight: Any = None):
        """This task with the training labels' statistics (a new instance).

        ``class_weight``: None, "balanced" or a dict keyed by the names in
        ``classes``; regression needs at least two distinct label values.
        """
        check_task_options(self.kind, class_weight)
        if self.kind == "regression":
            y = np.asarray(labels, np.float64)
            std = float(y.std()) if len(y) else 0.0
            if not std > 0:
                raise ValueError(
                    f"the {len(y)} training labels of the regression are all equal "
                    f"({y[:1].tolist()}): there is nothing to learn"
                )
            return dataclasses.replace(self, mean=float(y.mean()), std=std)
        if self.kind == "classification" and class_weight is not None:
            weights = _class_weights(np.asarray(labels), classes, class_weight)
            return dataclasses.replace(self, class_weight=weights)
        return self

    def n_outputs(self, n_classes: int) -> int:
        """Size of the head's output layer."""
        return 1 if self.kind == "regression" else n_classes

    def targets(self, labels: np.ndarray) -> np.ndarray:
        """What the loss compares the outputs with (the standardised target for
        regression)."""
        if self.kind == "classification":
            return np.asarray(labels, np.int64)
        if self.kind == "multilabel":
            return np.asarray(labels, np.float32)
        return ((np.asarray(labels, np.float64) - self.mean) / self.std).astype(
            np.float32
        )

    def loss_fn(self, weighted: bool = False):
        """``(outputs, targets) -> loss``, for :meth:`targets`' targets; with
        ``weighted``, ``(outputs, targets, row_weights) -> mean(w * row loss)``
        (:class:`~tabtext.core.RowWeighted`; class weights then multiply each
        row's loss, without PyTorch's division by their sum)."""
        if weighted:
            return RowWeighted(_RowLoss(self))
        if self.kind == "multilabel":
            return _bce
        if self.kind == "regression":
            return _smooth_l1 if self.regression_loss == "smooth_l1" else _mse
        if self.class_weight is None:
            return F.cross_entropy
        return _WeightedCE(torch.tensor(self.class_weight, dtype=torch.float32))

    def activation(self, outputs: torch.Tensor) -> torch.Tensor:
        """Class probabilities, label probabilities, or values on the label scale."""
        outputs = outputs.float()
        if self.kind == "classification":
            return torch.softmax(outputs, 1)
        if self.kind == "multilabel":
            return torch.sigmoid(outputs)
        return outputs.double().reshape(-1) * self.std + self.mean

    def predict(self, outputs: np.ndarray) -> np.ndarray:
        """Class codes, 0/1 label rows, or values, from :meth:`activation`'s."""
        if self.kind == "classification":
            return outputs.argmax(1)
        if self.kind == "multilabel":
            return (outputs > 0.5).astype(np.int64)
        return outputs

    def score(
        self,
        outputs: np.ndarray,
        labels: np.ndarray,
        sample_weight: np.ndarray | None = None,
    ) -> dict[str, float]:
        """The task's metrics of :meth:`activation` outputs against labels,
        weighted by ``sample_weight`` (one per row) if given."""
        from sklearn import metrics as skm

        pred, labels = self.predict(np.asarray(outputs)), np.asarray(labels)
        sw = {"sample_weight": sample_weight}
        if self.kind == "classification":
            return {"accuracy": float(skm.accuracy_score(labels, pred, **sw))}
        if self.kind == "multilabel":
            truth = labels.astype(np.int64)
            f1 = skm.f1_score(truth, pred, average="micro", zero_division=0.0, **sw)
            return {
                "micro_f1": float(f1),
                "subset_accuracy": float(skm.accuracy_score(truth, pred, **sw)),
            }
        return {
            "mae": float(skm.mean_absolute_error(labels, pred, **sw)),
            "rmse": float(skm.root_mean_squared_error(labels, pred, **sw)),
        }

    def monitors(self) -> tuple[str, ...]:
        """What a run of this task may monitor: "loss" and its metrics."""
        return ("loss", *METRICS[self.kind], *EXTRA_METRICS.get(self.kind, ()))

    def metrics(self, monitor: str = "loss") -> list:
        """Learner metrics ``(outputs, targets) -> float`` on whole validation sets:
        the task's, and ``monitor`` if it is one computed only on demand."""
        names = METRICS[self.kind]
        if monitor in EXTRA_METRICS.get(self.kind, ()):
            names = (*names, monitor)
        return [_Metric(self, name) for name in names]

    def labels(self, targets: torch.Tensor) -> np.ndarray:
        """The inverse of :meth:`targets`."""
        t = targets.detach().cpu().numpy()
        if self.kind == "regression":
            return t.astype(np.float64) * self.std + self.mean
        return t

    def to_json(self) -> dict[str, Any]:
        """The entries a model directory's config.json records."""
        d: dict[str, Any] = {"task": self.kind}
        if self.kind == "regression":
            d["target"] = {
                "mean": self.mean,
                "std": self.std,
                "loss": self.regression_loss,
            }
        if self.kind == "multilabel":
            d["label_sep"] = self.label_sep
        if self.class_weight is not None:
            d["class_weight"] = list(self.class_weight)
        return d

    @classmethod
    def from_json(cls, cfg: dict[str, Any]) -> TextTask:
        """Read :meth:`to_json`'s entries; a config without them is classification."""
        target = cfg.get("target") or {}
        weights = cfg.get("class_weight")
        return cls(
            kind=cfg.get("task", "classification"),
            label_sep=cfg.get("label_sep", "|"),
            regression_loss=target.get("loss", "mse"),
            mean=float(target.get("mean", 0.0)),
            std=float(target.get("std", 1.0)),
            class_weight=None if weights is None else tuple(map(float, weights)),
        )


def _class_weights(codes: np.ndarray, classes: list, class_weight) -> tuple:
    from sklearn.utils.class_weight import compute_class_weight

    ids = np.arange(len(classes))
    if isinstance(class_weight, dict):
        unknown = [k for k in class_weight if k not in classes]
        if unknown:
            raise ValueError(
                f"class_weight names classes {unknown} that are not among the "
                f"labels {list(classes)}"
            )
        class_weight = {classes.index(k): w for k, w in class_weight.items()}
    else:
        absent = [classes[i] for i in ids if not (codes == i).any()]
        if absent:
            raise ValueError(
                f"class_weight='balanced' needs every class among the training "
                f"labels; {absent} have none (use more labels or a dict)"
            )
    return tuple(
        float(w) for w in compute_class_weight(class_weight, classes=ids, y=codes)
    )


class _WeightedCE:
    """Cross-entropy with one weight per class: ``sum_i w[y_i] * nll_i / sum_i
    w[y_i]`` (PyTorch's mean reduction with ``weight``)."""

    def __init__(self, weight: torch.Tensor):
        self.weight = weight

    def __call__(self, outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(outputs.device)
        return F.cross_entropy(outputs.float(), y, weight=w)


def _bce(outputs: torch.Tensor, y: torch.Tensor, reduction="mean") -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(
        outputs.float(), y.float(), reduction=reduction
    )


def _mse(outputs: torch.Tensor, y: torch.Tensor, reduction="mean") -> torch.Tensor:
    out, y = outputs.float().reshape(-1), y.float().reshape(-1)
    return F.mse_loss(out, y, reduction=reduction)


def _smooth_l1(
    outputs: torch.Tensor, y: torch.Tensor, reduction="mean"
) -> torch.Tensor:
    out, y = outputs.float().reshape(-1), y.float().reshape(-1)
    return F.smooth_l1_loss(out, y, reduction=reduction)


class _Metric:
    """One of :meth:`TextTask.score`'s metrics on raw outputs and loss targets."""

    def __init__(self, task: TextTask, name: str):
        self.task, self.__name__ = task, name

    def __call__(
        self,
        outputs: torch.Tensor,
        targets: torch.Tensor,
        weights: torch.Tensor | None = None,
    ) -> float:
        act = self.task.activation(outputs).numpy()
        labels = self.task.labels(targets)
        w = None if weights is None else weights.float().numpy()
        if self.__name__ == "f1":
            return _f1(labels, act, w)
        if self.__name__ == "roc_auc":
            return _roc_auc(labels, act, w)
        return self.task.score(act, labels, w)[self.__name__]


class _RowLoss(nn.Module):
    """A task's loss per row (``reduction="none"``) or averaged, for
    :class:`~tabtext.core.RowWeighted`."""

    def __init__(self, task: TextTask):
        super().__init__()
        self.task, self.reduction = task, "mean"

    def forward(self, outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        task = self.task
        if task.kind == "classification":
            cw = task.class_weight
            w = None if cw is None else torch.tensor(cw, device=outputs.device)
            per = F.cross_entropy(outputs.float(), y, weight=w, reduction="none")
        elif task.kind == "multilabel":
            per = _bce(outputs, y, reduction="none")
        elif task.regression_loss == "smooth_l1":
            per = _smooth_l1(outputs, y, reduction="none")
        else:
            per = _mse(outputs, y, reduction="none")
        return per if self.reduction == "none" else per.mean()


def _f1(labels: np.ndarray, probs: np.ndarray, w: np.ndarray | None = None) -> float:
    """F1 of the second class for two classes, macro-averaged for more."""
    from sklearn.metrics import f1_score

    pred = probs.argmax(1)
    if probs.shape[1] == 2:
        return float(
            f1_score(labels, pred, pos_label=1, zero_division=0.0, sample_weight=w)
        )
    return float(
        f1_score(labels, pred, average="macro", zero_division=0.0, sample_weight=w)
    )


def _roc_auc(
    labels: np.ndarray, probs: np.ndarray, w: np.ndarray | None = None
) -> float:
    """ROC AUC (one-vs-rest for more than two classes); NaN when the validation
    labels hold a single class (that epoch is then never the best)."""
    from sklearn.metrics import roc_auc_score

    if len(np.unique(labels)) < 2:
        return float("nan")
    if probs.shape[1] == 2:
        return float(roc_auc_score(labels, probs[:, 1], sample_weight=w))
    return float(
        roc_auc_score(
            labels, probs, multi_class="ovr", labels=range(probs.shape[1]),
            sample_weight=w,
        )
    )  # fmt: skip
