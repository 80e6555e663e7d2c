"""Run a function over chunks of a list in worker processes, in order, with progress.

The machinery under tokenization (ULMFiT preprocessing, Howard & Ruder 2018) of large
corpora: a process pool fed large chunks, each returning a compact result, so that
little crosses process boundaries. Results never depend on the number of workers.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

from tqdm.auto import tqdm

__all__ = ["PARALLEL_MIN_ITEMS", "map_chunks", "resolve_workers"]

logger = logging.getLogger(__name__)
A = TypeVar("A")
T = TypeVar("T")
R = TypeVar("R")

#: Below this many items, ``n_workers=None`` runs in the calling process.
PARALLEL_MIN_ITEMS = 1000
#: Largest chunk: big enough to amortise inter-process traffic, small enough to
#: balance the load and move the progress bar.
MAX_CHUNK = 1000


def resolve_workers(n_workers: int | None, n_items: int) -> int:
    """Number of processes to use; 1 means the calling process.

    ``None``: the usable CPUs (at most 8) from ``PARALLEL_MIN_ITEMS`` items on, else
    1. An int is taken as given (``0`` and ``1`` both mean no worker process).
    """
    if n_workers is None:
        if n_items < PARALLEL_MIN_ITEMS:
            return 1
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cpus = os.cpu_count() or 1
        return max(1, min(cpus, 8))
    if not isinstance(n_workers, int) or isinstance(n_workers, bool) or n_workers < 0:
        raise ValueError(f"n_workers={n_workers!r}: expected None or an int >= 0")
    return max(1, min(n_workers, n_items))


def map_chunks(
    fn: Callable[[A, list[T]], R],
    arg: A,
    items: Sequence[T],
    n_workers: int | None = None,
    progress: bool | None = None,
    desc: str = "",
    before_fork: Callable[[], object] | None = None,
) -> list[R]:
    """Return ``[fn(arg, chunk) for chunk in chunks(items)]``, maybe in processes.

    Parameters
    ----------
    fn : callable
        A module-level function (workers receive it by name) of ``arg`` and a
        chunk, returning something small to send back.
    arg : object
        Passed to every call; must pickle cheaply (e.g. a frozen settings object).
    items : sequence
        Cut into consecutive chunks of at most ``MAX_CHUNK`` items.
    n_workers : int, optional
        See :func:`resolve_workers`.
    progress : bool, optional
        Show a progress bar of items; ``None``: only when stderr is a terminal.
    desc : str
        Label of the progress bar.
    before_fork : callable, optional
        Called in this process before the workers start, e.g. to load tables that
        forked workers then share.
    """
    items = list(items)
    workers = resolve_workers(n_workers, len(items))
    # ~16 chunks per worker balance the load.
    size = max(1, min(MAX_CHUNK, -(-len(items) // (workers * 16))))
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    out: list[R] = []
    if workers <= 1:
        with _progress_bar(len(items), progress, desc) as bar:
            for chunk in chunks:
                out.append(fn(arg, chunk))
                bar.update(len(chunk))
        return out
    if before_fork is not None:
        before_fork()
    # The pool forks before the progress bar starts its monitor thread.
    with _mp_context().Pool(workers) as pool:
        with _progress_bar(len(items), progress, desc) as bar:
            for chunk, result in zip(chunks, pool.imap(partial(fn, arg), chunks)):
                out.append(result)
                bar.update(len(chunk))
    logger.debug("%s: %d items, %d workers", fn.__name__, len(items), workers)
    return out


def _mp_context() -> mp.context.BaseContext:
    # fork starts workers in milliseconds and shares what the parent loaded (spaCy's
    # tables). The workers run plain Python and spaCy, never torch, so forking a
    # process that has torch loaded is safe here. Elsewhere spawn is the safe choice.
    if sys.platform.startswith("linux"):
        return mp.get_context("fork")
    return mp.get_context("spawn")


def _progress_bar(total: int, progress: bool | None, desc: str) -> tqdm:
    disable = (not progress) if progress is not None else None  # None: tty only
    return tqdm(total=total, unit="doc", desc=desc, disable=disable, leave=False)
