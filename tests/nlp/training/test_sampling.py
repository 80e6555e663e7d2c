"""Seeded document subsets, balanced by class when asked."""

import numpy as np

from tabtext.nlp.training.sampling import balanced_subset, subset


def test_balanced_subset_balances_classes_as_far_as_they_go():
    labels = np.array([0] * 10 + [1] * 3 + [2] * 5)
    idx = balanced_subset(labels, 9, seed=0)
    assert np.bincount(labels[idx]).tolist() == [3, 3, 3]
    assert np.all(np.diff(idx) > 0)  # sorted, no repeats
    idx = balanced_subset(labels, 13, seed=0)  # class 1 runs out: the others fill in
    assert np.bincount(labels[idx]).tolist() == [5, 3, 5]
    assert balanced_subset(labels, 100, seed=0).tolist() == list(range(18))
    assert np.array_equal(balanced_subset(labels, 9, 1), balanced_subset(labels, 9, 1))
    assert not np.array_equal(
        balanced_subset(labels, 9, 1), balanced_subset(labels, 9, 2)
    )


def test_subset_is_sorted_seeded_and_all_when_asked():
    assert subset(5, None, seed=0).tolist() == [0, 1, 2, 3, 4]
    assert subset(5, 9, seed=0).tolist() == [0, 1, 2, 3, 4]
    idx = subset(100, 10, seed=3)
    assert len(set(idx.tolist())) == 10 and np.all(np.diff(idx) > 0)
    assert idx.max() < 100
    assert np.array_equal(idx, subset(100, 10, seed=3))
    assert not np.array_equal(idx, subset(100, 10, seed=4))
