"""The run directory: progress records and per-phase checkpoints."""

import json

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
