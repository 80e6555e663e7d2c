"""The run lock: one live process per output folder, stale locks taken over."""

import json
import os
import socket
import subprocess
import sys

import pytest

from tabtext.core.run_lock import LOCK_NAME, RunLock, RunLockedError, _proc_start


def _plant(folder, **holder):
    """A lock file as another process would leave it."""
    folder.mkdir(parents=True, exist_ok=True)
    base = {"host": socket.gethostname(), "started": "then", "command": "x"}
    (folder / LOCK_NAME).write_text(json.dumps({**base, "token": "other", **holder}))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_acquire_writes_holder_and_release_removes_it(tmp_path):
    lock = RunLock(tmp_path / "out").acquire()
    holder = json.loads((tmp_path / "out" / LOCK_NAME).read_text())
    assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
    assert holder["started"] and holder["token"] == lock.token
    lock.release()
    assert not (tmp_path / "out" / LOCK_NAME).exists()
    assert [p.name for p in (tmp_path / "out").iterdir()] == []  # no temp file left


def test_live_holder_refused_naming_lock_pid_and_host(tmp_path):
    _plant(tmp_path, pid=1, proc_start=_proc_start(1))  # pid 1 is always alive
    with pytest.raises(RunLockedError) as e:
        RunLock(tmp_path).acquire()
    msg = str(e.value)
    assert str(tmp_path / LOCK_NAME) in msg and "pid 1 " in msg
    assert socket.gethostname() in msg and "another output folder" in msg
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == 1  # untouched


def test_lock_held_by_another_process_refused(tmp_path):
    code = (
        "import sys, time; from tabtext.core.run_lock import RunLock; "
        f"RunLock({str(tmp_path)!r}).acquire(); print('held', flush=True); "
        "sys.stdin.read()"
    )
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        env=env, text=True,
    )  # fmt: skip
    try:
        assert child.stdout.readline().strip() == "held"
        with pytest.raises(RunLockedError, match=f"pid {child.pid} on host"):
            RunLock(tmp_path).acquire()
    finally:
        child.communicate("")
    RunLock(tmp_path).acquire().release()  # the child exited without releasing


def test_stale_lock_of_dead_process_taken_over(tmp_path):
    _plant(tmp_path, pid=_dead_pid())
    with RunLock(tmp_path) as lock:
        assert lock.holder()["pid"] == os.getpid()
    assert not (tmp_path / LOCK_NAME).exists()


def test_reused_pid_is_stale(tmp_path):
    _plant(tmp_path, pid=1, proc_start="-1")  # pid 1, but not the process that locked
    RunLock(tmp_path).acquire().release()


def test_other_host_refused(tmp_path):
    _plant(tmp_path, pid=_dead_pid(), host="elsewhere.example")
    with pytest.raises(RunLockedError, match="elsewhere.example"):
        RunLock(tmp_path).acquire()


def test_release_keeps_a_lock_taken_over_by_another(tmp_path):
    lock = RunLock(tmp_path).acquire()
    _plant(tmp_path, pid=1)
    lock.release()
    assert (tmp_path / LOCK_NAME).exists()


def test_same_process_takes_its_own_lock_over(tmp_path):
    first = RunLock(tmp_path).acquire()
    second = RunLock(tmp_path).acquire()
    first.release()  # no longer its lock: leaves the second's in place
    assert second.holder()["token"] == second.token
    second.release()
    assert not (tmp_path / LOCK_NAME).exists()


def test_release_in_a_read_only_folder_does_not_raise(tmp_path, monkeypatch, caplog):
    lock = RunLock(tmp_path).acquire()

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(type(lock.path), "unlink", refuse)
    lock.release()  # the run's own error must not be replaced by this one
    assert "could not remove the lock" in caplog.text
