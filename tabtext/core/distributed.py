"""Data-parallel training on PyTorch's own engine: ``torchrun`` + DistributedDataParallel.

Launch any tabtext script with ``torchrun --nproc_per_node N ...``: torchrun sets
``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` in each process' environment, and the
:class:`~tabtext.core.Learner` then initialises the process group (NCCL on CUDA, Gloo
on CPU), wraps its model in ``DistributedDataParallel`` and shards its data. Without
torchrun every helper here is a no-op for a world of one process.

Rank and world size come from the process group once it exists, else from torchrun's
environment, so that loaders built before the learner already know their shard.
"""

from __future__ import annotations

import atexit
import os
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"environment variable {name}={value!r} is not an integer; it is set by "
            "torchrun, so launch with torchrun or unset it"
        ) from None


def initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """Number of processes training together (1 without torchrun)."""
    return dist.get_world_size() if initialized() else _env_int("WORLD_SIZE", 1)


def rank() -> int:
    """This process' global rank, 0 .. world_size() - 1 (0 without torchrun)."""
    return dist.get_rank() if initialized() else _env_int("RANK", 0)


def local_rank() -> int:
    """This process' rank on its machine: the GPU it uses."""
    return _env_int("LOCAL_RANK", 0)


def is_main() -> bool:
    """True on the one process that logs and writes files (global rank 0)."""
    return rank() == 0


def launched() -> bool:
    """True when torchrun started more than one process."""
    return _env_int("WORLD_SIZE", 1) > 1


def device(requested: torch.device | str | None = None) -> torch.device:
    """The device of this rank: ``cuda:LOCAL_RANK`` under torchrun with CUDA.

    ``requested`` ("cpu", "cuda", "cuda:1", None for auto) wins when it names a device
    index or the CPU; a bare "cuda" (or None with CUDA) becomes this rank's GPU.
    """
    if requested is not None:
        requested = torch.device(requested)
        if requested.type != "cuda" or requested.index is not None:
            return requested
    elif not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", local_rank() if world_size() > 1 else 0)


def setup(dev: torch.device | None = None) -> bool:
    """Join the process group once, when launched by torchrun; True when distributed.

    The backend is NCCL when this rank trains on CUDA, Gloo otherwise. The group is
    destroyed when the process exits.
    """
    if initialized():
        return dist.get_world_size() > 1
    if not launched():
        return False
    if not dist.is_available():
        raise RuntimeError(
            "torchrun started several processes but this torch build has no "
            "torch.distributed; install a build with it or run a single process"
        )
    dev = device() if dev is None else dev
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    atexit.register(destroy)
    return True


def destroy() -> None:
    """Leave the process group (registered at exit by :func:`setup`)."""
    if initialized():
        dist.destroy_process_group()


def active() -> bool:
    """True inside a process group of more than one process."""
    return initialized() and dist.get_world_size() > 1


def barrier() -> None:
    """Wait until every rank gets here (no-op for one process)."""
    if active():
        dist.barrier()


def _reduce_device() -> torch.device:
    # NCCL reduces CUDA tensors only; Gloo CPU ones
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sum(values: list[float]) -> list[float]:
    """Element-wise sum of ``values`` over all ranks (float64), same result everywhere."""
    if not active():
        return [float(v) for v in values]
    t = torch.tensor(values, dtype=torch.float64, device=_reduce_device())
    dist.all_reduce(t)
    return t.cpu().tolist()


def min_max(value: int) -> tuple[int, int]:
    """(min, max) of an integer over all ranks."""
    if not active():
        return value, value
    t = torch.tensor([value, -value], dtype=torch.int64, device=_reduce_device())
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return int(t[0]), int(-t[1])


def check_same_batches(n_batches: int) -> None:
    """Refuse a training loader whose batch count differs across ranks."""
    lo, hi = min_max(n_batches)
    if lo != hi:
        raise ValueError(
            f"train_dl gives {n_batches} batches on rank {rank()} "
            f"but between {lo} and {hi} across ranks; DistributedDataParallel needs "
            "the same number on every rank (give the loader rank and world_size, "
            "and shuffle=True for TensorLoader, which pads the shards evenly)"
        )


def all_gather_object(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order (pickled between our own processes)."""
    if not active():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src, device=_reduce_device())
    return box[0]


def broadcast_module(model: nn.Module, src: int = 0, params: bool = True) -> None:
    """Copy rank ``src``'s buffers, and parameters unless ``params=False``, into
    ``model`` on every rank."""
    if not active():
        return
    tensors = [*model.parameters(), *model.buffers()] if params else model.buffers()
    with torch.no_grad():
        for t in tensors:
            dist.broadcast(t.data, src=src)


def wrap(model: nn.Module, dev: torch.device) -> nn.Module:
    """``model`` in DistributedDataParallel when distributed, else ``model`` itself.

    DDP only synchronises the gradients of the parameters that required grad when it
    was built, so the learner wraps again whenever freezing changes that set.
    """
    if not active() or not any(p.requires_grad for p in model.parameters()):
        return model
    ids = [dev.index] if dev.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)
