"""A run's output directory: per-phase checkpoints and a ``progress.json``.

Each phase of the plan (:mod:`tabtext.nlp.training.phase_plan`) checkpoints the whole
learner after every epoch into ``OUT/ckpt/<phase>``, and records its results here once
done, so a killed run resumes from its last completed epoch.
"""

from __future__ import annotations

import json
import weakref
from pathlib import Path

from ...core import distributed
from ...core.checkpoint import read_state
from ...core.io import atomic_write_text
from ...core.run_lock import RunLock


class Run:
    """An output directory with per-phase checkpoints and a ``progress.json``."""

    def __init__(self, out: str | Path, resume: bool):
        self.out, self.resume = Path(out), resume
        self.out.mkdir(parents=True, exist_ok=True)
        if distributed.is_main():  # one run per --out; released when the run ends
            weakref.finalize(self, RunLock(self.out).acquire().release)
        self.progress_path = self.out / "progress.json"
        self.progress = {"done": {}}
        if resume and self.progress_path.exists():
            self.progress = json.loads(self.progress_path.read_text())
        elif not resume and distributed.is_main():
            self.progress_path.unlink(missing_ok=True)

    def ckpt(self, phase: str) -> Path:
        return self.out / "ckpt" / phase

    def done(self, phase: str) -> dict | None:
        return self.progress["done"].get(phase)

    def mark_done(self, phase: str, results: dict) -> None:
        self.progress["done"][phase] = results
        self._write()

    def _write(self) -> None:
        if distributed.is_main():  # under torchrun, rank 0 writes
            atomic_write_text(self.progress_path, json.dumps(self.progress, indent=1))

    def best(self, key: str) -> dict | None:
        """The best epoch recorded under ``key`` (see :meth:`mark_best`)."""
        return self.progress.get("best", {}).get(key)

    def mark_best(self, key: str, record: dict) -> None:
        """Record a stage's best epoch so far (a resumed run starts from it)."""
        self.progress.setdefault("best", {})[key] = record
        self._write()

    def epochs_done(self, phase: str) -> int:
        path = self.ckpt(phase)
        if not (path / "learner.json").exists():
            return 0
        return int(read_state(path)["epochs_done"])
