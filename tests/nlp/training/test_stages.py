"""The stages' helpers: document subsets, the run directory, the precision choice."""

import json

import numpy as np
import pytest
import torch

from tabtext.nlp.training import stages
from tabtext.nlp.training.stages import Run, balanced_subset, subset, use_bf16

from ...core.conftest import make_learner


def test_balanced_subset_balances_classes_as_far_as_they_go():
    labels = np.array([0] * 10 + [1] * 3 + [2] * 5)
    idx = balanced_subset(labels, 9, seed=0)
    assert np.bincount(labels[idx]).tolist() == [3, 3, 3]
    assert np.all(np.diff(idx) > 0)  # sorted, no repeats
    idx = balanced_subset(labels, 13, seed=0)  # class 1 runs out: the others fill in
    assert np.bincount(labels[idx]).tolist() == [5, 3, 5]
    assert balanced_subset(labels, 100, seed=0).tolist() == list(range(18))
    assert np.array_equal(balanced_subset(labels, 9, 1), balanced_subset(labels, 9, 1))
    assert not np.array_equal(
        balanced_subset(labels, 9, 1), balanced_subset(labels, 9, 2)
    )


def test_subset_is_sorted_seeded_and_all_when_asked():
    assert subset(5, None, seed=0).tolist() == [0, 1, 2, 3, 4]
    assert subset(5, 9, seed=0).tolist() == [0, 1, 2, 3, 4]
    idx = subset(100, 10, seed=3)
    assert len(set(idx.tolist())) == 10 and np.all(np.diff(idx) > 0)
    assert idx.max() < 100
    assert np.array_equal(idx, subset(100, 10, seed=3))
    assert not np.array_equal(idx, subset(100, 10, seed=4))


def test_run_records_progress_and_resumes_or_starts_afresh(tmp_path):
    out = tmp_path / "out"
    run = Run(out, resume=False)
    assert out.is_dir() and run.done("lm") is None
    assert run.ckpt("lm") == out / "ckpt" / "lm"
    run.mark_done("lm", {"valid_loss": 1.5})
    assert json.loads((out / "progress.json").read_text()) == {
        "done": {"lm": {"valid_loss": 1.5}}
    }
    assert Run(out, resume=True).done("lm") == {"valid_loss": 1.5}
    fresh = Run(out, resume=False)  # a new run forgets the old progress
    assert fresh.done("lm") is None and not (out / "progress.json").exists()
    assert Run(out, resume=True).done("lm") is None


def test_run_epochs_done_reads_the_phase_checkpoint(tmp_path):
    run = Run(tmp_path, resume=True)
    assert run.epochs_done("clas_1") == 0  # no checkpoint yet
    make_learner().save(run.ckpt("clas_1"), epochs_done=2)
    assert run.epochs_done("clas_1") == 2


def test_use_bf16(monkeypatch):
    assert not use_bf16("fp32", "cpu")
    for supported in (True, False):
        monkeypatch.setattr(
            torch.cpu, "_is_avx512_bf16_supported", lambda s=supported: s, raising=False
        )
        assert use_bf16("auto", "cpu") is supported
        if supported:
            assert use_bf16("bf16", "cpu")
        else:  # no bf16 LSTM in oneDNN there: refused with what to do
            with pytest.raises(ValueError, match="use --precision fp32 or auto"):
                use_bf16("bf16", "cpu")
    monkeypatch.setattr(stages.distributed, "device", lambda d: torch.device("cuda"))
    assert use_bf16("auto") is True  # always on CUDA
