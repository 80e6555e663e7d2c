"""Random-number state: a seeded context that leaves the global RNGs as they were,
and the global states as JSON + tensors for checkpoints (exact resume)."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch


def current_cuda_devices() -> list[int]:
    """This process' CUDA device (this rank's under torchrun), or none on a CPU."""
    return [torch.cuda.current_device()] if torch.cuda.is_available() else []


@contextlib.contextmanager
def seeded(seed: int, devices: Sequence[int] | None = None) -> Iterator[None]:
    """Run the block with torch's RNGs seeded by ``seed``, then restore them.

    ``devices`` are the CUDA devices whose RNG is forked too (default: this
    process' current one). Python's and NumPy's global RNGs are not touched.

    Examples
    --------
    >>> with seeded(0):
    ...     a = torch.rand(2)
    >>> with seeded(0):
    ...     b = torch.rand(2)
    >>> bool(torch.equal(a, b))
    True
    """
    devices = current_cuda_devices() if devices is None else list(devices)
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def rng_state() -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The global Python, NumPy and torch RNG states as (JSON part, tensor part)."""
    version, internal, gauss = random.getstate()
    np_state = np.random.get_state(legacy=False)
    np_state["state"] = {
        k: np.asarray(v).tolist() for k, v in np_state["state"].items()
    }
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        tensors["torch_cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    return {"python": [version, list(internal), gauss], "numpy": np_state}, tensors


def set_rng_state(js: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    """Restore what :func:`rng_state` returned."""
    version, internal, gauss = js["python"]
    random.setstate((version, tuple(internal), gauss))
    np_state = dict(js["numpy"])
    mt = np_state["state"]
    np_state["state"] = {
        "key": np.asarray(mt["key"], dtype=np.uint32),
        "pos": int(mt["pos"]),
    }
    np.random.set_state(np_state)
    torch.set_rng_state(tensors["torch_cpu"])
    if "torch_cuda" in tensors and torch.cuda.is_available():
        states = list(tensors["torch_cuda"])
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(states)
