"""Progress of a fit: a tqdm bar on a terminal, one line per epoch everywhere else.

Without a terminal (a log file, CI, ``nohup``, a notebook's captured output) a bar
would print nothing readable, so the same information comes as one line per epoch,
like fastai's epoch table::

    LM fine-tuning  epoch 1/2  train_loss 4.21  valid_loss 4.05  15,950 tokens/s  3m13s elapsed, ~3m13s left

On a terminal the bar names the stage and counts epochs the same way (``epoch 1/2``),
and the same line is printed above it when the epoch ends.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from tqdm.auto import tqdm

from . import distributed
from .hooks import Callback, Order

if TYPE_CHECKING:
    from .learner import Learner

#: the columns of the epoch row the line leaves out (the line says them its own way)
_SKIP = ("epoch", "time")


def rows_of(learn: Learner) -> int:
    """The default count of a training batch: its rows (the first input's length)."""
    x = learn.xb
    while isinstance(x, (tuple, list)) and x:
        x = x[0]
    if isinstance(x, dict) and x:
        x = next(iter(x.values()))
    return int(x.shape[0]) if isinstance(x, torch.Tensor) and x.dim() else 1


class ProgressBar(Callback):
    """Bars over batches on a terminal, one line per epoch otherwise.

    Parameters
    ----------
    enabled : True, False, None or "lines"
        None (default): a bar when stderr is a terminal, else lines; True: a bar
        always; "lines": lines always; False: silent. Rank 0 alone reports under
        torchrun.
    label : str
        The stage the bar and the lines name, e.g. "LM fine-tuning" (settable
        between fits: ``learn.progress.label = ...``).
    unit, count : str and ``count(learn) -> int or 0-d tensor``
        What the throughput counts per training batch: rows by default; a text
        learner counts tokens (a tensor, summed without a device sync per batch).
    every_s : float
        In lines mode, also a line every this many seconds within a long epoch
        (batch count, running train loss, throughput, time left in the epoch).
    epoch_word : str
        What an epoch is called ("segment" for a pretraining run's segments).
    """

    order = Order.PROGRESS

    def __init__(
        self,
        enabled: bool | str | None = None,
        show_epochs: bool = True,
        label: str = "",
        unit: str = "rows",
        count: Callable[[Learner], int] = rows_of,
        every_s: float = 60.0,
        epoch_word: str = "epoch",
    ):
        if enabled not in (None, True, False, "lines"):
            raise ValueError(
                f"progress must be None, True, False or 'lines', got {enabled!r}"
            )
        self.enabled, self.show_epochs = enabled, show_epochs
        self.label, self.unit, self.count = label, unit, count
        self.every_s, self.epoch_word = every_s, epoch_word
        self.bar = None

    def mode(self) -> str:
        """ "bar", "lines" or "off" for this process."""
        if not distributed.is_main() or self.enabled is False:
            return "off"
        if self.enabled is None:
            return "bar" if sys.stderr.isatty() else "lines"
        return "lines" if self.enabled == "lines" else "bar"

    def _epoch_name(self, learn: Learner) -> str:
        name = f"{self.epoch_word} {learn.epoch + 1}/{learn.n_epochs}"
        return f"{self.label}  {name}" if self.label else name

    def before_fit(self, learn: Learner) -> None:
        self._t_fit, self._epoch_times = time.perf_counter(), []
        self._mode = self.mode()  # once per fit: not a tty check per batch

    def before_epoch(self, learn: Learner) -> None:
        self._t_epoch, self._items, self._train_s = time.perf_counter(), 0, 0.0
        self._t_said, self._loss_sum, self._n_losses = self._t_epoch, 0.0, 0

    def before_train(self, learn: Learner) -> None:
        self._t_train = time.perf_counter()
        self._open(learn, f"{self._epoch_name(learn)} train")

    def before_validate(self, learn: Learner) -> None:
        self._open(learn, f"{self._epoch_name(learn)} valid", learn.valid_dl)

    def _open(self, learn: Learner, desc: str, dl=None) -> None:
        if self._mode == "bar":
            dl = learn.train_dl if dl is None else dl
            total = len(dl) if hasattr(dl, "__len__") else None
            self.bar = tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True)

    def after_batch(self, learn: Learner) -> None:
        mode = self._mode
        if learn.training and mode != "off":
            self._items = self._items + self.count(learn)  # int, or a tensor: no sync
            if learn.loss is not None:  # a tensor sum: no GPU sync per batch
                self._loss_sum = self._loss_sum + learn.loss.detach().float()
                self._n_losses += 1
            if mode == "lines" and time.perf_counter() - self._t_said >= self.every_s:
                print(self._interim(learn), file=sys.stderr, flush=True)
                self._t_said = time.perf_counter()
        if self.bar is not None:
            self.bar.update(1)

    def _interim(self, learn: Learner) -> str:
        """A line within a long epoch (lines mode, every ``every_s`` seconds)."""
        done, total = learn.iter_in_epoch + 1, learn.n_batches
        spent = time.perf_counter() - self._t_train
        # a variable-BPTT LM stream's length is an estimate: past it, no total
        known = total >= done
        parts = [
            self._epoch_name(learn),
            f"batch {done:,}/{total:,}" if known else f"batch {done:,}",
        ]
        if self._n_losses:
            parts.append(f"train_loss {float(self._loss_sum) / self._n_losses:.4f}")
        if spent > 0 and int(self._items):
            parts.append(f"{int(self._items) / spent:,.0f} {self.unit}/s")
        if known:
            left = spent / done * (total - done)
            parts.append(f"~{_clock(left)} left in this epoch's training")
        return "  ".join(parts)

    def after_train(self, learn: Learner) -> None:
        self._train_s = time.perf_counter() - self._t_train
        self._close()

    def after_validate(self, learn: Learner) -> None:
        self._close()

    def after_epoch(self, learn: Learner) -> None:
        self._epoch_times.append(time.perf_counter() - self._t_epoch)
        mode = self._mode
        if mode == "off" or not self.show_epochs:
            return
        line = self.line(learn)
        if mode == "bar":
            tqdm.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def line(self, learn: Learner) -> str:
        """The epoch's line: stage, epoch, losses and metrics, throughput, times."""
        parts = [self._epoch_name(learn)]
        parts += [
            f"{k} {_fmt(v)}" for k, v in learn.epoch_results.items() if k not in _SKIP
        ]
        if self._train_s > 0 and int(self._items):
            parts.append(f"{int(self._items) / self._train_s:,.0f} {self.unit}/s")
        elapsed = time.perf_counter() - self._t_fit
        left = (learn.n_epochs - learn.epoch - 1) * (
            sum(self._epoch_times) / len(self._epoch_times)
        )
        parts.append(f"{_clock(elapsed)} elapsed, ~{_clock(left)} left")
        return "  ".join(parts)

    def after_fit(self, learn: Learner) -> None:
        self._close()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 1e4 else f"{v:.6g}"
    return str(v)


def _clock(seconds: float) -> str:
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


__all__ = ["ProgressBar", "rows_of"]
