"""A checkpoint save that fails says what failed, and that the previous one is intact."""

import errno
import os
import resource
import signal
from pathlib import Path

import pytest

from tabtext.core import io as tio
from tabtext.core import read_state
from tabtext.core.io import write_dir

from .conftest import make_learner


def _fail_fsync(code):
    def fsync(fd):
        raise OSError(code, os.strerror(code))

    return fsync


def test_failed_checkpoint_names_error_epoch_and_intact_previous(tmp_path, monkeypatch):
    learn = make_learner()
    learn.fit_one_cycle(1, 1e-2)
    ck = tmp_path / "ck"
    learn.save(ck, epochs_done=1)
    monkeypatch.setattr(tio.os, "fsync", _fail_fsync(errno.ENOSPC))
    with pytest.raises(OSError) as e:
        learn.save(ck, epochs_done=2)
    msg = str(e.value)
    assert e.value.errno == errno.ENOSPC and "ENOSPC" in msg
    assert "No space left on device" in msg and "checkpoint of epoch 2 not saved" in msg
    assert f"the previous checkpoint at {ck} (epoch 1) is intact" in msg
    monkeypatch.undo()
    assert read_state(ck)["epochs_done"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]  # no temp folder


def test_real_file_size_limit_efbig(tmp_path):
    learn = make_learner()
    learn.save(tmp_path / "ck", epochs_done=1)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (256, hard))
    try:
        with pytest.raises(OSError) as e:
            learn.save(tmp_path / "ck", epochs_done=2)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    assert e.value.errno == errno.EFBIG and "EFBIG on " in str(e.value)
    assert "(epoch 1) is intact" in str(e.value)
    assert read_state(tmp_path / "ck")["epochs_done"] == 1


def test_first_checkpoint_failing_says_there_is_none(tmp_path, monkeypatch):
    learn = make_learner()
    monkeypatch.setattr(tio.os, "fsync", _fail_fsync(errno.EIO))
    with pytest.raises(OSError, match="there is no earlier checkpoint at"):
        learn.save(tmp_path / "ck", epochs_done=1)


def test_write_dir_error_names_path_and_what_is_left(tmp_path, monkeypatch):
    monkeypatch.setattr(tio.os, "fsync", _fail_fsync(errno.ENOSPC))
    with pytest.raises(OSError, match="nothing was written"):
        write_dir(tmp_path / "m", {"a.json": b"{}"}, "k")
    monkeypatch.undo()
    write_dir(tmp_path / "m", {"a.json": b"{}"}, "k")
    monkeypatch.setattr(tio.os, "fsync", _fail_fsync(errno.ENOSPC))
    with pytest.raises(OSError, match=f"the previous version at {tmp_path / 'm'} is"):
        write_dir(tmp_path / "m", {"a.json": b"[]"}, "k")


def test_suite_simulated_eacces_fires_on_the_real_write_path(tmp_path, monkeypatch):
    """The fault suite's EACCES for root (which ignores permissions) must hit the
    path the checkpoint writer really takes, or its scenario tests nothing."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from faults.inject import simulate_eacces

    learn, ck = make_learner(), tmp_path / "ckpt" / "last"
    learn.save(ck, epochs_done=1)
    for name in ("mkdir", "open"):  # restored after the test
        monkeypatch.setattr(os, name, getattr(os, name))
    simulate_eacces(tmp_path / "ckpt")
    with pytest.raises(PermissionError) as e:
        learn.save(ck, epochs_done=2)
    assert "EACCES" in str(e.value) and "(epoch 1) is intact" in str(e.value)
    learn.save(tmp_path / "elsewhere", epochs_done=2)  # outside the folder: writes
    assert read_state(ck)["epochs_done"] == 1


def test_save_best_failing_names_its_epoch(tmp_path, monkeypatch):
    learn = make_learner()
    learn.save(tmp_path / "best", with_opt=False)  # SaveBest's weights-only copy
    learn.epoch = 4
    monkeypatch.setattr(tio.os, "fsync", _fail_fsync(errno.ENOSPC))
    with pytest.raises(OSError) as e:
        learn.save(tmp_path / "best", with_opt=False)
    msg = str(e.value)
    assert "checkpoint of epoch 5 not saved" in msg
    assert f"the previous checkpoint at {tmp_path / 'best'} is intact" in msg
