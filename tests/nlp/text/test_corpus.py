"""numericalize_corpus and its on-disk cache; Corpus subsets."""

import json

import numpy as np
import pytest

from tabtext.nlp import Corpus, Tokenizer, Vocab, numericalize_corpus

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


def test_corpus_select_head_and_as_list():
    docs = [np.arange(n, dtype=np.int32) + 10 * n for n in (3, 1, 4, 2)]
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in docs])]).astype(np.int64)
    corpus = Corpus(np.concatenate(docs), offsets)
    assert len(corpus) == 4 and corpus.n_tokens == 10
    picked = corpus.select([2, 0, 2])  # in that order, repeats allowed
    assert [d.tolist() for d in picked.as_list()] == [
        docs[2].tolist(),
        docs[0].tolist(),
        docs[2].tolist(),
    ]
    assert picked.offsets.tolist() == [0, 4, 7, 11]
    assert [d.tolist() for d in corpus.as_list(backwards=True)] == [
        d[::-1].tolist() for d in docs
    ]
    assert len(corpus.head(5)) == 2 and corpus.head(5).n_tokens == 4  # whole docs
    assert len(corpus.head(1)) == 1  # at least one document
    assert corpus.head(None) is corpus and corpus.head(10) is corpus
    assert corpus.doc(-1).tolist() == docs[3].tolist()
    with pytest.raises(IndexError, match="document 4 out of range"):
        corpus.doc(4)
