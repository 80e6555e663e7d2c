"""load_texts: parquet, CSV, aclImdb folders and hub datasets; resolve_imdb."""

import logging

import numpy as np
import pandas as pd
import pytest

from tabtext.nlp import TextDataset, load_texts
from tabtext.nlp.text import reading as data_module
from tabtext.nlp.text.reading import resolve_imdb

TEXTS = ["Good film.", "BAD film!!!!", "Great <br />acting", "awful plot", "ok"]
LABELS = ["pos", "neg", "pos", "neg", "pos"]


def write_aclimdb(root, split="train"):
    for label, ids in (("pos", [10, 2]), ("neg", [1])):
        folder = root / split / label
        folder.mkdir(parents=True)
        for i in ids:
            (folder / f"{i}_{8 if label == 'pos' else 2}.txt").write_text(
                f"{label} review {i}", encoding="utf-8"
            )
    (root / split / "unsup").mkdir()
    (root / split / "unsup" / "0_0.txt").write_text("unlabelled")


def test_parquet_and_csv_give_the_same_dataset(tmp_path):
    df = pd.DataFrame({"review": TEXTS, "y": LABELS, "extra": 1})
    df.to_parquet(tmp_path / "d.parquet")
    df.to_csv(tmp_path / "d.csv", index=False)
    for name in ("d.parquet", "d.csv"):
        ds = load_texts(tmp_path / name, text_col="review", label_col="y")
        assert ds.texts == TEXTS
        assert ds.classes == ["neg", "pos"]
        assert ds.labels.tolist() == [1, 0, 1, 0, 1]
        assert name in ds.source


def test_integer_labels_stay_integers_in_csv(tmp_path):
    pd.DataFrame({"text": TEXTS, "label": [3, 1, 3, 1, 2]}).to_csv(
        tmp_path / "d.csv", index=False
    )
    ds = load_texts(tmp_path / "d.csv")
    assert ds.classes == [1, 2, 3] and ds.labels.tolist() == [2, 0, 2, 0, 1]


def test_aclimdb_folder_layouts(tmp_path):
    write_aclimdb(tmp_path)
    for source, kwargs in ((tmp_path, {}), (tmp_path / "train", {})):
        ds = load_texts(source, **kwargs)
        assert ds.classes == ["neg", "pos"]
        assert ds.texts == ["neg review 1", "pos review 2", "pos review 10"]
        assert ds.labels.tolist() == [0, 1, 1]
    assert load_texts(tmp_path, label_col=None).labels is None


def test_folder_with_split_parquet(tmp_path):
    pd.DataFrame({"text": TEXTS, "label": [0, 1, 0, 1, 0]}).to_parquet(
        tmp_path / "train.parquet"
    )
    assert load_texts(tmp_path, split="train").labels.tolist() == [0, 1, 0, 1, 0]


def test_missing_column_lists_available_ones(tmp_path):
    pd.DataFrame({"review": TEXTS, "label": 0}).to_parquet(tmp_path / "d.parquet")
    with pytest.raises(ValueError, match=r"d\.parquet: no column 'text'.*'review'"):
        load_texts(tmp_path / "d.parquet")


def test_one_class_is_refused(tmp_path):
    pd.DataFrame({"text": TEXTS, "label": 1}).to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(ValueError, match=r"d\.csv.*1 distinct label.*two or more"):
        load_texts(tmp_path / "d.csv")


def test_missing_label_names_the_row(tmp_path):
    pd.DataFrame({"text": TEXTS, "label": [1, 0, None, 1, 0]}).to_parquet(
        tmp_path / "d.parquet"
    )
    with pytest.raises(ValueError, match="label missing.*row 2"):
        load_texts(tmp_path / "d.parquet")


def test_bad_bytes_name_file_and_offset(tmp_path):
    (tmp_path / "d.csv").write_bytes(b"text,label\ngood,1\nbad \xff here,0\n")
    with pytest.raises(ValueError, match=r"d\.csv.*byte offset 22 \(line 3\)"):
        load_texts(tmp_path / "d.csv")
    write_aclimdb(tmp_path / "imdb")
    (tmp_path / "imdb" / "train" / "neg" / "5_1.txt").write_bytes(b"\xc3(")
    with pytest.raises(ValueError, match=r"5_1\.txt.*byte offset 0"):
        load_texts(tmp_path / "imdb")


def test_empty_texts_are_dropped_with_their_labels(tmp_path, caplog):
    texts = ["fine", "", "   ", None, "also fine", "third"]
    pd.DataFrame({"text": texts, "label": [0, 1, 1, 1, 1, 0]}).to_parquet(
        tmp_path / "d.parquet"
    )
    with caplog.at_level(logging.WARNING):
        ds = load_texts(tmp_path / "d.parquet")
    assert ds.texts == ["fine", "also fine", "third"]
    assert ds.labels.tolist() == [0, 1, 0]
    assert "dropped 3 empty" in caplog.text


def test_unknown_paths_and_hub_failures_are_clear(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="no such file"):
        load_texts(tmp_path / "nope.csv")

    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    import datasets

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(ValueError, match="'imdb'.*network access"):
        load_texts("imdb")


def test_hub_dataset_with_class_labels(monkeypatch):
    import datasets

    features = datasets.Features(
        {
            "text": datasets.Value("string"),
            "label": datasets.ClassLabel(names=["n", "p"]),
        }
    )
    fake = datasets.Dataset.from_dict(
        {"text": ["a b", "c d", "e"], "label": [1, 0, 1]}, features=features
    )
    monkeypatch.setattr(datasets, "load_dataset", lambda name, split: fake)
    ds = load_texts("someone/reviews", split="test")
    assert ds.classes == ["n", "p"] and ds.labels.tolist() == [1, 0, 1]
    assert "someone/reviews" in ds.source


def test_resolve_imdb_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TABTEXT_DATA", str(tmp_path / "env"))
    assert resolve_imdb("explicit/path").as_posix() == "explicit/path"
    (tmp_path / "env" / "imdb").mkdir(parents=True)
    assert resolve_imdb() == tmp_path / "env" / "imdb"
    monkeypatch.delenv("TABTEXT_DATA")
    (tmp_path / "data" / "imdb").mkdir(parents=True)
    assert resolve_imdb().as_posix() == "data/imdb"
    monkeypatch.setattr(
        data_module, "__file__", str(tmp_path / "repo" / "tabtext" / "nlp" / "data.py")
    )
    (tmp_path / "data" / "imdb").rmdir()
    assert resolve_imdb() == "imdb"  # nothing local: the hub name
    (tmp_path / "shared" / "data" / "imdb").mkdir(parents=True)
    assert resolve_imdb() == tmp_path / "shared" / "data" / "imdb"  # repo sibling


@pytest.mark.slow
def test_real_imdb_loads():
    ds = load_texts(resolve_imdb())
    assert isinstance(ds, TextDataset) and len(ds) == 25000
    assert ds.classes == [0, 1] and np.bincount(ds.labels).tolist() == [12500, 12500]
