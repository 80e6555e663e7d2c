"""The run directory: progress records and per-phase checkpoints."""

import json

import pytest
import torch

from tabtext.core import Callback
from tabtext.nlp.training.run_dir import Run

from ...core.conftest import make_learner


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


def test_stage_best_spans_fits_and_a_resumed_run_remembers_it(tmp_path):
    from tabtext.nlp.training.callbacks import StageBest

    scores = iter([0.5, 0.9, 0.7, 0.8, 0.6])  # epoch 1 (of the first fit) is best
    states = []

    def score(preds, targets):
        return next(scores)

    def keep(learn):
        states.append({k: v.clone() for k, v in learn.model.state_dict().items()})

    run = Run(tmp_path, resume=False)
    best = StageBest("score", "max", run.ckpt("clas_best"), run, "clas")
    learn = make_learner(metrics=[score], callbacks=[best])
    learn.add_cbs(
        [type("Keep", (Callback,), {"after_epoch": lambda s, lr: keep(lr)})()]
    )
    learn.fit_one_cycle(2, 1e-2)
    learn.fit_one_cycle(3, 1e-2)  # the next phase: the best so far stays
    assert best.best_epoch == 1 and best.best == pytest.approx(0.9)
    assert best.restore_best(learn) == {"monitor": "score", "value": 0.9, "epoch": 1}
    for k, v in learn.model.state_dict().items():
        assert torch.equal(v, states[1][k]), k
    again = StageBest(
        "score", "max", run.ckpt("clas_best"), Run(tmp_path, True), "clas"
    )
    assert (again.best, again.best_epoch) == (0.9, 1)
