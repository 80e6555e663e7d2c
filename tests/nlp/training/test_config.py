"""The ULMFiT config, its presets and the AWD-LSTM config it gives."""

import dataclasses

import pytest

from tabtext.nlp import PRESETS, ULMFiTConfig, make_config
from tabtext.nlp.models.awd_lstm import preset
from tabtext.nlp.models.lm_dir import pretrained_sizes
from tabtext.nlp.training.config import fit_to_pretrained, lm_config

from ..api.test_persistence import saved_lm


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(preset="huge"), "preset must be one of"),
        (dict(model="big"), "model must be 'small' or 'paper'"),
        (dict(valid_pct=0.0), "valid_pct"),
        (dict(valid_pct=1.0), "valid_pct"),
        (dict(bptt=0), "bptt must be >= 1"),
        (dict(clas_bs=0), "clas_bs must be >= 1"),
        (dict(lm_epochs=-1), "lm_epochs must be >= 0"),
        (dict(clas_lr=0.0), "clas_lr must be > 0"),
        (dict(lr_decay=-1.0), "lr_decay must be > 0"),
        (dict(precision="half"), "precision must be one of auto, bf16, fp16, fp32"),
        (dict(clas_min_steps=-1), "clas_min_steps must be >= 0"),
        (dict(lm_docs=1), "lm_docs must be >= 2 or unset"),
        (dict(max_tokens=0), "max_tokens must be >= 2 or unset"),
        (dict(unfreeze=(0,)), "unfreeze steps must be ints >= 1"),
    ],
)
def test_config_rejects_bad_values(kw, message):
    with pytest.raises(ValueError, match=message):
        ULMFiTConfig(**kw)


def test_config_round_trips_through_a_dict():
    cfg = ULMFiTConfig(unfreeze=(1, 2), lm_docs=None, clas_final_lr=1e-3, seed=7)
    d = cfg.to_dict()
    assert d["unfreeze"] == [1, 2]  # JSON-ready
    back = ULMFiTConfig.from_dict(d)
    assert back == cfg and back.unfreeze == (1, 2)
    with pytest.raises(ValueError, match=r"unknown ULMFiT config keys \['nope'\]"):
        ULMFiTConfig.from_dict({**d, "nope": 1})


def test_make_config_applies_the_preset_then_the_overrides():
    for name in PRESETS:
        cfg = make_config(name)
        assert cfg.preset == name
        assert all(getattr(cfg, k) == v for k, v in PRESETS[name].items())
    quick = make_config("quick", bptt=12, clas_lr=None, lm_docs="all")
    assert quick.bptt == 12  # an override
    assert quick.clas_lr == ULMFiTConfig().clas_lr  # None: not overridden
    assert quick.lm_docs is None and PRESETS["quick"]["lm_docs"] == 10000  # "all"
    assert make_config("paper").model == "paper"
    with pytest.raises(ValueError, match="unknown preset 'fast'"):
        make_config("fast")


def test_lm_config_sizes_cutoffs_and_dropouts():
    cfg = ULMFiTConfig(adaptive_softmax=True, emb_sz=16, n_hid=24, lm_drop_mult=0.5)
    assert lm_config(cfg, 3000).adaptive_softmax is None  # too small to cut
    assert lm_config(cfg, 5000).adaptive_softmax == (2000,)
    big = lm_config(cfg, 20000)
    assert big.adaptive_softmax == (2000, 8000)
    assert (big.emb_sz, big.n_hid, big.n_layers) == (16, 24, 2)  # small's 2 layers
    assert big == preset(
        "small",
        20000,
        drop_mult=0.5,
        adaptive_softmax=(2000, 8000),
        emb_sz=16,
        n_hid=24,
    )
    clas = lm_config(cfg, 20000, task="classifier")
    assert clas.adaptive_softmax is None  # the classifier has no LM head
    assert clas == preset(
        "small", 20000, "classifier", cfg.clas_drop_mult, emb_sz=16, n_hid=24
    )


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
