"""The validation split: stratified, seeded; a given validation file is checked."""

import numpy as np
import pytest

from tabtext.nlp import TextDataset, ULMFiTConfig, stratified_split
from tabtext.nlp.text.splits import make_split


def test_stratified_split():
    y = np.array([0] * 50 + [1] * 30 + [2] * 20)
    tr, va = stratified_split(y, valid_pct=0.1, seed=3)
    assert np.bincount(y[va]).tolist() == [5, 3, 2]
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(100))
    assert tr.dtype == np.int64 and np.all(np.diff(va) > 0)
    tr2, va2 = stratified_split(y, valid_pct=0.1, seed=3)
    assert np.array_equal(va, va2) and np.array_equal(tr, tr2)
    assert not np.array_equal(va, stratified_split(y, 0.1, seed=4)[1])
    with pytest.raises(ValueError, match="valid_pct"):
        stratified_split(y, valid_pct=1.5)


def test_stratified_split_keeps_each_class_share_and_a_train_item():
    y = np.array(["a"] * 40 + ["b"] * 20 + ["c"] * 4)
    tr, va = stratified_split(y, valid_pct=0.25, seed=0)
    assert sorted(y[va].tolist()) == ["a"] * 10 + ["b"] * 5 + ["c"]
    assert {c: (y[tr] == c).sum() for c in "abc"} == {"a": 30, "b": 15, "c": 3}
    one = np.array([0, 1, 1, 1])  # a class of one item stays in train
    assert 0 in stratified_split(one, valid_pct=0.9)[0]


def _dataset(texts, labels, classes=("neg", "pos"), source="train.csv"):
    labels = None if labels is None else np.array(labels)
    return TextDataset(list(texts), labels, list(classes), source)


def test_make_split_holds_out_a_stratified_seeded_share():
    texts = [f"text {i}" for i in range(40)]
    train = _dataset(texts, [int(i % 4 == 0) for i in range(40)])  # 10 pos, 30 neg
    cfg = ULMFiTConfig(valid_pct=0.2, seed=5)
    split = make_split(train, None, cfg)
    tr, va = stratified_split(train.labels, 0.2, 5)
    assert split.valid_texts == [texts[i] for i in va]
    assert split.train_texts == [texts[i] for i in tr]
    assert split.valid_labels.tolist() == train.labels[va].tolist()
    assert sorted(split.valid_labels.tolist()) == [0] * 6 + [1] * 2
    assert split.classes == ["neg", "pos"]
    again = make_split(train, None, cfg)
    assert again.valid_texts == split.valid_texts


def test_make_split_takes_a_given_validation_set_and_checks_it():
    train = _dataset(["a", "b", "c"], [0, 1, 0])
    valid = _dataset(["d", "e"], [1, 0], source="valid.csv")
    split = make_split(train, valid, ULMFiTConfig())
    assert split.train_texts == ["a", "b", "c"] and split.valid_texts == ["d", "e"]
    assert split.valid_labels.tolist() == [1, 0]
    with pytest.raises(ValueError, match="train.csv: the classifier needs labels"):
        make_split(_dataset(["a"], None), None, ULMFiTConfig())
    with pytest.raises(ValueError, match="valid.csv: the validation file has no"):
        make_split(train, _dataset(["d"], None, source="valid.csv"), ULMFiTConfig())
    other = _dataset(["d"], [0], classes=("bad", "good"), source="valid.csv")
    with pytest.raises(ValueError, match="both files need the same label values"):
        make_split(train, other, ULMFiTConfig())
