"""Running, killing and judging the child processes of the fault suite."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
SCRIPT = str(REPO / "benchmarks" / "fault_injection.py")
#: Set when a reference run fails: every lane stops at once.
STOP = threading.Event()


class ReferenceFailed(RuntimeError):
    """A reference run failed: nothing can be compared with it."""


def run(
    cmd: list[str],
    kill_when: Callable[[], bool] | None = None,
    delay: float = 0.0,
    timeout: float = 300,
    during: tuple[Callable[[], bool], Callable[[int], None]] | None = None,
    env: dict | None = None,
    prefix: list[str] | None = None,
) -> dict:
    """Run ``cmd``; SIGKILL it ``delay`` s after ``kill_when()`` turns true. With
    ``during=(when, act)``, ``act()`` runs once while it runs, when ``when()`` turns
    true, with its pid. ``prefix`` (e.g. setpriv ...) is put before the command."""
    if STOP.is_set():
        raise ReferenceFailed("stopped: a reference run failed")
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [*(prefix or []), *cmd], cwd=REPO, env=env or ENV,
            stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
        t0, kill_at, acted = time.monotonic(), None, during is None
        while proc.poll() is None:
            now = time.monotonic()
            if not acted and _safe(during[0]):
                during[1](proc.pid)
                acted = True
            if kill_at is None and kill_when is not None and _safe(kill_when):
                kill_at = now + delay
            late = now - t0 > timeout or STOP.is_set()
            if (kill_at is not None and now >= kill_at) or late:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                break
            time.sleep(0.01)
        err.seek(0)
        tail = err.read().decode(errors="replace").strip().splitlines()
    return {
        "rc": proc.returncode,
        "pid": proc.pid,
        "killed": proc.returncode == -signal.SIGKILL,
        "seconds": time.monotonic() - t0,
        "error": tail[-1] if tail else "",
        "tail": "\n".join(tail[-25:]),
    }


def reference(res: dict, what: str) -> dict:
    """``res`` if the reference run ``what`` succeeded; else stop the whole suite."""
    if res["rc"] != 0:
        STOP.set()
        raise ReferenceFailed(
            f"the reference run ({what}) failed with exit {res['rc']}, so no "
            f"scenario can be compared with it. Its stderr ends:\n{res['tail']}"
        )
    return res


def paused(pid: int, act: Callable[[], None]) -> None:
    """``act()`` while the process ``pid`` is stopped (SIGSTOP): alive, holding what
    it holds, however long ``act`` takes on a loaded machine."""
    os.kill(pid, signal.SIGSTOP)
    try:
        act()
    finally:
        os.kill(pid, signal.SIGCONT)


def run_killed(cmd: list[str], trigger: Callable[[], bool], delay: float) -> dict:
    """``run`` killed at ``trigger`` + ``delay``; if it ended before the kill (a
    fast stage on a fast machine), once more with no delay."""
    res = run(cmd, trigger, delay)
    if not res["killed"] and res["rc"] == 0:
        res = run(cmd, trigger, 0.0)
        res["retried"] = True
    return res


def _safe(pred: Callable[[], bool]) -> bool:
    try:
        return bool(pred())
    except (OSError, ValueError, KeyError):  # a file caught mid-rename
        return False


def epochs_saved(ckpt: Path) -> int:
    """epochs_done of a learner checkpoint directory, 0 if none (or unreadable)."""
    try:
        raw = (ckpt / "learner.json").read_text()
        return int(json.loads(raw)["epochs_done"])
    except (OSError, ValueError, KeyError):
        return 0


def same_weights(a_path: Path, b_path: Path) -> tuple[bool, str]:
    """Whether two safetensors files hold bit-identical tensors, and a summary."""
    from safetensors.torch import load_file

    a, b = load_file(a_path), load_file(b_path)
    same = a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)
    if same:
        return True, "weights equal bit for bit"
    diff = max(float((a[k] - b[k]).abs().max()) for k in a if k in b)
    return False, f"weights differ (max abs diff {diff:.2e})"


# ---- damage -------------------------------------------------------------------------
def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))


def plant_pickle(path: Path, marker: Path) -> None:
    """A torch.save file whose unpickling would create ``marker``."""
    import io

    import torch

    class Plant:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    buf = io.BytesIO()
    torch.save({"weight": Plant()}, buf)
    path.write_bytes(buf.getvalue())


# ---- report -------------------------------------------------------------------------
def row(scenario, injected, at, res, ok, check) -> dict:
    outcome = "killed" if res.get("killed") else f"exit {res['rc']}"
    if res.get("retried"):
        outcome += " (retried: first run ended before the kill)"
    return {
        "scenario": scenario,
        "injected": injected,
        "at": at,
        "outcome": f"{outcome} after {res['seconds']:.1f}s",
        "check": check,
        "result": "PASS" if ok else "FAIL",
    }


def short(error: str, work: Path) -> str:
    """The last line of a traceback without the module path or the work folder."""
    head, sep, msg = error.partition(": ")
    text = f"{head.rsplit('.', 1)[-1]}: {msg}" if sep else error
    return text.replace(f"{work}/", "")[:260]


def refused(
    rows: list, scenario: str, injected: str, res: dict, expect: str, work: Path
) -> dict:
    """A row: the run must fail (not be killed) with ``expect`` in its error."""
    ok = res["rc"] not in (0, -9) and expect in res["error"]
    rows.append(row(scenario, injected, "load", res, ok, short(res["error"], work)))
    return rows[-1]


def kill_checked(killed: dict, ok: bool, check: str) -> tuple[bool, str]:
    """A kill scenario passes only if the process was really killed."""
    if not killed["killed"]:
        return False, f"NOT KILLED (exit {killed['rc']}: {killed['error']}); {check}"
    return ok, check


def child_cmd(*args: str) -> list[str]:
    """This suite's script run as a child, with ``args``."""
    return [sys.executable, SCRIPT, *args]
