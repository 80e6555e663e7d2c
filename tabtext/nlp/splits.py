"""The validation split of a labelled text dataset (stratified, seeded)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .loading import TextDataset
from .recipe import ULMFiTConfig

__all__ = ["Split", "make_split", "stratified_split"]


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


def make_split(
    train: TextDataset, valid: TextDataset | None, cfg: ULMFiTConfig
) -> Split:
    """The validation set: ``valid`` if given, else a stratified seeded share of train."""
    if train.labels is None:
        raise ValueError(f"{train.source}: the classifier needs labels, found none")
    if valid is not None:
        if valid.labels is None:
            raise ValueError(f"{valid.source}: the validation file has no labels")
        if list(valid.classes) != list(train.classes):
            raise ValueError(
                f"{valid.source} has classes {valid.classes} but {train.source} has "
                f"{train.classes}; both files need the same label values"
            )
        return Split(
            train.texts, train.labels, valid.texts, valid.labels, train.classes
        )
    tr, va = stratified_split(train.labels, cfg.valid_pct, cfg.seed)
    texts = train.texts
    return Split(
        [texts[i] for i in tr],
        train.labels[tr],
        [texts[i] for i in va],
        train.labels[va],
        train.classes,
    )
