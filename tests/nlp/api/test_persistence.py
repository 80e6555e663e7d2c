"""Classifier and LM directories: save/load round trips, OUT/model, pretrained sizes."""

import dataclasses

import numpy as np
import pytest
import torch

from tabtext.core.io import save_model_dir
from tabtext.nlp import (
    AWDLSTMConfig,
    LanguageModel,
    TextClassifierModel,
    TextModel,
    Tokenizer,
    ULMFiTConfig,
    Vocab,
    load_lm,
    load_text_model,
    save_text_model,
)
from tabtext.nlp.api.persistence import (
    LM_KIND,
    fit_to_pretrained,
    model_subdir,
    pretrained_backwards,
    pretrained_sizes,
    save_lm,
)

VOCAB = Vocab(["xxunk", "xxpad", "xxbos", "xxmaj", "good", "bad", "film"])
ENC = AWDLSTMConfig(vocab_size=len(VOCAB), emb_sz=4, n_hid=6, n_layers=2)


def text_model(classes=("neg", "pos")) -> TextModel:
    torch.manual_seed(0)
    model = TextClassifierModel(ENC, len(classes), bptt=8, max_len=16).eval()
    cfg = ULMFiTConfig(clas_bs=4, max_tokens=20, seed=3)
    return TextModel(model, VOCAB, Tokenizer(lower=False), cfg, list(classes))


def saved_lm(path, emb_sz=4, n_hid=6, n_layers=2):
    torch.manual_seed(0)
    cfg = AWDLSTMConfig(
        vocab_size=len(VOCAB), emb_sz=emb_sz, n_hid=n_hid, n_layers=n_layers
    )
    model = LanguageModel(cfg).eval()
    return model, save_lm(model, VOCAB, Tokenizer(), path)


def test_text_model_round_trip_predicts_the_same(tmp_path):
    tm = text_model(classes=(np.int64(0), np.int64(1)))
    save_text_model(tm, tmp_path / "out" / "model")  # the layout finetune writes
    for where in (tmp_path / "out" / "model", tmp_path / "out"):
        back = load_text_model(where)
        assert back.classes == [0, 1] and type(back.classes[0]) is int
        assert back.vocab == tm.vocab and back.config == tm.config
        assert back.tokenizer == tm.tokenizer and not back.model.training
        texts = ["Good film", "bad bad film", "unknown words"]
        assert np.allclose(back.predict_proba(texts), tm.predict_proba(texts))
        for k, v in tm.model.state_dict().items():
            assert torch.equal(back.model.state_dict()[k], v), k


def test_lm_round_trip(tmp_path):
    expected, path = saved_lm(tmp_path / "lm" / "model")  # as pretrain's --out
    for where in (path, tmp_path / "lm"):
        model, vocab = load_lm(where)
        assert vocab == VOCAB and model.config == ENC and not model.training
        for k, v in expected.state_dict().items():
            assert torch.equal(model.state_dict()[k], v), k


def test_model_subdir(tmp_path):
    assert model_subdir(tmp_path) == tmp_path  # nothing there: the path itself
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "manifest.json").write_text("{}")
    assert model_subdir(tmp_path) == tmp_path / "model"
    assert model_subdir(str(tmp_path / "model")) == tmp_path / "model"
    (tmp_path / "manifest.json").write_text("{}")  # a model directory itself wins
    assert model_subdir(tmp_path) == tmp_path


def test_an_lm_directory_says_which_way_it_reads(tmp_path):
    model, path = saved_lm(tmp_path / "fwd")
    assert pretrained_backwards(path) is False
    save_lm(model, VOCAB, Tokenizer(), tmp_path / "bwd", backwards=True)
    assert pretrained_backwards(tmp_path / "bwd") is True
    # directories from before the key: their pretraining card, else forward
    card = {"pretraining": {"config": {"backwards": True}}}
    cases = [("old", {}, False), ("old_card", card, True)]
    cases += [("odd_card", {"pretraining": 5}, False)]  # no crash on odd JSON
    for name, extra, expected in cases:
        config = {"awd_lstm": model.config.to_dict(), **extra}
        files = {"config.json": config, "vocab.json": VOCAB.to_json().encode()}
        save_model_dir(tmp_path / name, LM_KIND, model, files)
        assert pretrained_backwards(tmp_path / name) is expected, name


def test_fit_to_pretrained_takes_the_lm_sizes(tmp_path):
    _, path = saved_lm(tmp_path / "lm", emb_sz=4, n_hid=6, n_layers=2)
    assert pretrained_sizes(path) == {"emb_sz": 4, "n_hid": 6, "n_layers": 2}
    cfg = ULMFiTConfig(bptt=12)
    assert fit_to_pretrained(cfg, None) is cfg
    fitted = fit_to_pretrained(cfg, path)
    assert (fitted.emb_sz, fitted.n_hid, fitted.n_layers) == (4, 6, 2)
    assert fitted == dataclasses.replace(cfg, emb_sz=4, n_hid=6, n_layers=2)
    assert fit_to_pretrained(dataclasses.replace(cfg, n_hid=6), path) == fitted
    with pytest.raises(ValueError, match="emb_sz=8 does not fit the pretrained LM"):
        fit_to_pretrained(dataclasses.replace(cfg, emb_sz=8), path)
