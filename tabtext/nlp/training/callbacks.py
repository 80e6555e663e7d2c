"""Callbacks of the text recipes: LR scaling for variable-length BPTT (Merity et al.
2017), token counting for tokens/s, the per-segment report of long pretraining runs
(ULMFiT, Howard & Ruder 2018) and the classifier's best epoch over its phases."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ...core import Callback, Order, SaveBest, distributed
from ...core.metrics import perplexity_from_loss
from ..text.loaders import LMStream

if TYPE_CHECKING:
    from .run_dir import Run

__all__ = ["BPTTScaleLR", "SegmentReporter", "StageBest", "TokenCounter"]


class BPTTScaleLR(Callback):
    """Scale every group's LR by ``seq_len / bptt`` for variable-length LM windows."""

    order = Order.BPTT_SCALE  # after the ParamScheduler and the LR finder

    def __init__(self, bptt: int):
        self.bptt = bptt

    def before_batch(self, learn) -> None:
        if learn.training:
            factor = learn.xb.shape[1] / self.bptt
            for group in learn.opt.param_groups:
                group["lr"] *= factor


class TokenCounter(Callback):
    """Counts the non-pad input tokens of training batches (for tokens/s)."""

    order = Order.TOKEN_COUNTER

    def __init__(self, pad_idx: int = 1):
        self.pad_idx, self.tokens, self.seconds = pad_idx, 0, 0.0

    def before_train(self, learn) -> None:
        self._t0 = time.perf_counter()

    def after_batch(self, learn) -> None:
        if learn.training:
            self.tokens += int((learn.xb != self.pad_idx).sum())

    def after_train(self, learn) -> None:
        self.seconds += time.perf_counter() - self._t0


class SegmentReporter(Callback):
    """Adds tokens seen, valid perplexity and time left to each segment's row (so
    ``log_lm.csv`` has them) and hands the row to ``report`` (the CLI prints it)."""

    order = Order.SEGMENT_REPORTER  # before the Recorder stores the row

    def __init__(self, stream: LMStream, plan: dict, report=None):
        self.stream, self.plan, self.report = stream, plan, report

    def before_epoch(self, learn) -> None:
        self._t0 = time.perf_counter()

    def before_train(self, learn) -> None:
        self._t_train = time.perf_counter()

    def after_train(self, learn) -> None:
        self._train_s = time.perf_counter() - self._t_train

    def after_epoch(self, learn) -> None:
        seg, row = learn.epoch + 1, learn.epoch_results
        before = float(learn.history["time"].sum()) if len(learn.history) else 0.0
        spent = before + time.perf_counter() - self._t0
        seen = self.stream.tokens_before(seg * self.plan["segment_batches"])
        prev = self.stream.tokens_before((seg - 1) * self.plan["segment_batches"])
        row.update(
            tokens_seen=seen,
            tokens_per_s=round((seen - prev) / max(self._train_s, 1e-9), 1),
            valid_perplexity=perplexity_from_loss(row.get("valid_loss", math.nan)),
            elapsed_s=round(spent, 1),
            remaining_s=round(spent / seg * (self.plan["segments"] - seg), 1),
        )
        if self.report is not None and distributed.is_main():
            self.report({**row, "segment": seg, "segments": self.plan["segments"]})


class StageBest(SaveBest):
    """The best epoch of ``monitor`` over every fit of a stage (the classifier's
    gradual-unfreezing phases), its weights kept in ``path``.

    Unlike :class:`~tabtext.core.SaveBest`, a new fit (the next phase) keeps the
    best so far, and epochs are counted over the stage (the learner's history
    rows). Each new best is recorded in ``run`` under ``key``, so that a resumed
    run remembers it; :meth:`restore_best` loads its weights once the stage ends.
    """

    def __init__(
        self,
        monitor: str,
        mode: Literal["min", "max"],
        path: str | Path,
        run: Run,
        key: str,
    ):
        super().__init__(monitor, path=path, restore=False, mode=mode)
        self.run, self.key = run, key
        saved = run.best(key)
        if saved is not None:
            self.best, self.best_epoch = saved["value"], saved["epoch"]

    def before_fit(self, learn) -> None:
        """The best of the earlier phases stays."""

    def after_epoch(self, learn) -> None:
        if not self._improved(learn):
            return
        self.best_epoch = len(learn.history) - 1
        learn.save(self.path, with_opt=False)
        record = {"monitor": self.monitor, "value": self.best, "epoch": self.best_epoch}
        self.run.mark_best(self.key, record)

    def restore_best(self, learn) -> dict | None:
        """Load the best epoch's weights into ``learn.model``; its record (None if
        no epoch was scored)."""
        self.restore = True
        self.after_fit(learn)
        self.restore = False
        return self.run.best(self.key)
