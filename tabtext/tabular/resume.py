"""Checkpointing and resuming an EmbeddingModel fit (``checkpoint_dir=``).

The folder holds ``last/`` (the core's :class:`~tabtext.core.Checkpoint`, written
after every epoch) and, with a validation set, ``best/`` (:class:`SaveBest`). Each
checkpoint carries a fingerprint of its fit -- the training tensors, the parameters
and the seed -- so that a fit resumes only from a checkpoint of the same fit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core import Callback, Checkpoint, Learner, SaveBest, distributed
from ..core.checkpoint import read_state
from ..core.run_lock import RunLock

log = logging.getLogger(__name__)
# Parameters that do not change the result of a fit (callbacks: loggers and the like;
# their repr would differ in every process).
_IGNORED = ("checkpoint_dir", "device", "verbose", "callbacks")


class FitRecord(Callback):
    """Stores, in every checkpoint, the fingerprint of its fit and the LR it used."""

    def __init__(self, fingerprint: str, lr: float):
        self.fingerprint, self.lr = fingerprint, lr

    def state_dict(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "lr": self.lr}


def fingerprint(est, seed: int, tensors: list[torch.Tensor]) -> str:
    """What identifies a fit: estimator class, parameters, seed, training tensors."""
    params = {k: v for k, v in est.get_params(deep=False).items() if k not in _IGNORED}
    h = hashlib.sha256()
    head = [type(est).__name__, seed, sorted(params.items(), key=lambda kv: kv[0])]
    h.update(json.dumps(head, default=repr).encode())
    for t in tensors:
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def callbacks(
    folder: Path, monitor: str = "valid_loss", mode: str = "min"
) -> tuple[list[Callback], SaveBest]:
    """A checkpointed fit's Checkpoint, and its SaveBest of ``monitor`` (used with
    a validation set), which keeps the best weights on disk to survive a kill."""
    best = SaveBest(monitor, path=folder / "best", mode=mode)
    return [Checkpoint(folder / "last")], best


def saved_record(folder: Path) -> dict[str, Any] | None:
    """The FitRecord state of ``folder/last``, None if there is no checkpoint yet.

    A corrupted checkpoint raises :class:`~tabtext.core.CheckpointError` naming the
    file, rather than being silently replaced.
    """
    last = folder / "last"
    if not (last / "manifest.json").exists():
        return None
    state = read_state(last)
    record = state.get("callbacks", {}).get("FitRecord.0")
    return record if isinstance(record, dict) else None


def start(
    learn: Learner, folder: str | Path | None, pick_lr: Callable[[Learner], float]
) -> tuple[int, float]:
    """The epoch to start at and the LR: from a checkpoint of this fit, or afresh."""
    record = next((cb for cb in learn.callbacks if isinstance(cb, FitRecord)), None)
    start, lr = 0, None
    if record is not None:
        start, lr = resume(learn, Path(folder), record.fingerprint)
    lr = pick_lr(learn) if lr is None else lr
    if record is not None:
        record.lr = lr
    return start, lr


def resume(learn: Learner, folder: Path, fp: str) -> tuple[int, float | None]:
    """Load ``folder/last`` if it belongs to the fit ``fp``: (start epoch, its LR)."""
    record = saved_record(folder)
    if record is None:
        return 0, None
    if record.get("fingerprint") != fp:
        log.info("%s holds a checkpoint of another fit; starting afresh", folder)
        return 0, None
    learn.load(folder / "last")
    log.info("resuming the fit from %s after epoch %d", folder, learn.resume_epoch)
    return learn.resume_epoch, float(record["lr"])


def locked(folder: str | Path | None):
    """Hold ``folder``'s run lock while fitting (none without a checkpoint folder):
    two fits checkpointing into one folder would overwrite each other. Under
    torchrun rank 0, which writes the checkpoints, holds it."""
    if folder is None or not distributed.is_main():
        return contextlib.nullcontext()
    return RunLock(folder)


@contextlib.contextmanager
def global_rng_kept():
    """Loading a checkpoint restores Python's and NumPy's global RNGs too; the
    estimator promises not to touch them, so they are put back afterwards."""
    py, np_state = random.getstate(), np.random.get_state()
    try:
        yield
    finally:
        random.setstate(py)
        np.random.set_state(np_state)
