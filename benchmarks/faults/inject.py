"""Failing disks while a checkpoint is written: a real ``EFBIG`` (``RLIMIT_FSIZE``),
``ENOSPC`` on the flush to disk, and ``EACCES`` -- real when the child can run as an
unprivileged user (``setpriv`` to ``nobody`` when we are root), else simulated where
the checkpoint writer really creates its folder."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
from pathlib import Path

from .procs import ENV, row, run, short

NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]


def install_fault(fault: str, ckpt: Path) -> None:
    """``kind@k``: after the checkpoint of epoch k, make the next save fail."""
    import resource

    from tabtext.core import Checkpoint

    kind, k = fault.split("@")
    save = Checkpoint.after_epoch

    def after_epoch(self, learn):
        save(self, learn)
        if learn.epoch + 1 != int(k):
            return
        if kind == "efbig":  # the kernel refuses to grow files past 4 KiB: EFBIG
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
            resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
        elif kind == "enospc":  # disk full: the flush to disk fails
            os.fsync = _raiser(errno.ENOSPC)
        elif kind == "eacces" and os.geteuid() != 0:  # a read-only folder, for real
            ckpt.chmod(0o555)
        elif kind == "eacces":
            simulate_eacces(ckpt)

    Checkpoint.after_epoch = after_epoch


def simulate_eacces(folder: Path) -> None:
    """Root ignores permissions: refuse, as a read-only ``folder`` would, the
    ``os.mkdir`` and ``os.open`` calls inside it (``write_dir`` makes its temporary
    folder with ``Path.mkdir``, then its files with ``mkstemp``: both end there)."""
    inside = str(folder.resolve()) + os.sep
    for name in ("mkdir", "open"):
        real = getattr(os, name)

        def refuse(path, *args, _real=real, **kwargs):
            if str(Path(os.fsdecode(path)).resolve()).startswith(inside):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
            return _real(path, *args, **kwargs)

        setattr(os, name, refuse)


def _raiser(code: int):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    return fail


def real_eacces_prefix() -> list[str] | None:
    """How to run a child unprivileged (None: simulate, root without setpriv)."""
    if os.geteuid() != 0:
        return []
    return NOBODY if shutil.which("setpriv") else None


def failing_saves(work: Path, tab_ref: Path, rows: list) -> None:
    """Each fault after epoch k's checkpoint: the fit fails saying what, the epoch-k
    checkpoint is intact, and a refit ends like the uninterrupted fit."""
    from .table import refit_check, tab_cmd

    k, prefix = 2, real_eacces_prefix()
    for kind, label in (
        ("efbig", "file size limit (RLIMIT_FSIZE, real EFBIG)"),
        ("enospc", "disk full (ENOSPC on fsync, simulated)"),
        ("eacces", "read-only folder (EACCES"),
    ):
        folder = work / f"save-{kind}"
        folder.mkdir(mode=0o777)
        folder.chmod(0o777)  # the unprivileged child writes here
        ckpt, save = folder / "ckpt", folder / "model"
        env, pre = ENV, []
        if kind == "eacces":
            real = prefix is not None
            label += ", real: child run as an unprivileged user)" if real else (
                ", simulated: root without setpriv)"
            )  # fmt: skip
            pre = prefix or []
            env = dict(ENV, HOME=str(folder))
        res = run(tab_cmd(ckpt, save, f"{kind}@{k}"), env=env, prefix=pre)
        if ckpt.exists():
            ckpt.chmod(0o755)
        code = {"efbig": "EFBIG", "enospc": "ENOSPC", "eacces": "EACCES"}[kind]
        msg = res["error"]
        clear = (
            f"checkpoint of epoch {k + 1} not saved" in msg
            and f"({code} on " in msg
            and f"previous checkpoint at {ckpt}/" in msg  # last/ or SaveBest's best/
            and " is intact" in msg
        )
        intact = _intact(ckpt / "last", k)
        same, check = refit_check(run(tab_cmd(ckpt, save)), tab_ref, save)
        ok = res["rc"] not in (0, -signal.SIGKILL) and clear and intact and same
        detail = f"{short(msg, work)}; epoch-{k} checkpoint "
        detail += f"{'intact' if intact else 'DAMAGED'}; refit: {check}"
        rows.append(row("EmbeddingModel, save fails", label, f"save of epoch {k + 1}",
                        res, ok, detail))  # fmt: skip


def _intact(ckpt: Path, epoch: int) -> bool:
    from tabtext.core.io import read_dir

    try:
        files = read_dir(ckpt)
    except (OSError, ValueError):
        return False
    return json.loads(files["learner.json"])["epochs_done"] == epoch
