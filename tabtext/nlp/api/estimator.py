"""TextClassifier and TextRegressor: the ULMFiT recipe (Howard & Ruder 2018) as
sklearn-style estimators, for single-label, multi-label and numeric targets."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from ..text.labels import check_task_options, encode_labels
from ..text.reading import TextDataset
from ..training.config import PRESET_NAMES, make_config
from .persistence import TextModel, load_text_model, save_text_model


class _TextEstimator(BaseEstimator):
    """Shared fitting, saving and loading; subclasses turn y into a dataset."""

    _kinds: tuple[str, ...] = ()

    def _fit(self, data: TextDataset, sample_weight=None, **task_options) -> None:
        from ..text.weights import check_weights
        from ..training.ulmfit import run_ulmfit

        if sample_weight is not None:  # checked before any work
            w = check_weights(sample_weight, len(data), "sample_weight")
            data = dataclasses.replace(data, weights=w)
        cfg = make_config(self.preset, **(self.overrides or {}))
        work = Path(self.work_dir or tempfile.mkdtemp(prefix="tabtext-"))
        self.metrics_ = run_ulmfit(
            data,
            None,
            cfg,
            work,
            self.pretrained,
            device=self.device,
            progress=None if self.verbose else False,
            **task_options,
        )
        self.model_ = load_text_model(work / "model")

    def _outputs(self, X, device: str | None = None) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict_outputs(_texts(X), device or self.device)

    def save(self, path: str | Path) -> Path:
        """Write the model as safetensors + JSON (no pickle)."""
        check_is_fitted(self, "model_")
        tm = self.model_
        tm.classes = [
            c.item() if isinstance(c, np.generic) else c for c in self._names()
        ]
        return save_text_model(tm, path)

    def _names(self) -> list:
        return []

    @classmethod
    def load(cls, path: str | Path):
        """Load a directory written by :meth:`save` or by ``finetune``."""
        tm = load_text_model(path)
        if tm.task.kind not in cls._kinds:
            other = (
                "TextRegressor" if tm.task.kind == "regression" else "TextClassifier"
            )
            raise TypeError(
                f"{path} holds a {tm.task.kind} model: load it with {other}.load"
            )
        est = cls(preset=tm.config.preset)
        est._loaded(tm)
        return est

    def _loaded(self, tm: TextModel) -> None:
        self.model_ = tm


def _check_preset(preset: str) -> None:
    if preset not in PRESET_NAMES:
        raise ValueError(f"preset must be one of {PRESET_NAMES}, got {preset!r}")


class TextClassifier(ClassifierMixin, _TextEstimator):
    """Fine-tune a ULMFiT classifier on raw texts.

    Parameters
    ----------
    preset : {"quick", "cpu", "paper"}
        Hyper-parameter preset (see ``python -m tabtext.nlp.finetune --help``).
    overrides : dict, optional
        Any :class:`~tabtext.nlp.training.config.ULMFiTConfig` field, e.g. ``{"lm_epochs": 2}``.
    pretrained : str or path, optional
        The language model to start from: "auto" (default) is the shipped English LM,
        a shipped LM's name or a directory written by ``tabtext.nlp.pretrain``;
        None trains the LM on the given texts alone.
    work_dir : path, optional
        Where checkpoints and logs go (a temporary folder by default).
    device : "cpu", "cuda", ... (default: auto).
    verbose : int
        0 (default) is silent; > 0 shows a progress bar on a terminal and one line
        per epoch otherwise (stage, losses, accuracy, tokens/s, elapsed and
        remaining time).
    task : {"classification", "multilabel"}
        ``classification``: one label per text, any number of classes.
        ``multilabel``: a set of labels per text; y holds list-likes, strings
        joined with ``label_sep`` (``"a|b"``; ``""`` is no label) or a 0/1
        indicator matrix (its columns are the classes ``0..C-1``). ``predict``
        then returns a 0/1 matrix over ``classes_``.
    class_weight : None, "balanced" or dict {class: weight}
        Weights of the cross-entropy (classification): "balanced" is
        ``n / (C * n_c)`` over the training labels; classes a dict leaves out
        weigh 1.
    label_sep : str
        Separator of labels in one string (multilabel).

    Examples
    --------
    >>> clf = TextClassifier("quick").fit(texts, labels)   # doctest: +SKIP
    >>> clf.predict(["A wonderful film."])                  # doctest: +SKIP
    >>> TextClassifier(task="multilabel").fit(texts, ["drama|war", "comedy", ""])  # doctest: +SKIP
    """

    _kinds = ("classification", "multilabel")

    def __init__(
        self,
        preset: str = "quick",
        overrides: dict[str, Any] | None = None,
        pretrained: str | None = "auto",
        work_dir: str | None = None,
        device: str | None = None,
        verbose: int = 0,
        task: Literal["classification", "multilabel"] = "classification",
        class_weight: str | dict | None = None,
        label_sep: str = "|",
    ):
        self.preset = preset
        self.overrides = overrides
        self.pretrained = pretrained
        self.work_dir = work_dir
        self.device = device
        self.verbose = verbose
        self.task = task
        self.class_weight = class_weight
        self.label_sep = label_sep

    def fit(self, X, y, sample_weight=None) -> TextClassifier:
        """Train on texts ``X`` and labels ``y``; ``sample_weight`` (one number >= 0
        per text) weighs the classifier's loss and validation scores, a text of
        weight k counting as k copies of it (the LM stages ignore weights)."""
        _check_preset(self.preset)
        if self.task not in self._kinds:
            hint = "; use TextRegressor" if self.task == "regression" else ""
            raise ValueError(
                f"task must be one of {self._kinds}, got {self.task!r}{hint}"
            )
        check_task_options(self.task, self.class_weight)
        texts = _texts(X)
        if len(y) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(y)} labels")
        if self.task == "multilabel":
            data, classes = self._multilabel(texts, y)
            weight = None
        else:
            data, classes = self._single(texts, y)
            weight = self._weights(classes)
        self._fit(data, sample_weight, class_weight=weight, label_sep=self.label_sep)
        self.classes_ = classes
        return self

    def _single(self, texts, y) -> tuple[TextDataset, np.ndarray]:
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(
                f"y must be 1-D for task 'classification', got shape {y.shape}; "
                "for a 0/1 label matrix use task='multilabel'"
            )
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"need at least 2 classes, got 1 class ({classes[0]!r})")
        ids = list(range(len(classes)))
        return TextDataset(texts, codes.astype(np.int64), ids, "fit"), classes

    def _weights(self, classes: np.ndarray):
        """``class_weight`` with a dict's keys turned into class codes."""
        if not isinstance(self.class_weight, dict):
            return self.class_weight
        names = list(classes)
        unknown = [k for k in self.class_weight if k not in names]
        if unknown:
            raise ValueError(
                f"class_weight names classes {unknown} that are not in y "
                f"(classes: {names})"
            )
        return {names.index(k): w for k, w in self.class_weight.items()}

    def _multilabel(self, texts, y) -> tuple[TextDataset, np.ndarray]:
        try:
            arr = np.asarray(y)
        except ValueError:  # label lists of different lengths
            arr = None
        if arr is not None and arr.ndim == 2 and arr.dtype.kind in "biuf":
            if not np.isin(arr, (0, 1)).all():  # an indicator matrix, as sklearn's
                raise ValueError(
                    "a 2-D numeric y is a 0/1 indicator matrix, but this one holds "
                    "other values; give label sets as lists of str or as strings"
                )
            classes = np.arange(arr.shape[1])
            labels = arr.astype(np.float32)
        else:
            values = list(y)
            labels, names = encode_labels(
                values, np.arange(len(values)), "y", None, "multilabel", None,
                self.label_sep,
            )  # fmt: skip
            classes = np.asarray(names, dtype=object)
        ids = list(range(len(classes)))
        return TextDataset(texts, labels, ids, "fit", "multilabel"), classes

    def predict_proba(self, X, device: str | None = None) -> np.ndarray:
        """Class probabilities ``(n, C)``; per-label probabilities (multilabel)."""
        return self._outputs(X, device)

    def predict(self, X) -> np.ndarray:
        """Classes; for multilabel a 0/1 matrix over ``classes_`` (threshold 0.5)."""
        proba = self.predict_proba(X)
        if self.model_.task.kind == "multilabel":
            return (proba > 0.5).astype(np.int64)
        return self.classes_[proba.argmax(1)]

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy; subset accuracy (whole label sets right) for multilabel."""
        if self.model_.task.kind != "multilabel" or np.asarray(y).ndim == 2:
            return super().score(X, y, sample_weight)
        truth, _ = encode_labels(
            list(y), np.arange(len(y)), "y", None, "multilabel", list(self.classes_),
            self.label_sep,
        )  # fmt: skip
        return super().score(X, truth.astype(np.int64), sample_weight)

    def _names(self) -> list:
        return list(self.classes_)

    def export_onnx(self, path: str | Path) -> Path:
        """Write the network as ONNX: token ids in, class probabilities out (see
        :mod:`tabtext.nlp.api.onnx_export`; needs the ``onnx`` extra)."""
        from .onnx_export import export_onnx

        check_is_fitted(self, "model_")
        labels = [c.item() if isinstance(c, np.generic) else c for c in self.classes_]
        return export_onnx(dataclasses.replace(self.model_, classes=labels), path)

    def explain(
        self,
        X,
        path: str | Path | None = None,
        n_steps: int = 32,
        baseline: str = "zero",
        output: str = "proba",
    ) -> list:
        """Word attributions of each text's prediction (integrated gradients).

        Parameters
        ----------
        X : sequence of str
        path : str or Path, optional
            Also write them as a self-contained HTML page there.
        n_steps, baseline, output
            See :func:`tabtext.nlp.api.explanation.explain_texts`.

        Returns
        -------
        list of TextExplanation
            Per text: tokens and their scores, words and their scores, the
            predicted label and its probability.

        Examples
        --------
        >>> ex = clf.explain(["A wonderful film."], "why.html")  # doctest: +SKIP
        >>> ex[0].words, ex[0].word_scores  # doctest: +SKIP
        """
        from .explanation import explain_texts, write_html

        check_is_fitted(self, "model_")
        if self.model_.task.kind != "classification":
            raise ValueError(
                f"explain explains class predictions; this model's task is "
                f"{self.model_.task.kind}"
            )
        out = explain_texts(
            self.model_, _texts(X), list(self.classes_), n_steps, baseline, output,
            self.device,
        )  # fmt: skip
        if path is not None:
            write_html(out, path)
        return out

    def _loaded(self, tm: TextModel) -> None:
        super()._loaded(tm)
        self.task = tm.task.kind
        self.label_sep = tm.task.label_sep
        self.classes_ = np.asarray(tm.classes, dtype=object)


class TextRegressor(RegressorMixin, _TextEstimator):
    """Fine-tune a ULMFiT model to predict a number from a text (e.g. a rating).

    One linear output on the standardised target; predictions are on y's scale.
    ``score`` is R^2 (``RegressorMixin``).

    Parameters
    ----------
    preset, overrides, pretrained, work_dir, device, verbose
        As :class:`TextClassifier`.
    loss : {"mse", "smooth_l1"}
        On the standardised target (smooth-L1: Huber with beta 1 std).

    Examples
    --------
    >>> reg = TextRegressor("quick").fit(texts, stars)     # doctest: +SKIP
    >>> reg.predict(["A wonderful film."])                  # doctest: +SKIP
    """

    _kinds = ("regression",)

    def __init__(
        self,
        preset: str = "quick",
        overrides: dict[str, Any] | None = None,
        pretrained: str | None = "auto",
        work_dir: str | None = None,
        device: str | None = None,
        verbose: int = 0,
        loss: Literal["mse", "smooth_l1"] = "mse",
    ):
        self.preset = preset
        self.overrides = overrides
        self.pretrained = pretrained
        self.work_dir = work_dir
        self.device = device
        self.verbose = verbose
        self.loss = loss

    def fit(self, X, y, sample_weight=None) -> TextRegressor:
        """Train on texts ``X`` and numbers ``y``; ``sample_weight`` as in
        :meth:`TextClassifier.fit`."""
        _check_preset(self.preset)
        check_task_options("regression", regression_loss=self.loss)
        texts = _texts(X)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(texts):
            raise ValueError(f"{len(texts)} texts need a 1-D y of as many numbers, "
                             f"got shape {y.shape}")  # fmt: skip
        values, _ = encode_labels(
            y.tolist(), np.arange(len(y)), "y", None, "regression"
        )
        data = TextDataset(texts, values, [], "fit", "regression")
        self._fit(data, sample_weight, regression_loss=self.loss)
        return self

    def predict(self, X, device: str | None = None) -> np.ndarray:
        """Predicted values, on the scale of the training y."""
        return self._outputs(X, device)

    def _loaded(self, tm: TextModel) -> None:
        super()._loaded(tm)
        self.loss = tm.task.regression_loss


def _texts(X) -> list[str]:
    if isinstance(X, str):
        raise TypeError(
            "X must be a sequence of texts, got a single str; wrap it in a list"
        )
    texts = list(X)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise TypeError(
            f"X must hold str texts; item {bad[0]} is {type(texts[bad[0]]).__name__}"
        )
    if not texts:
        raise ValueError("X is empty: pass at least one text")
    return texts
