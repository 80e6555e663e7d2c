"""Mixed precision: which autocast dtype a device gets, and fp16's gradient scaler.

bf16 keeps fp32's exponent range, so it trains with no loss scaling; it is fast on
CUDA from compute capability 8.0 (Ampere) and on CPUs with AVX512-BF16. Older GPUs
(T4, V100) have fast fp16 instead, whose narrow range makes small gradients
underflow to zero: the loss is multiplied by a large factor before the backward
pass and the gradients divided by it before the step, the factor halving whenever
a gradient overflows (that step is skipped) and growing again after a run of good
steps -- dynamic loss scaling (Micikevicius et al. 2018, "Mixed Precision
Training"), here ``torch.amp.GradScaler``.

:func:`resolve` turns a precision setting into an autocast dtype and whether a
scaler is needed; :class:`MixedPrecision` is what the learner holds: the autocast
context, the scaled backward pass, the unscale before the hooks that read the
gradients, the (possibly skipped) step, and the scaler's state for checkpoints.
"""

from __future__ import annotations

import contextlib
from typing import Any, Literal, NamedTuple

import torch

from . import distributed

Precision = Literal["auto", "bf16", "fp16", "fp32"]
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}
_LSTM_ADVICE = "use --precision fp32 or auto (precision='fp32' or 'auto' in Python)"


class Resolved(NamedTuple):
    """The autocast ``dtype`` (None: full precision) and whether the loss must be
    ``scaled`` (fp16: a ``GradScaler``)."""

    dtype: torch.dtype | None
    scaled: bool


def cpu_has_bf16() -> bool:
    """Whether this CPU has AVX512-BF16 (bf16 autocast runs the LSTM there)."""
    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return bool(check and check())


def cuda_has_bf16(device: torch.device | str | int | None = None) -> bool:
    """Whether the CUDA ``device`` computes bf16 natively (capability >= 8.0); older
    GPUs only emulate it, slowly."""
    return torch.cuda.get_device_capability(device) >= (8, 0)


def resolve(
    precision: str | bool | None = "auto",
    device: torch.device | str | None = None,
    *,
    lstm: bool = False,
) -> Resolved:
    """The autocast dtype for ``precision`` on ``device``, and whether it needs a scaler.

    Parameters
    ----------
    precision : "auto", "bf16", "fp16", "fp32", True, False or None
        "auto": bf16 where the device computes it natively (CUDA capability >= 8.0,
        a CPU with AVX512-BF16), fp16 with loss scaling on older CUDA GPUs, full
        precision elsewhere. "bf16" and "fp16" force one. ``True`` is "bf16" and
        ``False`` "fp32" (the learner's former boolean); ``None`` is "auto" on CUDA
        and "fp32" elsewhere (the learner's default).
    device : default CUDA when available, else the CPU.
    lstm : bool
        The model runs LSTMs: on a CPU their kernels (oneDNN) have a bf16 form only
        with AVX512-BF16 and no fp16 form, so forcing either there is refused.

    Returns
    -------
    Resolved
        ``(dtype, scaled)``: e.g. ``(torch.float16, True)`` on a T4 with "auto".

    Raises
    ------
    ValueError
        For an unknown ``precision``, or one an LSTM cannot run on this CPU.
    """
    dev = distributed.device(device)
    name = _name(precision, dev)
    if name == "auto":
        name = _auto(dev)
    elif lstm and dev.type == "cpu" and name != "fp32":
        if name == "fp16":
            raise ValueError(
                "precision fp16: the LSTM kernels of a CPU (oneDNN) have no fp16 "
                f"form; {_LSTM_ADVICE}"
            )
        if not cpu_has_bf16():
            raise ValueError(
                "precision bf16: this CPU has no AVX512-BF16, and its LSTM kernels "
                f"(oneDNN) have no bf16 form; {_LSTM_ADVICE}"
            )
    return Resolved(_DTYPES[name], name == "fp16")


