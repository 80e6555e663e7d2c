"""The validation split of a labelled text dataset (stratified, seeded)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..training.config import ULMFiTConfig
from .reading import TextDataset

__all__ = ["Split", "make_split", "strata", "stratified_split"]


def stratified_split(
    labels: Sequence[Any] | np.ndarray, valid_pct: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices so that each class keeps its share in both parts.

    Parameters
    ----------
    labels : array-like, 1-D
        Class of each item.
    valid_pct : float
        Fraction of each class (rounded) put in the validation part, in (0, 1).
    seed : int
        Seed of the shuffle; the same seed gives the same split.

    Returns
    -------
    train_idx, valid_idx : np.ndarray of int64
        Sorted, disjoint, together ``0..len(labels)-1``.
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {y.shape}")
    if not 0.0 < float(valid_pct) < 1.0:
        raise ValueError(f"valid_pct={valid_pct!r}: expected a fraction in (0, 1)")
    rng = np.random.default_rng(seed)
    _, inverse = np.unique(y, return_inverse=True)
    valid = []
    for c in range(int(inverse.max()) + 1 if len(y) else 0):
        idx = np.flatnonzero(inverse == c)
        n_valid = min(int(round(len(idx) * valid_pct)), len(idx) - 1)
        valid.append(rng.permutation(idx)[:n_valid])
    valid_idx = np.sort(np.concatenate(valid)).astype(np.int64) if valid else None
    if valid_idx is None:
        valid_idx = np.zeros(0, np.int64)
    mask = np.ones(len(y), bool)
    mask[valid_idx] = False
    return np.flatnonzero(mask).astype(np.int64), valid_idx


@dataclass
class Split:
    train_texts: list[str]
    train_labels: np.ndarray
    valid_texts: list[str]
    valid_labels: np.ndarray
    classes: list
    train_weights: np.ndarray | None = None  # row weights (None: all 1)
    valid_weights: np.ndarray | None = None


DISCRETE_LEVELS = 20


def strata(labels: np.ndarray, task: str = "classification") -> np.ndarray:
    """What the validation split is stratified on: the class (classification); the
    value itself when a regression target has at most ``DISCRETE_LEVELS`` distinct
    values (star ratings: the same split as classifying them), else its decile;
    nothing for multilabel (a seeded random split)."""
    y = np.asarray(labels)
    if task == "multilabel":
        return np.zeros(len(y), np.int64)
    if task == "regression" and len(np.unique(y)) > DISCRETE_LEVELS:
        edges = np.quantile(y, np.linspace(0, 1, 11)[1:-1])
        return np.searchsorted(edges, y, side="right")
    return y


def make_split(
    train: TextDataset, valid: TextDataset | None, cfg: ULMFiTConfig
) -> Split:
    """The validation set: ``valid`` if given, else a stratified seeded share of
    train (see :func:`strata`); row weights follow their texts."""
    if train.labels is None:
        raise ValueError(f"{train.source}: the classifier needs labels, found none")
    if valid is not None:
        return Split(
            train.texts,
            train.labels,
            valid.texts,
            _valid_labels(train, valid),
            train.classes,
            train.weights,
            valid.weights,
        )
    tr, va = stratified_split(strata(train.labels, train.task), cfg.valid_pct, cfg.seed)
    texts, w = train.texts, train.weights
    return Split(
        [texts[i] for i in tr],
        train.labels[tr],
        [texts[i] for i in va],
        train.labels[va],
        train.classes,
        None if w is None else w[tr],
        None if w is None else w[va],
    )


def _valid_labels(train: TextDataset, valid: TextDataset) -> np.ndarray:
    """``valid``'s labels in ``train``'s classes (label columns of a multi-label
    file: the validation file may lack some)."""
    if valid.labels is None:
        raise ValueError(f"{valid.source}: the validation file has no labels")
    if valid.task != train.task:
        raise ValueError(
            f"{valid.source} was read as task {valid.task!r} but {train.source} as "
            f"{train.task!r}; read both with the same task"
        )
    if train.task == "multilabel":
        extra = sorted(set(valid.classes) - set(train.classes), key=str)
        if extra:
            raise ValueError(
                f"{valid.source} has labels {extra} that {train.source} never has; "
                "the model could not learn them"
            )
        cols = [list(train.classes).index(c) for c in valid.classes]
        out = np.zeros((len(valid.labels), len(train.classes)), np.float32)
        out[:, cols] = valid.labels
        return out
    if train.task == "classification" and list(valid.classes) != list(train.classes):
        raise ValueError(
            f"{valid.source} has classes {valid.classes} but {train.source} has "
            f"{train.classes}; both files need the same label values"
        )
    return valid.labels
