"""The built-in callbacks: early stopping, best epoch, gradient clipping and
accumulation, NaN guard, CSV log, checkpoints (and the progress bar of
:mod:`tabtext.core.progress`, re-exported).

The contract they follow -- the hooks, the loop state each sees, the ``order``
table, the ``Cancel*`` exceptions -- is declared in :mod:`tabtext.core.hooks`
(re-exported here).
"""

from __future__ import annotations

import copy
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch

from . import checkpoint, distributed
from .hooks import (
    EVENTS,
    Callback,
    CancelBatch,
    CancelEpoch,
    CancelFit,
    CancelStep,
    Order,
)
from .io import atomic_write_text
from .progress import ProgressBar

if TYPE_CHECKING:
    from .learner import Learner

log = logging.getLogger(__name__)


class NonFiniteLossError(FloatingPointError):
    """Raised by :class:`NaNGuard` when the loss or the gradients stop being finite."""


def _metric_value(learn, monitor: str) -> float:
    results = learn.epoch_results
    if monitor not in results:
        raise ValueError(
            f"monitor {monitor!r} is not among the epoch results {sorted(results)}"
        )
    return float(results[monitor])


class _Monitor(Callback):
    """Shared logic for callbacks that track the best value of an epoch result."""

    def __init__(
        self, monitor: str, mode: Literal["auto", "min", "max"], min_delta: float
    ):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor, self.mode, self.min_delta = monitor, mode, min_delta
        self.best: float | None = None

    @property
    def _sign(self) -> float:
        mode = self.mode
        if mode == "auto":
            mode = "min" if "loss" in self.monitor or "error" in self.monitor else "max"
        return 1.0 if mode == "min" else -1.0

    def _improved(self, learn: Learner) -> bool:
        value = _metric_value(learn, self.monitor)
        if math.isnan(value):
            return False
        if self.best is None or self._sign * (self.best - value) > self.min_delta:
            self.best = value
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state.get("best")


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved for ``patience`` epochs."""

    order = Order.EARLY_STOPPING

    def __init__(
        self,
        monitor: str = "valid_loss",
        patience: int = 3,
        min_delta: float = 0.0,
        mode: Literal["auto", "min", "max"] = "auto",
    ):
        super().__init__(monitor, mode, min_delta)
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        self.patience, self.wait = patience, 0

    def before_fit(self, learn: Learner) -> None:
        if learn.epoch == 0:  # a resumed fit keeps what load_state_dict restored
            self.best, self.wait = None, 0

    def after_epoch(self, learn: Learner) -> None:
        self.wait = 0 if self._improved(learn) else self.wait + 1
        if self.wait >= self.patience:
            log.info(
                "early stopping after epoch %d: no better %s", learn.epoch, self.monitor
            )
            raise CancelFit

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.wait = state.get("best"), state.get("wait", 0)


class SaveBest(_Monitor):
    """Keep the weights of the best epoch (in memory, or in ``path`` via ``learn.save``).

    With ``restore=True`` the best weights are loaded back when the fit ends. Only
    with a ``path`` does a fit resumed from a checkpoint remember the best epoch
    before the interruption (the in-memory weights died with the process).
    """

    order = Order.SAVE_BEST

    def __init__(
        self,
        monitor: str = "valid_loss",
        path: str | Path | None = None,
        restore: bool = True,
        mode: Literal["auto", "min", "max"] = "auto",
    ):
        super().__init__(monitor, mode, 0.0)
        self.path, self.restore = path, restore
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_epoch: int | None = None

    def before_fit(self, learn: Learner) -> None:
        if learn.epoch == 0 or self.path is None:
            self.best, self.best_state, self.best_epoch = None, None, None

    def after_epoch(self, learn: Learner) -> None:
        if not self._improved(learn):
            return
        self.best_epoch = learn.epoch
        if self.path is not None:
            learn.save(self.path, with_opt=False)
        else:
            self.best_state = copy.deepcopy(learn.model.state_dict())

    def after_fit(self, learn: Learner) -> None:
        if not self.restore or self.best_epoch is None:
            return
        if self.path is not None:  # weights only: history and RNG stay as they are
            if distributed.is_main():
                checkpoint.load_weights(learn.model, self.path)
            if learn.distributed:  # rank 0 wrote the file; it needs no shared disk
                distributed.broadcast_module(learn.model)
        else:
            learn.model.load_state_dict(self.best_state)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch = state.get("best"), state.get("best_epoch")


class GradientClip(Callback):
    """Clip the global gradient norm to ``max_norm`` before each optimizer step.

    Under fp16 the learner has divided the gradients by the loss scale before
    ``before_step``, so the norm clipped is the true one.
    """

    order = Order.GRADIENT_CLIP

    def __init__(self, max_norm: float = 1.0):
        if not max_norm > 0:
            raise ValueError(f"max_norm must be > 0, got {max_norm}")
        self.max_norm = max_norm

    def before_step(self, learn: Learner) -> None:
        torch.nn.utils.clip_grad_norm_(
            learn.trainable_params(), self.max_norm, foreach=True
        )


class GradientAccumulation(Callback):
    """Step the optimizer once every ``n_acc`` batches, with the loss scaled by 1/n_acc."""

    order = Order.GRADIENT_ACCUMULATION

    def __init__(self, n_acc: int = 2):
        if not isinstance(n_acc, int) or n_acc < 1:
            raise ValueError(f"n_acc must be an int >= 1, got {n_acc!r}")
        self.n_acc, self.count = n_acc, 0

    def before_fit(self, learn: Learner) -> None:
        self.count = 0

    def after_loss(self, learn: Learner) -> None:
        if learn.training:
            learn.loss_grad = learn.loss_grad / self.n_acc

    def after_backward(self, learn: Learner) -> None:
        self.count += 1
        if self.count % self.n_acc:
            raise CancelStep

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.count = state.get("count", 0)


class NaNGuard(Callback):
    """Stop with :class:`NonFiniteLossError` when the loss (or a gradient) is NaN/inf.

    The loss is checked before the backward pass, so the bad update is never applied and
    the model keeps the weights it had (the last good ones). With ``check_grads=True``
    the gradients are checked too before each step (exact, but it costs a reduction
    over all gradients per batch); without it, a finite loss whose gradients overflow
    is caught one batch later, and if the weights are then no longer finite the
    snapshot taken at the start of the epoch is restored.

    Under fp16 an inf/NaN gradient is the gradient scaler's business: it skips that
    step and lowers the scale, so it is no error here; only ``max_skips`` skipped
    steps in a row (gradients that are not finite at any scale) stop the fit.
    """

    order = Order.NAN_GUARD

    def __init__(self, check_grads: bool = False, max_skips: int = 30):
        if not isinstance(max_skips, int) or max_skips < 1:
            raise ValueError(f"max_skips must be an int >= 1, got {max_skips!r}")
        self.check_grads, self.max_skips = check_grads, max_skips
        self._skips = 0

    def before_epoch(self, learn: Learner) -> None:
        self._snapshot = {
            k: v.detach().clone() for k, v in learn.model.state_dict().items()
        }

    def after_loss(self, learn: Learner) -> None:
        if learn.training and not torch.isfinite(learn.loss.detach()).all():
            self._stop(learn, f"loss is {learn.loss.detach().float().item()}")

    def before_step(self, learn: Learner) -> None:
        if not self.check_grads or learn.scaler is not None:
            return
        grads = [p.grad for p in learn.trainable_params() if p.grad is not None]
        if grads and not torch.isfinite(torch.stack(torch._foreach_norm(grads))).all():
            self._stop(learn, "a gradient is not finite")

    def after_step(self, learn: Learner) -> None:
        self._skips = self._skips + 1 if learn.step_skipped else 0
        if self._skips >= self.max_skips:
            self._skips = 0
            self._stop(
                learn,
                f"the fp16 gradient scaler skipped {self.max_skips} steps in a row "
                f"(gradients not finite down to scale {learn.scaler.get_scale():.3g})",
            )

    def _stop(self, learn: Learner, what: str) -> None:
        learn.opt.zero_grad(set_to_none=True)
        state = [v for v in learn.model.state_dict().values() if v.is_floating_point()]
        if not torch.isfinite(torch.stack(torch._foreach_norm(state))).all():
            learn.model.load_state_dict(
                self._snapshot
            )  # e.g. NaN batch-norm statistics
        lrs = ", ".join(f"{g['lr']:.3g}" for g in learn.opt.param_groups)
        raise NonFiniteLossError(
            f"{what} at epoch {learn.epoch}, batch {learn.iter_in_epoch} "
            f"(training step {learn.iter}) with lr [{lrs}]; the update was not applied "
            "and the model keeps its last good weights. Lower the LR (try lr_find), "
            "add GradientClip, or check the data for NaN/inf."
        )


class CSVLogger(Callback):
    """Write the epoch table to ``path`` after each epoch (rewritten atomically; by
    rank 0 only under torchrun)."""

    order = Order.CSV_LOGGER

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def after_epoch(self, learn: Learner) -> None:
        if distributed.is_main():
            atomic_write_text(self.path, learn.history.to_csv(index=False))


class Checkpoint(Callback):
    """Save the whole learner (``learn.save``) to ``path`` every ``every`` epochs
    (under torchrun rank 0 writes, the others wait for it).

    Resume with ``learn.load(path)`` then the same ``fit*`` call with
    ``start_epoch=learn.resume_epoch``.
    """

    order = Order.CHECKPOINT

    def __init__(self, path: str | Path, every: int = 1):
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.path, self.every = Path(path), every

    def after_epoch(self, learn: Learner) -> None:
        if (learn.epoch + 1) % self.every == 0 or learn.epoch + 1 == learn.n_epochs:
            learn.save(self.path, epochs_done=learn.epoch + 1)


__all__ = [
    "EVENTS",
    "CSVLogger",
    "Callback",
    "CancelBatch",
    "CancelEpoch",
    "CancelFit",
    "CancelStep",
    "Checkpoint",
    "EarlyStopping",
    "GradientAccumulation",
    "GradientClip",
    "NaNGuard",
    "NonFiniteLossError",
    "Order",
    "ProgressBar",
    "SaveBest",
]
