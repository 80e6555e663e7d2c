import json

import pytest
import torch

from tabtext.core import Checkpoint, CheckpointError, EarlyStopping, read_dir

from .conftest import make_learner


def _weights(learn):
    return {k: v.clone() for k, v in learn.model.state_dict().items()}


def test_save_load_round_trip(tmp_path):
    learn = make_learner()
    learn.fit_one_cycle(2, 1e-2)
    learn.freeze_to(1)
    learn.save(tmp_path / "ck")
    other = make_learner(seed=3)
    other.load(tmp_path / "ck")
    assert all(
        torch.equal(v, other.model.state_dict()[k]) for k, v in _weights(learn).items()
    )
    assert other.n_frozen == 1 and not other.model.body0.weight.requires_grad
    s1, s2 = learn.opt.state_dict(), other.opt.state_dict()
    assert all(
        torch.equal(s1["state"][i][k], s2["state"][i][k])
        for i in s1["state"]
        for k in s1["state"][i]
    )
    assert other.history.equals(learn.history)
    assert torch.equal(learn.get_preds()[0], other.get_preds()[0])
    names = sorted(p.name for p in (tmp_path / "ck").iterdir())
    assert names == [
        "learner.json",
        "manifest.json",
        "model.safetensors",
        "optimizer.safetensors",
        "rng.safetensors",
    ]


def test_resume_after_interruption_equals_uninterrupted_run(tmp_path):
    full = make_learner(seed=0, callbacks=[EarlyStopping(patience=50)])
    full.fit_one_cycle(5, 1e-2)

    class Interrupt(Exception):
        pass

    class KillAfter2(Checkpoint):
        def after_epoch(self, learn):
            super().after_epoch(learn)
            if learn.epoch == 1:
                raise Interrupt

    first = make_learner(
        seed=0, callbacks=[EarlyStopping(patience=50), KillAfter2(tmp_path / "ck")]
    )
    with pytest.raises(Interrupt):
        first.fit_one_cycle(5, 1e-2)
    torch.manual_seed(123)  # the interruption scrambles the RNG; load must restore it
    resumed = make_learner(seed=7, callbacks=[EarlyStopping(patience=50)])
    resumed.load(tmp_path / "ck")
    assert resumed.resume_epoch == 2
    resumed.fit_one_cycle(5, 1e-2, start_epoch=resumed.resume_epoch)
    for k, v in full.model.state_dict().items():
        assert torch.allclose(v, resumed.model.state_dict()[k], atol=1e-6, rtol=0), k
    assert resumed.history["valid_loss"].tolist() == pytest.approx(
        full.history["valid_loss"].tolist(), abs=1e-6
    )


def test_corrupted_checkpoint_is_refused_naming_the_file(tmp_path):
    learn = make_learner()
    learn.save(tmp_path / "ck")
    weights = tmp_path / "ck" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(
        CheckpointError, match="model.safetensors is corrupted or truncated"
    ):
        learn.load(tmp_path / "ck")


def test_newer_format_and_missing_manifest_are_refused(tmp_path):
    learn = make_learner()
    learn.save(tmp_path / "ck")
    manifest = tmp_path / "ck" / "manifest.json"
    m = json.loads(manifest.read_text())
    m["format_version"] = 99
    manifest.write_text(json.dumps(m))
    with pytest.raises(CheckpointError, match="format version 99"):
        learn.load(tmp_path / "ck")
    manifest.unlink()
    with pytest.raises(CheckpointError, match="manifest.json is missing"):
        read_dir(tmp_path / "ck")


def test_wrong_model_gives_clear_error(tmp_path):
    import torch.nn as nn

    from tabtext.core import Learner

    learn = make_learner()
    learn.save(tmp_path / "ck")
    other = Learner(nn.Linear(3, 1), learn.train_dl, loss_fn=nn.functional.mse_loss)
    with pytest.raises(CheckpointError, match="missing keys .*unexpected keys"):
        other.load(tmp_path / "ck")


def test_save_replaces_previous_checkpoint_atomically(tmp_path):
    learn = make_learner()
    learn.save(tmp_path / "ck")
    learn.fit_one_cycle(1, 1e-2)
    learn.save(tmp_path / "ck")
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]  # no temp or old dirs left
    other = make_learner(seed=3).load(tmp_path / "ck")
    assert torch.equal(other.model.head.weight, learn.model.head.weight)


def test_failed_save_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    from tabtext.core import io

    learn = make_learner()
    learn.save(tmp_path / "ck")
    before = (tmp_path / "ck" / "model.safetensors").read_bytes()
    learn.fit_one_cycle(1, 1e-2)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(io, "_swap_in", disk_full)
    with pytest.raises(OSError, match="No space left"):
        learn.save(tmp_path / "ck")
    assert (tmp_path / "ck" / "model.safetensors").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]


def test_written_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    from tabtext.core import atomic_write_text

    atomic_write_text(tmp_path / "a.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o666 & ~mask
