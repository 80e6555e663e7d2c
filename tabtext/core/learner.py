"""The Learner: a model, data, a loss, an optimizer, and the epoch/batch loop.

The callback contract lives in ``hooks.py``, the fit variants (SGDR, 1cycle,
slanted triangular LRs, the LR range test) in ``fitting.py`` over ``schedules.py``
and ``lr_finder.py``, prediction in ``inference.py``, persistence in ``checkpoint.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from . import checkpoint, distributed, inference, precision
from .batches import (
    _call,
    _cat,
    _n_targets,
    _name,
    _split_batch,
    _to_cpu,
    to_device,
)
from .callbacks import NaNGuard, ProgressBar
from .fitting import FitVariants, check_epochs
from .hooks import (
    Callback,
    CallbackHost,
    CancelBatch,
    CancelEpoch,
    CancelFit,
    CancelStep,
)
from .optim import adamw
from .param_groups import LayerGroups, Splitter
from .recorder import Recorder

OptFunc = Callable[..., torch.optim.Optimizer]


class Learner(FitVariants, LayerGroups, CallbackHost):
    """Train ``model`` on ``train_dl`` with ``loss_fn``, validating on ``valid_dl``.

    Parameters
    ----------
    model : nn.Module
        Called as ``model(x)``, ``model(*x)`` for a tuple/list ``x`` or ``model(**x)``
        for a dict. ``model.param_groups()`` (or ``splitter``) gives its layer groups;
        ``model.reset()``, if defined, is called at the start of every epoch and
        validation pass (stateful models such as an LSTM language model).
    train_dl, valid_dl : iterable of ``(x, y)`` or ``(x, y, w)`` batches
        ``train_dl`` must have ``len``. ``w`` holds one weight per row: the loss is
        then called as ``loss_fn(pred, y, w)`` and must say it takes them with a
        ``row_weights = True`` attribute (as :class:`~tabtext.core.RowWeighted`
        does); the validation loss and metrics are then weighted means.
    loss_fn : callable ``(pred, y) -> scalar tensor``
    metrics : callables ``(preds, targets) -> float`` over the whole validation set;
        with weighted validation batches, ``(preds, targets, weights) -> float``.
    opt_func : callable ``(param_groups, lr, weight_decay) -> Optimizer``
    wd : float
        Weight decay passed to ``opt_func``.
    callbacks : Callback instances added to the recorder, progress bar and NaN guard.
    device : torch.device or str, default CUDA when available else CPU; under
        torchrun a bare "cuda" means this rank's GPU (``cuda:LOCAL_RANK``).
    mixed_precision : "auto", "bf16", "fp16", "fp32", bool or None
        Autocast for training and prediction. "auto": bf16 where the device has it
        (CUDA capability >= 8.0, a CPU with AVX512-BF16), fp16 with dynamic loss
        scaling (``learn.scaler``, a ``torch.amp.GradScaler``) on older GPUs (T4,
        V100), fp32 elsewhere; "bf16" / "fp16" force one. ``True`` is "bf16" (on a
        CPU too: fast where it has AVX512-BF16 or AMX), ``False`` "fp32". Default
        (None): "auto" on CUDA, fp32 on a CPU. See :mod:`tabtext.core.precision`.
    progress : None, True, False or "lines"
        None: a bar when stderr is a terminal, else one line per epoch (stage,
        losses, metrics, rows/s, elapsed and remaining time); True: a bar; "lines":
        lines; False: silent. See :class:`tabtext.core.progress.ProgressBar`.

    Notes
    -----
    Launched by ``torchrun`` with several processes, the learner joins the process
    group and trains ``DistributedDataParallel(model)``; ``learn.model`` stays the
    bare module (saving, freezing, validation, prediction). Every rank must get the
    same number of training batches (the tabtext loaders shard themselves so); the
    validation loss and metrics are gathered over all ranks; only rank 0 shows
    progress and writes files; ``lr_find`` runs on rank 0 and its result is sent to
    all ranks. See :mod:`tabtext.core.distributed`.

    Examples
    --------
    >>> learn = Learner(model, train_dl, valid_dl, loss_fn=nn.functional.mse_loss)
    >>> learn.fit_one_cycle(3, 1e-2)          # doctest: +SKIP
    >>> learn.fit(0.1, 3, cycle_len=1, cycle_mult=2)   # SGDR, 7 epochs  # doctest: +SKIP
    """

    def __init__(
        self,
        model: nn.Module,
        train_dl: Iterable,
        valid_dl: Iterable | None = None,
        loss_fn: Callable | None = None,
        metrics: Sequence[Callable] = (),
        opt_func: OptFunc = adamw,
        wd: float = 0.01,
        callbacks: Sequence[Callback] = (),
        splitter: Splitter | None = None,
        device: torch.device | str | None = None,
        mixed_precision: precision.Precision | bool | None = None,
        progress: bool | str | None = None,
    ):
        loss_fn = loss_fn if loss_fn is not None else getattr(model, "loss_fn", None)
        if not callable(loss_fn):
            raise ValueError(
                "loss_fn is required (a callable (pred, y) -> scalar tensor)"
            )
        self.device = distributed.device(device)
        distributed.setup(self.device)
        self.model = model.to(self.device)
        self._solo = False  # True while this rank trains alone (lr_find on rank 0)
        self._ddp = distributed.wrap(self.model, self.device)
        self.train_dl, self.valid_dl = train_dl, valid_dl
        self.loss_fn, self.metrics = loss_fn, list(metrics)
        LayerGroups.__init__(self, model, splitter)
        self.wd = wd
        self.opt = opt_func(
            [{"params": g} for g in self.groups], lr=1e-3, weight_decay=wd
        )
        self.amp = precision.MixedPrecision(mixed_precision, self.device)
        # the loop state the hooks read (documented per event in hooks.py)
        self.epoch = self.n_epochs = self.n_batches = self.iter = self.iter_in_epoch = 0
        self.n_iter, self.training, self.epoch_results = 1, False, {}
        self.xb = self.yb = self.wb = self.pred = self.loss = self.loss_grad = None
        self.step_skipped = False  # fp16: the scaler skipped the last step (inf grad)
        self.resume_epoch = 0
        CallbackHost.__init__(self)
        self.recorder = Recorder()
        self.progress = ProgressBar(progress)  # its label/unit/count are settable
        self.add_cbs([self.recorder, self.progress, NaNGuard(), *callbacks])

    def freeze_to(self, n: int) -> None:
        """:meth:`LayerGroups.freeze_to`, and DDP rebuilt over the trainable params."""
        super().freeze_to(n)
        if distributed.active():  # DDP syncs the grads of the params it was built with
            self._ddp = distributed.wrap(self.model, self.device)

    def set_data(self, train_dl: Iterable, valid_dl: Iterable | None = None) -> None:
        """Swap the training data (and validation data, if given) between fits.

        The model and the optimizer state are untouched (progressive resizing).
        """
        self.train_dl = train_dl
        if valid_dl is not None:
            self.valid_dl = valid_dl

    # ---- fitting -----------------------------------------------------------------------
    def fit_epochs(
        self,
        n_epochs: int,
        cbs: Sequence[Callback] = (),
        start_epoch: int = 0,
        validate: bool = True,
    ) -> None:
        """Train ``n_epochs`` with ``cbs`` added for this fit only; one of them (a
        :class:`ParamScheduler`) is expected to set the LRs."""
        check_epochs(n_epochs, start_epoch)
        if not hasattr(self.train_dl, "__len__") or len(self.train_dl) == 0:
            raise ValueError("train_dl must have a length and at least one batch")
        self.n_batches = len(self.train_dl)
        if self.distributed:
            distributed.check_same_batches(self.n_batches)
        self.n_epochs, self.n_iter = n_epochs, n_epochs * self.n_batches
        with self.added_cbs(cbs):
            self._fit_loop(start_epoch, validate)
        self.resume_epoch = 0

    def _fit_loop(self, start_epoch: int, validate: bool) -> None:
        self.epoch = start_epoch  # > 0 tells callbacks in before_fit that this resumes
        try:
            self("before_fit")
            for epoch in range(start_epoch, self.n_epochs):
                self.epoch, self.iter = epoch, epoch * self.n_batches
                self.epoch_results = {"epoch": epoch}
                try:
                    self("before_epoch")
                    self._train_epoch()
                    if validate:
                        self._validate_epoch()
                except CancelEpoch:
                    self("after_cancel_epoch")
                self("after_epoch")
        except CancelFit:
            self("after_cancel_fit")
        finally:
            self("after_fit")
            self.training = False

    @property
    def distributed(self) -> bool:
        """True when this fit trains with DistributedDataParallel over several ranks."""
        return distributed.active() and not self._solo

    @contextlib.contextmanager
    def alone(self):
        """Train on this rank only, with the bare model and no collectives."""
        self._solo = True
        try:
            yield self
        finally:
            self._solo = False

    def _train_epoch(self) -> None:
        self.training = True
        self.model.train()
        inference.reset_model(self.model)
        self("before_train")
        for i, batch in enumerate(self.train_dl):
            self.iter_in_epoch = i
            self._one_batch(batch)
            self.iter += 1
        self("after_train")
        if self.distributed:
            # DDP sends rank 0's buffers (batch-norm statistics) before each forward;
            # the last one updated each rank's own: make every rank rank 0 again
            distributed.broadcast_module(self.model, params=False)
            # the same batch count everywhere: the mean of the means
            (total,) = distributed.all_reduce_sum([self.epoch_results["train_loss"]])
            self.epoch_results["train_loss"] = total / distributed.world_size()

    def _validate_epoch(self) -> None:
        if self.valid_dl is None:
            return
        self.training = False
        self.model.eval()
        inference.reset_model(self.model)
        self("before_validate")
        total, weight, preds, targs, wts = 0.0, 0.0, [], [], []
        with torch.no_grad():
            for i, batch in enumerate(self.valid_dl):
                self.iter_in_epoch = i
                self._one_batch(batch)
                if self.loss is None:
                    continue
                n = _n_targets(self.yb)
                w = n if self.wb is None else float(self.wb.sum()) * n / len(self.wb)
                total, weight = total + float(self.loss) * n, weight + w
                if self.metrics:
                    preds.append(_to_cpu(self.pred))
                    targs.append(_to_cpu(self.yb))
                    if self.wb is not None:
                        wts.append(_to_cpu(self.wb))
        if self.distributed:  # each rank saw its shard: sum losses, gather predictions
            total, weight = distributed.all_reduce_sum([total, weight])
            if self.metrics:
                parts = distributed.all_gather_object((preds, targs, wts))
                preds = [p for rank_preds, _, _ in parts for p in rank_preds]
                targs = [t for _, rank_targs, _ in parts for t in rank_targs]
                wts = [w for _, _, rank_wts in parts for w in rank_wts]
        self.epoch_results["valid_loss"] = total / weight if weight else float("nan")
        if self.metrics and preds:
            args = (_cat(preds), _cat(targs)) + ((_cat(wts),) if wts else ())
            for m in self.metrics:
                self.epoch_results[_name(m)] = float(m(*args))
        self("after_validate")

    def _one_batch(self, batch) -> None:
        self.xb, self.yb, self.wb = _split_batch(self._to_device(batch))
        self.loss = None
        try:
            self("before_batch")
            with self._autocast():
                model = self._ddp if self.training and self.distributed else self.model
                self.pred = _call(model, self.xb)
                self("after_pred")
                self.loss = self._loss()
            self.loss_grad = self.loss
            self("after_loss")
            if self.training:
                self.amp.backward(self.loss_grad)
                self._step()
        except CancelBatch:
            self("after_cancel_batch")
        self("after_batch")

    def _loss(self) -> torch.Tensor:
        if self.wb is None:
            return self.loss_fn(self.pred, self.yb)
        if not getattr(self.loss_fn, "row_weights", False):
            raise ValueError(
                "a batch of 3 is (x, y, w) with row weights w, but loss_fn does not "
                "declare row_weights = True; wrap it in tabtext.core.RowWeighted, or "
                "give (x, y) pair batches"
            )
        return self.loss_fn(self.pred, self.yb, self.wb)

    def _step(self) -> None:
        try:
            self("after_backward")
            self.amp.unscale(self.opt)  # fp16: before_step sees (and clips) true grads
            self("before_step")
            self.step_skipped = self.amp.step(self.opt)
            self("after_step")
            self.opt.zero_grad(set_to_none=True)
        except CancelStep:
            self.amp.cancel_step()

    def _autocast(self):
        return self.amp.autocast()

    @property
    def mixed_precision(self) -> torch.dtype | None:
        """The autocast dtype of training and prediction (None: full precision)."""
        return self.amp.dtype

    @property
    def scaler(self) -> torch.amp.GradScaler | None:
        """fp16's gradient scaler (None under bf16 or fp32)."""
        return self.amp.scaler

    def _to_device(self, b):
        return to_device(b, self.device)

    # ---- inference (see inference.py) -----------------------------------------------------
    def get_preds(
        self,
        dl: Iterable | None = None,
        act: Callable | None = None,
        augment: Callable | None = None,
    ) -> tuple[torch.Tensor, Any]:
        """Predictions (and targets, or None) over ``dl`` (default: the validation set).

        Batches are ``(x, y)`` or just ``x``. ``act`` is applied to the model outputs
        (e.g. ``torch.softmax``); ``augment(x)`` transforms each input batch first.
        Under torchrun the default loader is this rank's shard of the validation set;
        pass an unsharded ``dl`` for all of it.
        """
        dl = self._pred_loader(dl, "get_preds")
        return inference.predict_batches(
            self.model, dl, self.device, self.mixed_precision, act=act, augment=augment
        )

    def tta(
        self,
        dl: Iterable | None = None,
        augment: Callable | None = None,
        n: int = 4,
        act: Callable | None = None,
        beta: float | None = None,
    ):
        """Test-time augmentation: average predictions over ``n`` augmented passes.

        With ``beta`` the result is ``beta * augmented + (1 - beta) * plain``.
        """
        dl = self._pred_loader(dl, "tta")
        return inference.tta(
            self.model, dl, self.device, self.mixed_precision,
            augment=augment, n=n, act=act, beta=beta,
        )  # fmt: skip

    def _pred_loader(self, dl: Iterable | None, what: str) -> Iterable:
        dl = self.valid_dl if dl is None else dl
        if dl is None:
            raise ValueError(
                f"{what} needs a loader: pass dl or give the learner valid_dl"
            )
        return dl

    # ---- LR finder, history, plots, persistence ------------------------------------------
    @property
    def history(self) -> pd.DataFrame:
        """One row per epoch: epoch, train_loss, valid_loss, metrics, time."""
        return self.recorder.history

    def plot_lr(self, path: str | Path) -> Path:
        """PNG of the LRs and momenta per batch (rank 0's, written by rank 0 only)."""
        return self.recorder.plot_lr(path)

    def plot_loss(self, path: str | Path) -> Path:
        """PNG of the losses (rank 0's batches, gathered validation; rank 0 writes)."""
        return self.recorder.plot_loss(path)

    def save(
        self, path: str | Path, with_opt: bool = True, epochs_done: int | None = None
    ):
        """Save weights (safetensors) and optimizer/RNG/schedule/history state (JSON).

        Under torchrun only rank 0 writes (its RNG state and history), and the other
        ranks wait for it, so that none reads a checkpoint before it exists.
        """
        out = Path(path)
        if distributed.is_main():
            out = checkpoint.save_learner(self, path, with_opt, epochs_done)
        if self.distributed:
            distributed.barrier()
        return out

    def load(self, path: str | Path, with_opt: bool = True) -> Learner:
        """Load what :meth:`save` wrote; sets ``resume_epoch`` to the epochs done."""
        checkpoint.load_learner(self, path, with_opt)
        return self
