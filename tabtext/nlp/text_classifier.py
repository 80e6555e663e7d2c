"""TextClassifier: the ULMFiT recipe (Howard & Ruder 2018) as an sklearn-style estimator."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from .loading import TextDataset
from .persistence import load_text_model, save_text_model
from .recipe import PRESET_NAMES, make_config


class TextClassifier(ClassifierMixin, BaseEstimator):
    """Fine-tune a ULMFiT classifier on raw texts.

    Parameters
    ----------
    preset : {"quick", "cpu", "paper"}
        Hyper-parameter preset (see ``python -m tabtext.nlp.finetune --help``).
    overrides : dict, optional
        Any :class:`~tabtext.nlp.recipe.ULMFiTConfig` field, e.g. ``{"lm_epochs": 2}``.
    pretrained : str or path, optional
        The language model to start from: "auto" (default) is the shipped English LM,
        a shipped LM's name or a directory written by ``tabtext.nlp.pretrain``;
        None trains the LM on the given texts alone.
    work_dir : path, optional
        Where checkpoints and logs go (a temporary folder by default).
    device : "cpu", "cuda", ... (default: auto).

    Examples
    --------
    >>> clf = TextClassifier("quick").fit(texts, labels)   # doctest: +SKIP
    >>> clf.predict(["A wonderful film."])                  # doctest: +SKIP
    """

    def __init__(
        self,
        preset: str = "quick",
        overrides: dict[str, Any] | None = None,
        pretrained: str | None = "auto",
        work_dir: str | None = None,
        device: str | None = None,
    ):
        self.preset = preset
        self.overrides = overrides
        self.pretrained = pretrained
        self.work_dir = work_dir
        self.device = device

    def fit(self, X, y) -> TextClassifier:
        from .finetuning import run_ulmfit

        if self.preset not in PRESET_NAMES:
            raise ValueError(
                f"preset must be one of {PRESET_NAMES}, got {self.preset!r}"
            )
        texts = _texts(X)
        y = np.asarray(y)
        if len(y) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(y)} labels")
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"need at least 2 classes, got 1 class ({classes[0]!r})")
        cfg = make_config(self.preset, **(self.overrides or {}))
        data = TextDataset(
            texts, codes.astype(np.int64), list(range(len(classes))), "fit"
        )
        work = Path(self.work_dir or tempfile.mkdtemp(prefix="tabtext-"))
        self.metrics_ = run_ulmfit(
            data, None, cfg, work, self.pretrained, device=self.device
        )
        self.model_ = load_text_model(work / "model")
        self.classes_ = classes
        return self

    def predict_proba(self, X, device: str | None = None) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(_texts(X), device or self.device)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]

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
            See :func:`tabtext.nlp.explain.explain_texts`.

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
        from .explain import explain_texts, write_html

        check_is_fitted(self, "model_")
        out = explain_texts(
            self.model_, _texts(X), list(self.classes_), n_steps, baseline, output,
            self.device,
        )  # fmt: skip
        if path is not None:
            write_html(out, path)
        return out

    def save(self, path: str | Path) -> Path:
        """Write the classifier as safetensors + JSON (no pickle)."""
        check_is_fitted(self, "model_")
        tm = self.model_
        tm.classes = [
            c.item() if isinstance(c, np.generic) else c for c in self.classes_
        ]
        return save_text_model(tm, path)

    @classmethod
    def load(cls, path: str | Path) -> TextClassifier:
        """Load a classifier directory written by :meth:`save` or by ``finetune``."""
        tm = load_text_model(path)
        clf = cls(preset=tm.config.preset)
        clf.model_ = tm
        clf.classes_ = np.asarray(tm.classes, dtype=object)
        return clf


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