def use_bf16(precision: str, device: torch.device | str | None = None) -> bool:
    """Whether ``precision`` means bf16 autocast on ``device`` for a model with LSTMs
    (the bf16-only paths, e.g. pretraining's step timing); refuses what an LSTM
    cannot run there, as :func:`resolve` does."""
    return resolve(precision, device, lstm=True).dtype == torch.bfloat16


def _name(precision: str | bool | None, dev: torch.device) -> str:
    if precision is None:
        return "auto" if dev.type == "cuda" else "fp32"
    if isinstance(precision, bool):
        return "bf16" if precision else "fp32"
    if precision not in PRECISIONS:
        raise ValueError(
            f"precision must be one of {', '.join(PRECISIONS)}, True, False or None; "
            f"got {precision!r}"
        )
    return precision


def _auto(dev: torch.device) -> str:
    if dev.type == "cuda":
        return "bf16" if cuda_has_bf16(dev) else "fp16"
    return "bf16" if dev.type == "cpu" and cpu_has_bf16() else "fp32"


def autocast(device: torch.device, dtype: torch.dtype | bool | None):
    """Autocast to ``dtype`` on ``device``; None or False: a no-op context, True:
    bf16 (the former boolean switch)."""
    if dtype is True:
        dtype = torch.bfloat16
    if dtype is None or dtype is False:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


class MixedPrecision:
    """A learner's precision: autocast to ``dtype`` and, for fp16, a ``GradScaler``.

    Without a scaler every method is the plain fp32/bf16 step. With one, the
    learner calls :meth:`backward` on the loss, :meth:`unscale` once the
    gradients are complete (before the hooks that read or clip them), then
    :meth:`step`, which skips the optimizer step when a gradient is inf/NaN and
    says so.

    Parameters
    ----------
    precision : as :func:`resolve`.
    device : the learner's device.
    """

    def __init__(self, precision: str | bool | None, device: torch.device):
        self.device = device
        self.dtype, scaled = resolve(precision, device)
        self.scaler = torch.amp.GradScaler(device.type) if scaled else None
        self._scale: float | None = None  # the scale after the last update
        self._unscaled = False

    def autocast(self):
        """The autocast context of a forward pass."""
        return autocast(self.device, self.dtype)

    def backward(self, loss: torch.Tensor) -> None:
        """``loss.backward()``, the loss multiplied by the scale first under fp16."""
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def unscale(self, opt: torch.optim.Optimizer) -> None:
        """Divide the gradients by the scale (and note any inf/NaN among them)."""
        if self.scaler is not None:
            self.scaler.unscale_(opt)
            self._unscaled = True

    def step(self, opt: torch.optim.Optimizer) -> bool:
        """``opt.step()``, or under fp16 the scaler's step and update; True when the
        step was skipped because a gradient was inf/NaN (the scale then halves)."""
        if self.scaler is None:
            opt.step()
            return False
        before = self.scaler.get_scale() if self._scale is None else self._scale
        self.scaler.step(opt)
        self.scaler.update()
        self._unscaled = False
        self._scale = self.scaler.get_scale()
        return self._scale < before  # the scale falls only after an inf/NaN

    def cancel_step(self) -> None:
        """A hook cancelled the step after :meth:`unscale`: close the scaler's
        iteration (its next unscale would be refused otherwise). The gradients
        kept stay unscaled."""
        if self._unscaled:
            self.scaler.update()
            self._unscaled = False
            self._scale = self.scaler.get_scale()

    def state_dict(self) -> dict[str, Any]:
        """The scaler's state (scale, growth tracker, factors): empty without one."""
        return {} if self.scaler is None else dict(self.scaler.state_dict())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; a state saved without a scaler changes nothing."""
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)
            self._scale = None


__all__ = [
    "PRECISIONS",
    "MixedPrecision",
    "Precision",
    "Resolved",
    "autocast",
    "cpu_has_bf16",
    "use_bf16",
    "cuda_has_bf16",
    "resolve",
]
