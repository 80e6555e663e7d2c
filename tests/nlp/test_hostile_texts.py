"""Hostile texts: empty, whitespace, huge, control characters, broken bytes, any script.

Each input either works (tokens, ids and probabilities that make sense) or fails with
a ValueError/TypeError that names the file, row or text at fault.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tabtext.nlp import TextClassifier, Tokenizer, load_texts, numericalize_corpus

from .conftest import make_texts

TOK = Tokenizer()
HOSTILE = {
    "empty": "",
    "whitespace": " \n\t\r\x0b\x0c\u00a0\u3000 ",
    "control": "a\x00b\x01c\x1b[31mred\x1b[0m\x7f\x85\x9f\u200b\u2028end",
    "scripts": "日本語の映画 русский фильм فيلم عربي סרט हिन्दी e\u0301\u200f\ufeff",
    "emoji": "Loved it ❤️👩‍👩‍👧 🇫🇷 👍🏽👍🏽👍🏽👍🏽 😀" * 3,
    "long_token": "a" * 50_000 + "b" * 3 + "c" * 50_000,
    "huge": "Great wonderful film, the actor was superb. " * 24_000,  # ~1 MB
}
HOSTILE_INDEX = {k: i for i, k in enumerate(HOSTILE)}
TINY_CLF = dict(
    emb_sz=16,
    n_hid=24,
    n_layers=2,
    bptt=12,
    lm_bs=8,
    clas_bs=16,
    max_vocab=200,
    min_freq=1,
    lm_docs="all",
    clas_docs="all",
    max_tokens=160,  # as the quick preset: a 1 MB review is clipped, not refused
    max_len=48,
    lm_epochs=1,
    lm_ft_epochs=0,
    unfreeze=(1,),
    clas_epochs=1,
    clas_drop_mult=0.0,
    clas_min_steps=0,
)


@pytest.fixture(scope="module")
def clf(tmp_path_factory):
    texts, labels = make_texts(120, seed=1)
    work = tmp_path_factory.mktemp("clf")
    return TextClassifier(
        "quick", overrides=TINY_CLF, pretrained=None, work_dir=str(work)
    ).fit(texts, labels)


# ---- tokenizer and numericalize_corpus --------------------------------------------------
def test_hostile_texts_tokenize_and_numericalize(tmp_path):
    texts = list(HOSTILE.values())
    toks = TOK.tokenize(texts, n_workers=0)
    assert all(t[0] == "xxbos" for t in toks)
    assert toks[0] == toks[1] == ["xxbos"]  # nothing but the start marker
    assert all(w and " " not in w for t in toks for w in t)
    assert "xxrep" in toks[HOSTILE_INDEX["long_token"]]
    assert len(toks[HOSTILE_INDEX["huge"]]) > 200_000
    corpus = numericalize_corpus(
        texts, TOK, min_freq=1, cache_dir=tmp_path, n_workers=0
    )
    assert corpus.lengths.tolist() == [len(t) for t in toks]
    assert [corpus.vocab.itos[i] for i in corpus.doc(2)] == toks[2]
    again = numericalize_corpus(texts, TOK, min_freq=1, cache_dir=tmp_path)
    assert again.path is not None and np.array_equal(again.ids, corpus.ids)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(st.text(st.characters(codec=None), max_size=60), max_size=6))
def test_any_unicode_text_tokenizes_or_names_the_bad_text(texts):
    try:
        toks = TOK.tokenize(texts, n_workers=0)
    except ValueError as err:  # only lone surrogates, which UTF-8 cannot hold
        assert "lone surrogate" in str(err) and "text " in str(err)
        return
    assert len(toks) == len(texts)
    assert all(t[:1] == ["xxbos"] and all(w and " " not in w for w in t) for t in toks)


def test_lone_surrogate_is_named():
    with pytest.raises(ValueError, match=r"text 1 holds the lone surrogate '\\ud800'"):
        TOK.tokenize(["fine", "bad \ud800 half"], n_workers=0)
    with pytest.raises(TypeError, match="text 0 is a bytes"):
        TOK.tokenize([b"bytes"], n_workers=0)


# ---- load_texts: CSV, parquet, aclImdb folders ------------------------------------------
def _write(path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


CSV_CASES = [  # (bytes, expected texts or an error pattern)
    (b"text,label\nok,pos\nbad,neg\n", ["ok", "bad"]),
    ("\ufefftext,label\nok,pos\nbad,neg\n".encode(), ["ok", "bad"]),  # BOM
    (b'text,label\r\n"multi\r\nline",pos\r\nbad,neg\r\n', ["multi\r\nline", "bad"]),
    (b"text,label\nnul\x00 inside,pos\nbad,neg\n", ["nul\x00 inside", "bad"]),
    ("text,label\n😀 日本,pos\nbad,neg\n".encode(), ["😀 日本", "bad"]),
    (b"text,label\n   ,pos\nok,pos\nbad,neg\n", ["ok", "bad"]),  # blank text dropped
    (
        "text,label\ncaf\xe9,pos\nx,neg\n".encode("latin-1"),
        r"byte offset 14 \(line 2\)",
    ),
    ("text,label\nok,pos\n".encode("utf-16"), "not valid UTF-8.*iconv -f utf-16"),
    (b"text,label\nok,pos\nbad,pos\n", r"1 distinct label\(s\) \['pos'\]"),
    (b"text,label\n \t,pos\n,neg\n", r"0 distinct label\(s\)"),  # only blank texts
    (b"", "cannot parse as CSV"),
    (b'text,label\n"unterminated,pos\nx,neg\n', "cannot parse as CSV"),
    (b"text,label\na,b,c,d\nx,y\n", "cannot parse as CSV.*header"),  # was misread
    (b"text,label\nok,\nbad,neg\n", "label missing in column 'label' at row 0"),
    (b"review,label\nok,pos\n", "no column 'text'"),
]


@pytest.mark.parametrize("content, expected", CSV_CASES)
def test_csv_files(tmp_path, content, expected, caplog):
    path = _write(tmp_path / "d.csv", content)
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=expected) as err:
            load_texts(path)
        assert str(path) in str(err.value)
        return
    with caplog.at_level(logging.WARNING):
        ds = load_texts(path)
    assert ds.texts == expected and sorted(ds.classes) == ["neg", "pos"]


def test_csv_numeric_labels_never_wrap_or_fail(tmp_path):
    big = b"text,label\na,99999999999999999999999\nb,2\nc,inf\n"
    ds = load_texts(_write(tmp_path / "d.csv", big))  # int64 wrapped / raised before
    assert ds.classes == ["2", "99999999999999999999999", "inf"]
    ds = load_texts(_write(tmp_path / "e.csv", b"text,label\na,1.0\nb,2\n"))
    assert ds.classes == [1, 2]


def test_parquet_cells(tmp_path):
    path = tmp_path / "d.parquet"
    pd.DataFrame({"text": [b"caf\xe9", "x"], "label": ["a", "b"]}).to_parquet(path)
    with pytest.raises(ValueError, match=r"d\.parquet, column 'text', row 0"):
        load_texts(path)
    pd.DataFrame({"text": ["a", "b"], "label": [[1], [2]]}).to_parquet(path)
    with pytest.raises(TypeError, match=r"d\.parquet: labels .* \['list'\]"):
        load_texts(path)
    pd.DataFrame({"text": [None, "x", "y"], "label": ["a", "b", "a"]}).to_parquet(path)
    assert load_texts(path).texts == ["x", "y"]
    _write(path, b"\x80\x04\x95 not parquet")
    with pytest.raises(ValueError, match=r"d\.parquet: cannot read as parquet"):
        load_texts(path)


def test_aclimdb_folders(tmp_path):
    root = tmp_path / "imdb" / "train"
    _write(root / "pos" / "1_9.txt", b"good \xff\xfe movie")
    _write(root / "neg" / "2_1.txt", b"bad")
    with pytest.raises(ValueError, match=r"pos/1_9\.txt: bytes .* not valid UTF-8"):
        load_texts(tmp_path / "imdb")
    _write(root / "pos" / "1_9.txt", b"\xef\xbb\xbfgood \xe2\x9d\xa4\xef\xb8\x8f")
    (root / "pos" / "folder.txt").mkdir()  # was an IsADirectoryError
    _write(root / "pos" / "3_8.txt", b"  \n ")  # dropped
    assert load_texts(tmp_path / "imdb").texts == ["bad", "good ❤️"]  # no BOM
    (root / "neg" / "4_1.txt").symlink_to(tmp_path / "gone.txt")
    with pytest.raises(ValueError, match=r"neg/4_1\.txt: cannot read the file"):
        load_texts(tmp_path / "imdb")
    (root / "neg" / "4_1.txt").unlink()
    (root / "neg" / "2_1.txt").unlink()
    with pytest.raises(ValueError, match=r"1 distinct label\(s\) \['pos'\]"):
        load_texts(tmp_path / "imdb")


# ---- a trained classifier on hostile texts ------------------------------------------------
def test_classifier_predicts_hostile_texts(clf):
    proba = clf.predict_proba(list(HOSTILE.values()))
    assert proba.shape == (len(HOSTILE), 2) and np.isfinite(proba).all()
    assert np.allclose(proba.sum(1), 1, atol=1e-5)
    assert np.allclose(proba[0], proba[1])  # empty and blank are the same document
    assert set(clf.predict(["", "😀"])) <= set(clf.classes_)


@pytest.mark.parametrize(
    "X, error, pattern",
    [
        ([], ValueError, "X is empty"),
        ("one text", TypeError, "single str"),
        (["ok", None], TypeError, "item 1 is NoneType"),
        ([b"bytes"], TypeError, "item 0 is bytes"),
        (["ok", "x\udcff"], ValueError, "text 1 holds the lone surrogate"),
    ],
)
def test_classifier_refuses_non_texts_clearly(clf, X, error, pattern):
    with pytest.raises(error, match=pattern):
        clf.predict_proba(X)


def test_classifier_needs_two_classes():
    with pytest.raises(ValueError, match=r"need at least 2 classes, got 1 class"):
        TextClassifier(overrides=TINY_CLF, pretrained=None).fit(
            ["a", "b"], ["pos", "pos"]
        )


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(st.text(st.characters(codec="utf-8"), max_size=80), min_size=1, max_size=4)
)
def test_classifier_on_any_valid_unicode(clf, texts):
    proba = clf.predict_proba(texts)
    assert proba.shape == (len(texts), 2) and np.isfinite(proba).all()
    assert np.allclose(proba.sum(1), 1, atol=1e-5)
