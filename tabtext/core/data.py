"""Whole-tensor batching: a loader that slices tensors instead of collating rows."""

from __future__ import annotations

from typing import Any

import torch


class TensorLoader:
    """Iterate ``(x, y)`` batches by indexing whole tensors, with no per-row Python work.

    Parameters
    ----------
    *tensors : tensors with the same first dimension. With two tensors a batch is
        ``(x, y)``; with more, ``((t0, ..., t_{k-2}), t_{k-1})`` (inputs, target).
    batch_size : int
    shuffle : bool
        Reshuffle every epoch with the loader's own generator (seeded by ``seed``), so
        the order is reproducible and can be checkpointed (``state_dict``).
    drop_last : bool
    device : move all tensors there once, up front.
    pin_memory : pin each CPU batch (when CUDA is available) so that the learner's
        non-blocking copies to the GPU overlap with compute.
    rank, world_size : this process' shard under DDP (see :mod:`tabtext.core.
        distributed`). Shuffled (training): every epoch's permutation, the same on
        all ranks, is padded by wrapping around to a multiple of ``world_size`` and
        cut into equal contiguous blocks, so every rank gets the same number of rows
        and batches (as ``DistributedSampler`` does). Unshuffled (evaluation): each
        rank a contiguous block, every row exactly once (blocks differ by <= 1 row).
    """

    def __init__(
        self,
        *tensors: torch.Tensor,
        batch_size: int = 64,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = 0,
        device: torch.device | str | None = None,
        pin_memory: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ):
        if not tensors:
            raise ValueError("TensorLoader needs at least one tensor")
        n = len(tensors[0])
        bad = [i for i, t in enumerate(tensors) if len(t) != n]
        if bad:
            raise ValueError(
                f"tensors {bad} have lengths {[len(tensors[i]) for i in bad]}, "
                f"tensor 0 has {n}; all must have the same number of rows"
            )
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        if not (
            isinstance(world_size, int) and world_size >= 1 and 0 <= rank < world_size
        ):
            raise ValueError(
                f"need 0 <= rank < world_size, got rank {rank!r}, "
                f"world_size {world_size!r}"
            )
        if device is not None:
            tensors = tuple(t.to(device) for t in tensors)
        self.pin = pin_memory and device is None and torch.cuda.is_available()
        self.tensors, self.n = tensors, n
        self.rank, self.world_size = rank, world_size
        if shuffle:  # padded: ceil(n / world_size) rows on every rank
            self.n_local = -(-n // world_size)
            self.lo = rank * self.n_local
        else:
            self.lo = rank * n // world_size
            self.n_local = (rank + 1) * n // world_size - self.lo
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.generator = torch.Generator()
        self.generator.manual_seed(0 if seed is None else seed)

    def __len__(self) -> int:
        full, rest = divmod(self.n_local, self.batch_size)
        return full + (0 if self.drop_last or rest == 0 else 1)

    def _indices(self) -> torch.Tensor | None:
        """This rank's rows of a fresh permutation (None: unshuffled, a block)."""
        if not self.shuffle:
            return None
        idx = torch.randperm(self.n, generator=self.generator)
        if self.world_size > 1 and self.n:
            copies = -(-self.n_local * self.world_size // self.n)  # ceil
            idx = idx.repeat(copies)[self.lo : self.lo + self.n_local]
        return idx

    def __iter__(self):
        idx = self._indices()
        for b in range(len(self)):
            lo = b * self.batch_size
            hi = min((b + 1) * self.batch_size, self.n_local)
            if idx is None:
                parts = [t[self.lo + lo : self.lo + hi] for t in self.tensors]
            else:
                sel = idx[lo:hi].to(self.tensors[0].device)
                parts = [t[sel] for t in self.tensors]
            if self.pin:
                parts = [p.pin_memory() for p in parts]
            yield _as_batch(parts)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state().tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(torch.tensor(state["generator"], dtype=torch.uint8))


def _as_batch(parts: list[torch.Tensor]):
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    return tuple(parts[:-1]), parts[-1]
