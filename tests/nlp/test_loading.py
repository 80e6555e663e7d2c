"""Text loaders, stratified split and the on-disk numericalized-corpus cache."""

import json
import logging

import numpy as np
import pandas as pd
import pytest

from tabtext.nlp import Tokenizer, Vocab, numericalize_corpus, stratified_split
from tabtext.nlp import loading as data_module
from tabtext.nlp.loading import TextDataset, load_texts, resolve_imdb

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


CORPUS = [f"Doc {i}: the FILM was {'very ' * (i % 4)}good. {i % 7}" for i in range(40)]


def spy_tokenizer(monkeypatch):
    """Record each text the tokenizer's rules see (n_workers=0: in this process)."""
    calls = []
    original = Tokenizer.apply_rules

    def spy(self, text):
        calls.append(text)
        return original(self, text)

    monkeypatch.setattr(Tokenizer, "apply_rules", spy)
    return calls


@pytest.mark.parametrize("n_workers", [0, 2])
def test_corpus_matches_tokenizer_and_vocab(tmp_path, n_workers):
    corpus = numericalize_corpus(
        CORPUS, min_freq=2, cache_dir=tmp_path, n_workers=n_workers
    )
    docs = Tokenizer().tokenize(CORPUS, n_workers=0)
    vocab = Vocab.from_tokens(docs, min_freq=2)
    assert corpus.vocab == vocab and len(corpus) == 40
    assert corpus.ids.dtype == np.int32 and corpus.offsets.dtype == np.int64
    assert corpus.lengths.tolist() == [len(d) for d in docs]
    for i in (0, 17, -1):
        assert corpus.doc(i).tolist() == vocab.numericalize(docs[i]).tolist()
    assert corpus.text(0).startswith("xxbos xxmaj doc")


def test_second_call_hits_the_cache(tmp_path, monkeypatch):
    calls = spy_tokenizer(monkeypatch)
    first = numericalize_corpus(CORPUS, cache_dir=tmp_path, n_workers=0)
    second = numericalize_corpus(CORPUS, cache_dir=tmp_path, n_workers=0)
    assert len(calls) == 40  # tokenized once
    assert np.array_equal(first.ids, second.ids) and first.vocab == second.vocab
    assert second.path is not None and isinstance(second.ids, np.memmap)
    files = sorted(p.name for p in second.path.iterdir())
    assert files == ["ids.npy", "meta.json", "offsets.npy", "vocab.json"]
    meta = json.loads((second.path / "meta.json").read_text())
    assert meta["n_docs"] == 40 and meta["n_tokens"] == len(first.ids)


def test_cache_key_changes_with_inputs_and_settings(tmp_path, monkeypatch):
    calls = spy_tokenizer(monkeypatch)
    base = numericalize_corpus(CORPUS, cache_dir=tmp_path, n_workers=0)
    variants = [
        numericalize_corpus(CORPUS[:-1] + ["changed"], cache_dir=tmp_path, n_workers=0),
        numericalize_corpus(
            CORPUS, Tokenizer(lower=False), cache_dir=tmp_path, n_workers=0
        ),
        numericalize_corpus(CORPUS, min_freq=1, cache_dir=tmp_path, n_workers=0),
        numericalize_corpus(CORPUS, max_vocab=12, cache_dir=tmp_path, n_workers=0),
        numericalize_corpus(CORPUS, vocab=base.vocab, cache_dir=tmp_path, n_workers=0),
    ]
    assert len(calls) == 6 * 40
    assert len({base.key, *(v.key for v in variants)}) == 6
    assert len(variants[3].vocab) == 12


def test_given_vocab_and_no_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TABTEXT_CACHE", str(tmp_path / "env-cache"))
    vocab = Vocab(["xxunk", "xxpad", "xxbos", "good"])
    corpus = numericalize_corpus(["Good good bad"], vocab=vocab, use_cache=False)
    assert corpus.doc(0).tolist() == [2, 0, 3, 3, 0]  # xxbos xxmaj good good bad
    assert corpus.path is None and not (tmp_path / "env-cache").exists()
    numericalize_corpus(["x"], vocab=vocab, n_workers=0)
    assert (tmp_path / "env-cache" / "corpus").is_dir()  # $TABTEXT_CACHE honoured


def test_corrupt_cache_entry_is_rebuilt(tmp_path, monkeypatch):
    calls = spy_tokenizer(monkeypatch)
    first = numericalize_corpus(CORPUS, cache_dir=tmp_path, n_workers=0)
    expected = np.array(first.ids)
    (first.path / "ids.npy").unlink()  # a new file: `first.ids` still maps the old
    (first.path / "ids.npy").write_bytes(b"garbage")
    again = numericalize_corpus(CORPUS, cache_dir=tmp_path, n_workers=0)
    assert len(calls) == 2 * 40
    assert np.array_equal(again.ids, expected)
    assert numericalize_corpus(CORPUS, cache_dir=tmp_path, n_workers=0).path
    assert len(calls) == 2 * 40


@pytest.mark.slow
def test_real_imdb_loads():
    ds = load_texts(resolve_imdb())
    assert isinstance(ds, TextDataset) and len(ds) == 25000
    assert ds.classes == [0, 1] and np.bincount(ds.labels).tolist() == [12500, 12500]
