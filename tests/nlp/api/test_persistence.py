"""Classifier directories: save/load round trips."""

import numpy as np
import torch

from tabtext.nlp import (
    AWDLSTMConfig,
    LanguageModel,
    TextClassifierModel,
    TextModel,
    Tokenizer,
    ULMFiTConfig,
    Vocab,
    load_text_model,
    save_text_model,
)
from tabtext.nlp.models.lm_dir import (
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
