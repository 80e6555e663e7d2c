"""The phase plan: LM, LM fine-tuning, gradual unfreezing, discriminative LRs."""

import pytest

from tabtext.nlp import ULMFiTConfig
from tabtext.nlp.training.phase_plan import Phase, classifier_phases, lm_phases


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
