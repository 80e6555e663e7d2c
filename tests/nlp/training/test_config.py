"""The ULMFiT config, its presets and the phase plan (LM, LM fine-tuning, unfreezing)."""

import pytest

from tabtext.nlp import PRESETS, ULMFiTConfig, make_config
from tabtext.nlp.models.awd_lstm import preset
from tabtext.nlp.training.config import Phase, classifier_phases, lm_config, lm_phases


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
        (dict(precision="fp16"), "precision must be auto, bf16 or fp32"),
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


def test_phase_lrs_are_discriminative_over_groups():
    phase = Phase("p", 1, 0.01)
    lrs = phase.lrs(4, 2.0)
    assert lrs == slice(0.01 / 8, 0.01)  # the lowest group gets lr / decay**3
    assert Phase("p", 1, 0.01, discriminative=False).lrs(4, 2.0) == 0.01


def test_lm_phases_skip_the_lm_when_there_is_a_pretrained_one():
    cfg = ULMFiTConfig(lm_epochs=2, lm_lr=0.03, lm_ft_epochs=3, lm_ft_lr=0.004)
    scratch = lm_phases(cfg, pretrained=False)
    assert [(p.name, p.epochs, p.lr) for p in scratch] == [
        ("lm", 2, 0.03),
        ("lm_ft", 3, 0.004),
    ]
    assert not scratch[0].discriminative and scratch[1].discriminative
    assert all(p.freeze_to is None for p in scratch)
    assert [p.name for p in lm_phases(cfg, pretrained=True)] == ["lm_ft"]
    none = ULMFiTConfig(lm_epochs=0, lm_ft_epochs=0)
    assert lm_phases(none, pretrained=False) == []


def test_classifier_phases_unfreeze_gradually():
    cfg = ULMFiTConfig(unfreeze=(1, 2, 3), clas_lr=0.02, clas_epochs=2)
    phases = classifier_phases(cfg, n_groups=4)
    plan = [(p.name, p.epochs, p.lr, p.freeze_to) for p in phases]
    assert plan == [
        ("clas_1", 1, 0.02, -1),
        ("clas_2", 1, 0.01, -2),
        ("clas_3", 1, 0.005, -3),
        ("clas_all", 2, pytest.approx(0.02 / 20), None),  # default final LR
    ]
    # no unfreezing step reaches the last group: that is clas_all's job
    assert [p.name for p in classifier_phases(cfg, n_groups=3)] == [
        "clas_1",
        "clas_2",
        "clas_all",
    ]
    given = ULMFiTConfig(unfreeze=(1,), clas_final_lr=0.003)
    assert classifier_phases(given, 4)[-1].lr == 0.003
    no_final = ULMFiTConfig(unfreeze=(1,), clas_epochs=0)
    assert [p.name for p in classifier_phases(no_final, 4)] == ["clas_1"]
    at_once = ULMFiTConfig(unfreeze=())  # no head-only phase: everything trains
    assert [(p.name, p.freeze_to) for p in classifier_phases(at_once, 4)] == [
        ("clas_all", None)
    ]


def test_classifier_lrs_shrink_with_few_texts():
    cfg = ULMFiTConfig(unfreeze=(1,), clas_lr=0.02, clas_final_lr=0.01)
    lrs = lambda n: [p.lr for p in classifier_phases(cfg, 4, n_docs=n)]  # noqa: E731
    assert lrs(None) == lrs(500) == lrs(22500) == [0.02, 0.01]
    assert lrs(100) == [pytest.approx(0.004), pytest.approx(0.002)]  # 100 / 500
    never = ULMFiTConfig(unfreeze=(1,), clas_lr=0.02, clas_lr_full_at=0)
    assert classifier_phases(never, 4, n_docs=10)[0].lr == 0.02
    with pytest.raises(ValueError, match="clas_lr_full_at must be >= 0"):
        ULMFiTConfig(clas_lr_full_at=-1)


def test_unfreeze_flag_without_values_means_no_gradual_unfreezing():
    from tabtext.nlp.cli import config_from_args
    from tabtext.nlp.finetune import build_parser

    parser = build_parser()
    cfg = config_from_args(
        parser, parser.parse_args(["--preset", "paper", "--unfreeze"])
    )
    assert cfg.unfreeze == ()
    cfg = config_from_args(parser, parser.parse_args(["--unfreeze", "1", "2"]))
    assert cfg.unfreeze == (1, 2)


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
