"""Vocab: specials first, min_freq/max_vocab, deterministic order, JSON round trip."""

import json

import numpy as np
import pytest

from tabtext.nlp import Vocab
from tabtext.nlp.text.tokenize import SPECIAL_TOKENS

DOCS = [
    ["xxbos", "b", "a", "c", "a", "d"],
    ["xxbos", "a", "b", "c", "xxmaj", "e"],
    ["xxbos", "b", "c", "a", "e", "f"],
]  # counts: a 4, b 3, c 3, e 2, d 1, f 1


def test_specials_first_then_count_then_text():
    v = Vocab.from_tokens(DOCS, min_freq=1)
    assert list(v.itos[:9]) == [
        "xxunk", "xxpad", "xxbos", "xxeos", "xxfld",
        "xxmaj", "xxup", "xxrep", "xxwrep",
    ]  # fmt: skip
    assert v.itos[9:] == ("a", "b", "c", "e", "d", "f")
    assert v.unk_id == 0 and v.pad_id == 1
    assert v.stoi["a"] == 9 and len(v) == 15
    with pytest.raises(TypeError):
        v.stoi["new"] = 3  # read-only views: the vocabulary cannot drift


def test_min_freq_and_max_vocab():
    assert Vocab.from_tokens(DOCS).itos[9:] == ("a", "b", "c")  # default min_freq=3
    assert Vocab.from_tokens(DOCS, min_freq=2).itos[9:] == ("a", "b", "c", "e")
    capped = Vocab.from_tokens(DOCS, min_freq=1, max_vocab=11)
    assert len(capped) == 11 and capped.itos[9:] == ("a", "b")
    with pytest.raises(ValueError, match="max_vocab"):
        Vocab.from_tokens(DOCS, max_vocab=5)
    with pytest.raises(ValueError, match="min_freq"):
        Vocab.from_tokens(DOCS, min_freq=0)


def test_order_does_not_depend_on_input_order():
    a = Vocab.from_tokens(DOCS, min_freq=1)
    b = Vocab.from_tokens([list(reversed(d)) for d in reversed(DOCS)], min_freq=1)
    assert a == b and a.fingerprint == b.fingerprint
    assert Vocab.from_tokens(DOCS, min_freq=2).fingerprint != a.fingerprint


def test_numericalize_unknowns_and_textify():
    v = Vocab.from_tokens(DOCS, min_freq=1)
    ids = v.numericalize(["a", "zzz", "xxbos", "f"])
    assert ids.dtype == np.int32
    assert ids.tolist() == [9, 0, 2, 14]
    assert v.numericalize([]).shape == (0,)
    assert v.textify(ids) == "a xxunk xxbos f"
    with pytest.raises(ValueError, match="outside"):
        v.textify([99])
    with pytest.raises(TypeError, match="one str"):
        v.numericalize("a")


def test_save_load_round_trip(tmp_path):
    v = Vocab.from_tokens(DOCS + [["\n\n", "é", "\u2581x"]], min_freq=1)
    path = tmp_path / "sub" / "vocab.json"
    v.save(path)
    w = Vocab.load(path)
    assert w == v and w.itos == v.itos and w.fingerprint == v.fingerprint
    assert [p.name for p in path.parent.iterdir()] == ["vocab.json"]  # no temp left


def test_load_errors_name_the_file(tmp_path):
    bad = tmp_path / "v.json"
    bad.write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="v.json.*not a tabtext vocabulary"):
        Vocab.load(bad)
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="v.json.*not a JSON"):
        Vocab.load(bad)
    with pytest.raises(ValueError, match="no such"):
        Vocab.load(tmp_path / "missing.json")


def test_constructor_validates():
    with pytest.raises(ValueError, match="twice"):
        Vocab([*SPECIAL_TOKENS, "a", "a"])
    with pytest.raises(ValueError, match="xxunk"):
        Vocab(["xxpad", "a"])
    assert len(Vocab(["xxunk", "xxpad"])) == 2


def test_to_json_is_what_save_writes_and_load_reads(tmp_path):
    v = Vocab.from_tokens(DOCS + [["é", "\u2581x"]], min_freq=1)
    doc = json.loads(v.to_json())
    assert doc["itos"] == list(v.itos) and "format" in doc and "version" in doc
    assert "é" in v.to_json()  # UTF-8 kept as is, not \u-escaped
    path = tmp_path / "vocab.json"
    path.write_text(v.to_json(), encoding="utf-8")  # as model directories hold it
    assert Vocab.load(path) == v
    v.save(tmp_path / "saved.json")
    assert (tmp_path / "saved.json").read_text(encoding="utf-8") == v.to_json()
