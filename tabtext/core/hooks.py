"""The callback contract: the hooks, the loop state they see, their order, the stops.

Each hook receives the learner explicitly: ``def before_batch(self, learn): ...``.
Raise :class:`CancelBatch`, :class:`CancelStep`, :class:`CancelEpoch` or
:class:`CancelFit` from a hook to skip the rest of that unit of work cleanly.

Loop state: what the learner has set when each hook runs (all of it exists, with
the initial value shown, from the learner's construction on).

=====================  ================================================================
hook                   loop state set (initial value)
=====================  ================================================================
before_fit             ``n_epochs`` (0), ``n_batches`` (0, batches per epoch),
                       ``n_iter`` (1, batches of the whole fit), ``epoch`` (0: the
                       start epoch, > 0 when a fit resumes from a checkpoint)
before_epoch           ``epoch``, ``iter`` (0, = epoch * n_batches: training batches
                       done in the fit), ``epoch_results`` ({}; now {"epoch": epoch})
before_train           ``training`` (False; now True), the model in train mode, reset
before_batch           ``xb``, ``yb`` (None; the batch on the device), ``wb`` (None;
                       the row weights of an ``(x, y, w)`` batch, else None),
                       ``iter_in_epoch`` (0), ``loss`` (None until after_loss)
after_pred             ``pred`` (None; a hook may replace it)
after_loss             ``loss``, ``loss_grad`` (None; what ``backward`` is called on,
                       which a hook may scale)
after_backward         the gradients (training only, as are the next two)
before_step            the gradients, about to be applied by ``opt.step()`` (under
                       fp16 already divided by the loss scale: the true gradients)
after_step             the updated weights; ``step_skipped`` (False; True when fp16's
                       scaler skipped the step for an inf/NaN gradient)
after_cancel_batch     a hook raised :class:`CancelBatch`
after_batch            every batch, cancelled or not; ``iter`` not yet advanced
after_train            ``epoch_results["train_loss"]`` (set by the Recorder)
before_validate        ``training`` False, the model in eval mode and reset
after_validate         ``epoch_results["valid_loss"]`` and one entry per metric
after_cancel_epoch     a hook raised :class:`CancelEpoch`
after_epoch            ``epoch_results`` complete
after_cancel_fit       a hook raised :class:`CancelFit`
after_fit              always, last (also after an error)
=====================  ================================================================
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from enum import IntEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .learner import Learner


class Order(IntEnum):
    """The calling order of the built-in callbacks (low first), in one table."""

    TOKEN_COUNTER = 5  # nlp: counts a batch's tokens (reads only)
    SCHEDULER = 10  # ParamScheduler: sets the batch's LR and momentum first
    LR_FINDER = 11  # the LR range test records the LR the scheduler set
    BPTT_SCALE = 12  # nlp: scales the LR just set by the window's length
    NAN_GUARD = 20  # checks the loss and gradients before anything acts on them
    GRADIENT_ACCUMULATION = 30
    GRADIENT_CLIP = 40  # clips just before the optimizer step
    SEGMENT_REPORTER = 45  # nlp: adds to the epoch's row before the Recorder
    DEFAULT = 50  # Callback.order; the Recorder, which completes the epoch's row
    PROGRESS = 60  # prints the row the Recorder completed
    TRACKER = 65  # TensorBoard/MLflow: log every epoch's row, before a stop skips it
    OPTUNA_PRUNING = 67  # reports the epoch to Optuna, and may stop the fit
    EARLY_STOPPING = 70  # these three read the completed epoch results
    SAVE_BEST = 80
    CSV_LOGGER = 90
    CHECKPOINT = 95  # last: saves the state every other callback left this epoch


class CancelBatch(Exception):
    """Skip the rest of this batch (no step); ``after_cancel_batch`` runs."""


class CancelStep(Exception):
    """Skip the optimizer step (and the gradient reset) of this batch."""


class CancelEpoch(Exception):
    """Skip the rest of this epoch; ``after_cancel_epoch`` runs."""


class CancelFit(Exception):
    """Stop training cleanly; ``after_cancel_fit`` then ``after_fit`` run."""


class Callback:
    """Base class: every hook is a no-op; ``order`` sets the calling order (low first).

    A subclass overrides the hooks it needs (any name in :data:`EVENTS`, in the order
    the learner calls them below); the learner only calls overridden hooks, so an
    unused hook costs nothing per batch. See the module docstring for the loop
    state each hook sees.
    """

    order: int = Order.DEFAULT

    def before_fit(self, learn: Learner) -> None: ...
    def before_epoch(self, learn: Learner) -> None: ...
    def before_train(self, learn: Learner) -> None: ...
    def before_batch(self, learn: Learner) -> None: ...
    def after_pred(self, learn: Learner) -> None: ...
    def after_loss(self, learn: Learner) -> None: ...
    def after_backward(self, learn: Learner) -> None: ...
    def before_step(self, learn: Learner) -> None: ...
    def after_step(self, learn: Learner) -> None: ...
    def after_cancel_batch(self, learn: Learner) -> None: ...
    def after_batch(self, learn: Learner) -> None: ...
    def after_train(self, learn: Learner) -> None: ...
    def before_validate(self, learn: Learner) -> None: ...
    def after_validate(self, learn: Learner) -> None: ...
    def after_cancel_epoch(self, learn: Learner) -> None: ...
    def after_epoch(self, learn: Learner) -> None: ...
    def after_cancel_fit(self, learn: Learner) -> None: ...
    def after_fit(self, learn: Learner) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state for checkpoints (stateful callbacks override)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


#: The hook names, in calling order: read off :class:`Callback`, so listed once.
EVENTS: tuple[str, ...] = tuple(
    name for name in vars(Callback) if name.startswith(("before_", "after_"))
)


class CallbackHost:
    """The learner's callbacks, kept sorted by ``order``, and the hook dispatch."""

    def __init__(self) -> None:
        self.callbacks: list[Callback] = []
        self._index_handlers()

    def add_cbs(self, cbs: Iterable[Callback]) -> None:
        for cb in cbs:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {cb!r}")
            self.callbacks.append(cb)
        self._index_handlers()

    def remove_cbs(self, cbs: Iterable[Callback]) -> None:
        for cb in cbs:
            self.callbacks.remove(cb)
        self._index_handlers()

    @contextlib.contextmanager
    def added_cbs(self, cbs: Iterable[Callback]) -> Iterator[CallbackHost]:
        """The callbacks ``cbs`` added for the duration of the block."""
        cbs = list(cbs)
        self.add_cbs(cbs)
        try:
            yield self
        finally:
            self.remove_cbs(cbs)

    @contextlib.contextmanager
    def removed_cbs(self, cbs: Iterable[Callback]) -> Iterator[CallbackHost]:
        """The callbacks ``cbs`` left out for the duration of the block; afterwards
        the list is exactly what it was (same callbacks, same order)."""
        before = list(self.callbacks)
        self.remove_cbs(cbs)
        try:
            yield self
        finally:
            self.callbacks[:] = before
            self._index_handlers()

    def _index_handlers(self) -> None:
        cbs = sorted(self.callbacks, key=lambda c: c.order)
        self._handlers = {
            e: [
                getattr(cb, e)
                for cb in cbs
                if getattr(type(cb), e) is not getattr(Callback, e)
            ]
            for e in EVENTS
        }

    def __call__(self, event: str) -> None:
        for handler in self._handlers[event]:
            handler(self)
