"""Language-model directories: round trip, OUT/model, which way an LM reads."""

import torch

from tabtext.core.io import save_model_dir
from tabtext.nlp import Tokenizer, load_lm
from tabtext.nlp.models.lm_dir import (
    LM_KIND,
    model_subdir,
    pretrained_backwards,
    save_lm,
)

from ..api.test_persistence import ENC, VOCAB, saved_lm


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
