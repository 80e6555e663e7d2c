"""Label columns read per task: multi-label lists and strings, numbers, task auto,
and the validation split of each task."""

import numpy as np
import pandas as pd
import pytest

from tabtext.nlp import TextDataset, ULMFiTConfig, load_texts
from tabtext.nlp.text.labels import split_label_set
from tabtext.nlp.text.splits import make_split, stratified_split

TEXTS = ["one", "two", "three", "four", "five"]


def test_label_sets_from_lists_strings_and_empties():
    assert split_label_set(["b", "a", "b"]) == ["b", "a"]
    assert split_label_set(np.array([3, 1])) == [3, 1]
    assert split_label_set(" war | drama||") == ["war", "drama"]
    assert split_label_set("a;b", sep=";") == ["a", "b"]
    assert split_label_set("") == [] and split_label_set([]) == []
    assert split_label_set(7) == [7]


def test_multilabel_parquet_lists_and_csv_strings_give_the_same_matrix(tmp_path):
    lists = [["war", "drama"], [], ["comedy"], ["drama"], ["war"]]
    pd.DataFrame({"text": TEXTS, "label": lists}).to_parquet(tmp_path / "d.parquet")
    strings = ["war|drama", "", "comedy", "drama", "war"]
    pd.DataFrame({"text": TEXTS, "label": strings}).to_csv(tmp_path / "d.csv")
    expected = [[0, 1, 1], [0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]
    for name in ("d.parquet", "d.csv"):
        ds = load_texts(tmp_path / name, task="multilabel")
        assert ds.task == "multilabel" and ds.classes == ["comedy", "drama", "war"]
        assert ds.labels.dtype == np.float32 and ds.labels.tolist() == expected
    # list values are unambiguous: auto reads them as multi-label
    assert load_texts(tmp_path / "d.parquet", task="auto").task == "multilabel"


def test_multilabel_missing_value_and_no_labels_at_all_are_refused(tmp_path):
    df = pd.DataFrame({"text": TEXTS, "label": [["a"], None, ["b"], [], ["a"]]})
    df.to_parquet(tmp_path / "d.parquet")
    with pytest.raises(
        ValueError, match=r"label missing in column .label. at row 1 \(an empty label"
    ):
        load_texts(tmp_path / "d.parquet", task="multilabel")
    pd.DataFrame({"text": TEXTS, "label": ""}).to_csv(tmp_path / "e.csv")
    with pytest.raises(ValueError, match="holds no labels at all"):
        load_texts(tmp_path / "e.csv", task="multilabel")


def test_regression_reads_numbers_and_names_a_bad_row(tmp_path):
    pd.DataFrame({"text": TEXTS, "y": [1, 2.5, 3, 4, 10]}).to_csv(tmp_path / "d.csv")
    ds = load_texts(tmp_path / "d.csv", label_col="y", task="regression")
    assert ds.labels.dtype == np.float64 and ds.labels.tolist() == [1, 2.5, 3, 4, 10]
    assert ds.classes == [] and ds.task == "regression"
    pd.DataFrame({"text": TEXTS, "y": [1, 2, "n/a", 4, 5]}).to_csv(tmp_path / "e.csv")
    with pytest.raises(ValueError, match=r"column 'y', row 2: 'n/a' is not a finite"):
        load_texts(tmp_path / "e.csv", label_col="y", task="regression")


def test_auto_takes_integer_ratings_as_classes_and_refuses_the_ambiguous(tmp_path):
    stars = pd.DataFrame({"text": TEXTS, "label": [1, 2, 8, 9, 10]})
    stars.to_parquet(tmp_path / "stars.parquet")
    ds = load_texts(tmp_path / "stars.parquet", task="auto")
    assert ds.task == "classification" and ds.classes == [1, 2, 8, 9, 10]
    reg = load_texts(tmp_path / "stars.parquet", task="regression")
    assert reg.labels.tolist() == [1.0, 2.0, 8.0, 9.0, 10.0]
    scores = pd.DataFrame({"text": TEXTS, "label": [0.5, 1.25, 3, 0.5, 2]})
    for name, write in (("s.parquet", scores.to_parquet), ("s.csv", scores.to_csv)):
        write(tmp_path / name)
        with pytest.raises(ValueError, match=r"non-integer numbers \(4 distinct.*"
                           r"--task regression.*--task classification"):  # fmt: skip
            load_texts(tmp_path / name, task="auto")
    piped = pd.DataFrame({"text": TEXTS, "label": ["a|b", "a", "b", "a", "b"]})
    piped.to_csv(tmp_path / "p.csv")
    with pytest.raises(ValueError, match=r"row 0: 'a\|b'.*--task multilabel"):
        load_texts(tmp_path / "p.csv", task="auto")
    assert load_texts(tmp_path / "p.csv").classes == ["a", "a|b", "b"]  # as asked


def test_sharded_multilabel_folder_is_encoded_over_all_shards(tmp_path):
    pd.DataFrame({"text": TEXTS[:2], "label": [["x"], ["y"]]}).to_parquet(
        tmp_path / "train-00.parquet"
    )
    pd.DataFrame({"text": TEXTS[2:], "label": [["z"], [], ["x", "z"]]}).to_parquet(
        tmp_path / "train-01.parquet"
    )
    ds = load_texts(tmp_path, task="multilabel")
    assert ds.classes == ["x", "y", "z"] and ds.labels.sum(0).tolist() == [2, 1, 2]


def test_rating_regression_gets_the_split_of_rating_classification(tmp_path):
    rng = np.random.default_rng(0)
    stars = rng.choice([1, 2, 3, 4, 7, 8, 9, 10], 400)
    texts = [f"review {i}" for i in range(400)]
    pd.DataFrame({"text": texts, "label": stars}).to_parquet(tmp_path / "r.parquet")
    cfg = ULMFiTConfig()
    clas = make_split(load_texts(tmp_path / "r.parquet"), None, cfg)
    reg = make_split(load_texts(tmp_path / "r.parquet", task="regression"), None, cfg)
    assert reg.valid_texts == clas.valid_texts  # one LM can serve both runs
    _, va = stratified_split(load_texts(tmp_path / "r.parquet").labels, 0.1, 0)
    assert clas.valid_texts == [texts[i] for i in va]  # what benchmarks compute


def test_continuous_targets_and_multilabel_still_get_a_validation_set(tmp_path):
    y = np.random.default_rng(0).normal(size=300)  # 300 distinct values
    texts = [f"t {i}" for i in range(300)]
    pd.DataFrame({"text": texts, "label": y}).to_parquet(tmp_path / "c.parquet")
    split = make_split(
        load_texts(tmp_path / "c.parquet", task="regression"), None, ULMFiTConfig()
    )
    assert len(split.valid_texts) == 30  # per decile, not per (unique) value
    lists = [["a"] if i % 3 else ["a", "b"] for i in range(300)]
    pd.DataFrame({"text": texts, "label": lists}).to_parquet(tmp_path / "m.parquet")
    ml = load_texts(tmp_path / "m.parquet", task="multilabel")
    ml = make_split(ml, None, ULMFiTConfig())
    assert len(ml.valid_texts) == 30 and ml.valid_labels.shape == (30, 2)


def test_a_multilabel_validation_file_is_mapped_to_the_training_labels(tmp_path):
    train = [["a"], ["b", "c"], ["c"], ["a", "b"], []]
    pd.DataFrame({"text": TEXTS, "label": train}).to_parquet(tmp_path / "t.parquet")
    pd.DataFrame({"text": TEXTS[:2], "label": [["c"], []]}).to_parquet(
        tmp_path / "v.parquet"
    )
    t = load_texts(tmp_path / "t.parquet", task="multilabel")
    v = load_texts(tmp_path / "v.parquet", task="multilabel")
    split = make_split(t, v, ULMFiTConfig())
    assert split.valid_labels.tolist() == [[0, 0, 1], [0, 0, 0]]
    pd.DataFrame({"text": TEXTS[:1], "label": [["d"]]}).to_parquet(
        tmp_path / "w.parquet"
    )
    w = load_texts(tmp_path / "w.parquet", task="multilabel")
    with pytest.raises(ValueError, match=r"labels \['d'\].*never has"):
        make_split(t, w, ULMFiTConfig())
    single = TextDataset(["x", "y"], np.array([0, 1]), ["a", "b"], "s.csv")
    with pytest.raises(ValueError, match="s.csv was read as task 'classification'"):
        make_split(t, single, ULMFiTConfig())
