"""ONNX export of the text classifier: onnxruntime gives the torch model's
probabilities, for any batch size and sequence length."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from torch import nn

from tabtext.nlp import (
    AWDLSTMConfig,
    TextClassifier,
    TextClassifierModel,
    TextModel,
    Tokenizer,
    ULMFiTConfig,
    Vocab,
    encode_texts,
    export_onnx,
    save_text_model,
)
from tabtext.nlp.export import main as export_main

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

WORDS = "good bad film plot great awful the a".split()
VOCAB = Vocab(["xxunk", "xxpad", "xxbos", "xxmaj", *WORDS])
TEXTS = [
    "Good film",
    "bad bad film, the plot was awful",
    "unknown words here",
    " ".join(["great"] * 5 + ["the film"] * 12 + ["awful plot"] * 4),  # > max_len
    "A",
]


def text_model(n_classes=2, max_len=8, max_tokens=30, seed=0) -> TextModel:
    """A random tiny classifier (the usual dropouts, off in eval mode) with larger
    embeddings and head BatchNorm statistics measured on random ids, so that its
    probabilities are spread out rather than near-uniform or saturated."""
    torch.manual_seed(seed)
    enc = AWDLSTMConfig(vocab_size=len(VOCAB), emb_sz=6, n_hid=10, n_layers=2)
    model = TextClassifierModel(enc, n_classes, bptt=4, max_len=max_len).eval()
    bns = [m for m in model.head.modules() if isinstance(m, nn.BatchNorm1d)]
    with torch.no_grad():
        model.encoder.embedding.weight.mul_(10)
        for bn in bns:  # cumulative statistics of 4 batches, the rest in eval mode
            bn.reset_running_stats()
            bn.momentum = None
            bn.train()
        for _ in range(4):
            model(torch.randint(2, len(VOCAB), (32, 12)))
    model.eval()
    cfg = ULMFiTConfig(clas_bs=4, max_tokens=max_tokens, seed=3)
    classes = [f"c{i}" for i in range(n_classes)]
    return TextModel(model, VOCAB, Tokenizer(lower=False), cfg, classes)


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def random_ids(bs, seq, rng, pad=1):
    """Right-padded rows of random lengths in 1..seq (the first row full)."""
    ids = np.full((bs, seq), pad, dtype=np.int64)
    for i in range(bs):
        n = seq if i == 0 else int(rng.integers(1, seq + 1))
        ids[i, :n] = rng.integers(2, len(VOCAB), n)
    return ids


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A saved model directory exported with the CLI."""
    tm = text_model()
    tmp = tmp_path_factory.mktemp("text")
    save_text_model(tm, tmp / "out" / "model")
    out = export_main([str(tmp / "out"), str(tmp / "m.onnx")])
    return tm, session(out)


@pytest.mark.parametrize("bs,seq", [(1, 1), (1, 5), (3, 8), (7, 9), (16, 37)])
def test_onnxruntime_matches_torch(exported, bs, seq):
    tm, sess = exported
    ids = random_ids(bs, seq, np.random.default_rng(bs * 100 + seq))
    proba, idx = sess.run(None, {"ids": ids})
    with torch.no_grad():
        ref = torch.softmax(tm.model(torch.from_numpy(ids)), 1).numpy()
    assert proba.shape == (bs, 2) and idx.shape == (bs,)
    np.testing.assert_allclose(proba, ref, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(idx, ref.argmax(1))


def test_probabilities_are_not_trivial(exported):
    """Guards the comparison above: the model separates its inputs."""
    tm, sess = exported
    proba, _ = sess.run(None, {"ids": random_ids(32, 12, np.random.default_rng(1))})
    assert proba[:, 0].std() > 0.03 and 0.02 < proba[:, 0].mean() < 0.98


def test_padding_does_not_change_a_row(exported):
    _, sess = exported
    ids = random_ids(4, 10, np.random.default_rng(2))
    wide = np.pad(ids, ((0, 0), (0, 7)), constant_values=1)
    np.testing.assert_allclose(
        sess.run(None, {"ids": wide})[0], sess.run(None, {"ids": ids})[0], atol=1e-5
    )


def test_from_raw_texts_as_predict_proba(exported):
    tm, sess = exported
    ids = encode_texts(tm, TEXTS)
    assert ids.dtype == np.int64 and ids.shape[0] == len(TEXTS)
    proba, _ = sess.run(None, {"ids": ids})
    np.testing.assert_allclose(proba, tm.predict_proba(TEXTS), atol=1e-5)


def test_axes_and_metadata(exported):
    tm, sess = exported
    (inp,) = sess.get_inputs()
    assert inp.name == "ids" and all(isinstance(d, str) for d in inp.shape)
    assert [o.name for o in sess.get_outputs()] == ["probabilities", "class_index"]
    meta = json.loads(sess.get_modelmeta().custom_metadata_map["tabtext"])
    assert meta["classes"] == ["c0", "c1"] and meta["pad_idx"] == 1
    assert meta["max_tokens"] == 30 and meta["backwards"] is False


def test_text_classifier_method_uses_its_labels(tmp_path):
    """Three classes, no max_len: every token pooled."""
    tm = text_model(n_classes=3, max_len=None, max_tokens=None, seed=1)
    clf = TextClassifier()
    clf.model_, clf.classes_ = tm, np.array(["neg", "mid", "pos"], dtype=object)
    sess = session(clf.export_onnx(tmp_path / "clf.onnx"))
    meta = json.loads(sess.get_modelmeta().custom_metadata_map["tabtext"])
    assert meta["classes"] == ["neg", "mid", "pos"]
    ids = random_ids(5, 23, np.random.default_rng(3))
    proba, _ = sess.run(None, {"ids": ids})
    with torch.no_grad():
        ref = torch.softmax(tm.model(torch.from_numpy(ids)), 1).numpy()
    np.testing.assert_allclose(proba, ref, atol=1e-5, rtol=0)


def test_bidirectional_encoder_is_refused(tmp_path):
    tm = text_model()
    enc = dataclasses.replace(tm.model.config, bidir=True)
    bidir = dataclasses.replace(tm, model=TextClassifierModel(enc, 2).eval())
    with pytest.raises(ValueError, match="bidirectional"):
        export_onnx(bidir, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()
