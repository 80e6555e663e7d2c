"""Precision detection: whether a run trains under bf16 autocast on this device.

bf16 is used on CUDA and on CPUs with AVX512-BF16, where oneDNN has a bf16 LSTM.
"""

from __future__ import annotations

import torch

from ...core import distributed


def use_bf16(precision: str, device=None) -> bool:
    """Whether ``precision`` ("auto", "bf16" or "fp32") means bf16 autocast here.

    "auto" is bf16 on CUDA and on CPUs with AVX512-BF16. "bf16"
    on a CPU without it is refused: oneDNN has no bf16 LSTM there.
    """
    dev = distributed.device(device)
    if precision != "auto":
        if precision == "bf16" and dev.type == "cpu" and not cpu_has_bf16():
            raise ValueError(
                "precision bf16: this CPU has no AVX512-BF16, and its LSTM kernels "
                "(oneDNN) have no bf16 form; use --precision fp32 or auto"
            )
        return precision == "bf16"
    if dev.type == "cuda":
        return True
    return dev.type == "cpu" and cpu_has_bf16()


def cpu_has_bf16() -> bool:
    """Whether this CPU has AVX512-BF16 (bf16 autocast runs the LSTM there)."""
    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return bool(check and check())
