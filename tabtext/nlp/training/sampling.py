"""Which rows each stage learns from: seeded subsets, balanced by class when asked."""

from __future__ import annotations

import numpy as np

from ..text.splits import Split
from .config import ULMFiTConfig


def balanced_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` indices with classes as balanced as possible (seeded)."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per = [rng.permutation(np.nonzero(labels == c)[0]) for c in classes]
    take, i = [], 0
    while len(take) < n and any(i < len(p) for p in per):
        take += [p[i] for p in per if i < len(p)]
        i += 1
    return np.sort(np.array(take[:n]))


def subset(n_total: int, n: int | None, seed: int) -> np.ndarray:
    if n is None or n >= n_total:
        return np.arange(n_total)
    return np.sort(np.random.default_rng(seed).choice(n_total, n, replace=False))


def classifier_rows(cfg: ULMFiTConfig, split: Split, task: str) -> np.ndarray:
    """The training-part rows the classifier learns from: ``max_labels`` of them
    (balanced by class for classification, a seeded random subset otherwise),
    ``clas_docs`` at random, or all."""
    n_labeled = len(split.train_texts)  # the corpus' first documents; then unlabeled
    if cfg.max_labels is not None and task == "classification":
        return balanced_subset(split.train_labels, cfg.max_labels, cfg.seed)
    if cfg.max_labels is not None:
        return subset(n_labeled, cfg.max_labels, cfg.seed)
    if cfg.clas_docs is not None:
        return subset(n_labeled, cfg.clas_docs, cfg.seed)
    return np.arange(n_labeled)
