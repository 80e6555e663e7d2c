"""One process at a time per output folder: a lock file naming its holder.

Two runs writing the same ``--out`` (or ``checkpoint_dir``) would overwrite each
other's checkpoints, so a run first takes ``FOLDER/.tabtext.lock``: a small JSON file
with its pid, host, start time and command line, created atomically (written under a
temporary name, then hard-linked to the lock's name, which fails if the name exists).
A second run finds it and refuses, naming the lock file and the other process. A lock
left by a killed process is stale -- same host, and that pid is gone or is another
process now -- and is taken over, so a later ``--resume`` is never blocked by it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
LOCK_NAME = ".tabtext.lock"


class RunLockedError(RuntimeError):
    """Another live process holds the lock of the output folder."""


def _proc_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (Linux), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]  # field 22: starttime


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


class RunLock:
    """The lock of ``folder``; ``acquire`` it (or use ``with``), ``release`` it.

    A lock is per process: the same process taking it again (a run restarted in
    the same interpreter) takes it over.

    Parameters
    ----------
    folder : str or Path
        The output folder; created if missing. The lock is ``folder/.tabtext.lock``.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.token: str | None = None

    def acquire(self) -> RunLock:
        """Take the lock, replacing a stale one; raise :class:`RunLockedError` if a
        live process holds it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        mine = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "proc_start": _proc_start(os.getpid()),
            "command": " ".join(sys.argv)[:300],
            "token": uuid.uuid4().hex,
        }
        for _ in range(5):  # a stale lock removed by a racing process: try again
            if self._create(json.dumps(mine).encode()):
                self.token = mine["token"]
                return self
            holder = self.holder()
            if holder is not None and not self._stale(holder):
                raise RunLockedError(self._refusal(holder))
            log.warning("%s: removing a stale lock (%s)", self.path, _who(holder))
            self.path.unlink(missing_ok=True)
        raise RunLockedError(f"{self.path}: could not take the lock; try again")

    def _create(self, data: bytes) -> bool:
        """Create the lock file whole, or return False if it exists."""
        tmp = self.folder / f".tabtext.lock.{uuid.uuid4().hex[:8]}.tmp"
        tmp.write_bytes(data)
        try:
            os.link(tmp, self.path)  # atomic; fails if the name exists
            return True
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)

    def holder(self) -> dict[str, Any] | None:
        """What the lock file says of its holder (None: unreadable or gone)."""
        try:
            holder = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            return None
        return holder if isinstance(holder, dict) else None

    def _stale(self, holder: dict[str, Any]) -> bool:
        if holder.get("host") != socket.gethostname():
            return False  # another machine's process: it cannot be checked from here
        pid = int(holder.get("pid", -1))
        if pid == os.getpid():
            return True  # this process again: take it over
        if pid <= 0 or not _alive(pid):
            return True
        start = holder.get("proc_start")
        return start is not None and start != _proc_start(pid)  # pid reused

    def _refusal(self, holder: dict[str, Any]) -> str:
        return (
            f"{self.folder} is in use by another run: the lock {self.path} is held "
            f"by {_who(holder)}. Wait for that run to end, or give another output "
            f"folder; if that process is gone (e.g. it ran on another machine), "
            f"delete {self.path}."
        )

    def release(self) -> None:
        """Delete the lock file if it is still this holder's (idempotent)."""
        if self.token is not None and (self.holder() or {}).get("token") == self.token:
            try:
                self.path.unlink(missing_ok=True)
            except OSError as e:  # e.g. a folder made read-only: never hide the
                # error the run is ending with; a later run finds the lock stale
                log.warning("%s: could not remove the lock (%s)", self.path, e)
        self.token = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _who(holder: dict[str, Any] | None) -> str:
    if holder is None:
        return "an unreadable lock file"
    return (
        f"pid {holder.get('pid')} on host {holder.get('host')}, started "
        f"{holder.get('started')} ({holder.get('command')!r})"
    )
