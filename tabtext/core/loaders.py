"""The core's loaders: batches sliced from whole tensors, or streamed from chunks.

:class:`TensorLoader` slices tensors held in memory instead of collating rows;
:class:`ParquetLoader` streams chunks of a dataset larger than memory (the row groups
of a parquet dataset, read by :class:`tabtext.tabular.parquet_source.ParquetDataset`)
through a bounded shuffle buffer. Both shuffle with their own seeded generator, which
``state_dict`` checkpoints, so a resumed fit sees the same batches.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

import torch

BATCH_ROWS = 65_536
SHUFFLE_CHUNKS = 4  # default shuffle buffer: 4 x batch_rows rows


class TensorLoader:
    """Iterate ``(x, y)`` batches by indexing whole tensors, with no per-row Python work.

    Parameters
    ----------
    *tensors : tensors with the same first dimension. With two tensors a batch is
        ``(x, y)``; with more, ``((t0, ..., t_{k-2}), t_{k-1})`` (inputs, target).
    weights : tensor, optional
        One weight per row: batches are then ``(x, y, w)`` (see
        :class:`~tabtext.core.Learner`).
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
        weights: torch.Tensor | None = None,
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
        self.weighted = weights is not None
        if self.weighted:
            tensors = (*tensors, weights)
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
            yield _as_batch(parts, self.weighted)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state().tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(torch.tensor(state["generator"], dtype=torch.uint8))


def _as_batch(parts: list[torch.Tensor], weighted: bool = False):
    """The batch of ``parts``: ``x``, ``(x, y)``, ``((x0, ...), y)``; with
    ``weighted`` the last part is the row weights: ``(x, y, w)``."""
    if weighted:
        return (*_as_batch(parts[:-1]), parts[-1])
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    return tuple(parts[:-1]), parts[-1]


class ChunkSource(Protocol):
    """What :class:`ParquetLoader` reads: chunks of row groups, each with its place."""

    def frames(
        self, groups: Sequence[Any], batch_rows: int
    ) -> Iterable[tuple[Any, Any, str]]:
        """``(frame, y, where)`` record batches of at most ``batch_rows`` rows."""
        ...


@contextlib.contextmanager
def located(where: str) -> Iterator[None]:
    """Prefix errors raised while reading a chunk with its file and row group."""
    try:
        yield
    except (ValueError, TypeError) as err:
        try:
            located = type(err)(f"{where}: {err}")
        except Exception:  # an error type with other constructor arguments
            located = ValueError(f"{where}: {err}")
        raise located from err


class ParquetLoader:
    """``((cats, conts), target)`` batches streamed from row groups of a dataset.

    Each epoch reads ``groups`` (in a new random order when ``shuffle``) as record
    batches of at most ``batch_rows`` rows, encodes each with ``encode`` and appends
    it to a buffer. With ``shuffle``, once the buffer holds ``shuffle_rows`` rows it
    is permuted and full batches are taken from it until half of it is left, to mix
    with the next chunks; at the end the rest is permuted and emitted. Every batch
    but the last is full, so ``len`` is exact. The buffer never holds more than
    ``shuffle_rows + batch_rows - 1`` rows (``max_rows_held`` records the most).

    Parameters
    ----------
    dataset : a :class:`ChunkSource`, e.g. a ``ParquetDataset``
    groups : the row groups (``num_rows`` each) to read
    encode : callable ``(frame, y) -> [cats, conts, target]`` tensors (and the row
        weights last, with ``weighted``: batches are then ``(x, y, w)``)
    batch_size, batch_rows, shuffle, shuffle_rows, drop_last :
        as above; ``shuffle_rows`` defaults to ``SHUFFLE_CHUNKS * batch_rows``.
    seed : int
        Seeds the loader's own generator (checkpointed with ``state_dict``).
    weighted : bool
        ``encode`` returns the row weights last: batches are ``(x, y, w)``.
    n_rows : int, optional
        The rows ``encode`` keeps in all, when it leaves some out (default: the
        row groups' rows), so that ``len`` stays exact.
    """

    def __init__(
        self,
        dataset: ChunkSource,
        groups: Sequence[Any],
        encode: Callable[[Any, Any], list[torch.Tensor]],
        batch_size: int,
        batch_rows: int = BATCH_ROWS,
        shuffle: bool = False,
        shuffle_rows: int | None = None,
        drop_last: bool = False,
        seed: int = 0,
        weighted: bool = False,
        n_rows: int | None = None,
    ) -> None:
        self.dataset, self.groups, self.encode = dataset, list(groups), encode
        self.weighted = weighted
        self.batch_size, self.batch_rows = batch_size, batch_rows
        self.shuffle, self.drop_last = shuffle, drop_last
        self.shuffle_rows = shuffle_rows or SHUFFLE_CHUNKS * batch_rows
        self.n = sum(g.num_rows for g in self.groups) if n_rows is None else n_rows
        self.generator = torch.Generator()
        self.generator.manual_seed(seed)
        self.max_rows_held = 0

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (0 if self.drop_last or rest == 0 else 1)

    def __iter__(self):
        groups = self.groups
        if self.shuffle:
            order = torch.randperm(len(groups), generator=self.generator).tolist()
            groups = [groups[i] for i in order]
        threshold = self.shuffle_rows if self.shuffle else self.batch_size
        keep = self.shuffle_rows // 2 if self.shuffle else 0
        buf: list[torch.Tensor] | None = None
        for frame, y, where in self.dataset.frames(groups, self.batch_rows):
            with located(where):
                parts = self.encode(frame, y)
            buf = parts if buf is None else [torch.cat(p) for p in zip(buf, parts)]
            self.max_rows_held = max(self.max_rows_held, len(buf[0]))
            if len(buf[0]) < threshold:
                continue
            buf = self._permuted(buf)
            n_out = (len(buf[0]) - keep) // self.batch_size * self.batch_size
            yield from self._batches(buf, n_out)
            buf = [t[n_out:] for t in buf]
        if buf is not None:
            buf = self._permuted(buf)
            n = len(buf[0])
            if self.drop_last:
                n -= n % self.batch_size
            yield from self._batches(buf, n)

    def _permuted(self, buf: list[torch.Tensor]) -> list[torch.Tensor]:
        if not self.shuffle:
            return buf
        perm = torch.randperm(len(buf[0]), generator=self.generator)
        return [t[perm] for t in buf]

    def _batches(self, buf: list[torch.Tensor], n: int):
        for lo in range(0, n, self.batch_size):
            parts = [t[lo : min(lo + self.batch_size, n)] for t in buf]
            w = parts.pop() if self.weighted else None
            *x, y = parts
            yield (tuple(x), y) if w is None else (tuple(x), y, w)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state().tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(torch.tensor(state["generator"], dtype=torch.uint8))
