"""Batches for ULMFiT: a language-model stream and length-sorted classifier batches.

- Language model (Merity et al. 2017, "Regularizing and Optimizing LSTM Language
  Models"): documents shuffled each epoch and concatenated into one token stream, cut
  into ``batch_size`` contiguous rows, read in windows of variable length (``bptt`` with
  probability 0.95, else ``bptt / 2``, then normal with sigma 5); the LR is rescaled by
  ``seq_len / bptt`` (:class:`~tabtext.nlp.training.callbacks.BPTTScaleLR`) so every token
  weighs the same. :class:`LMStream` cuts the stream into segments for long runs.
- Classifier (Howard & Ruder 2018): "sortish" batches — shuffled, then sorted by length
  inside large chunks — padded on the right with ``pad_idx``.

Under ``torch.distributed`` each rank takes its own contiguous slice of the LM stream
(``rank``/``world_size``), so the stream is never broken up by a sampler.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .corpus import doc_positions


def _rng_state(rng: np.random.Generator) -> dict[str, Any]:
    return rng.bit_generator.state


def variable_bptt_length(rng: np.random.Generator, bptt: int) -> int:
    """Variable-length BPTT (Merity et al. 2017): the next window's length, ``bptt``
    with probability 0.95, else ``bptt / 2``, then normal with sigma 5 (at least 5),
    so that training windows do not always start at the same tokens."""
    base = bptt if rng.random() < 0.95 else bptt / 2
    return max(5, int(rng.normal(base, 5)))


class LMLoader:
    """``(x, y)`` batches of shape ``(batch_size, seq_len)``, ``y`` shifted by one token.

    Parameters
    ----------
    ids, offsets : the corpus, document ``i`` being ``ids[offsets[i]:offsets[i+1]]``.
    batch_size, bptt : rows per batch and base window length.
    shuffle : shuffle the document order every epoch (training).
    variable_bptt : draw each window length as in AWD-LSTM (training).
    seed : seeds the loader's own generator (checkpointed with ``state_dict``).
    rank, world_size : this process' share of the stream under DDP.
    backwards : reverse every document (for a backward language model).
    """

    def __init__(
        self,
        ids: np.ndarray,
        offsets: np.ndarray,
        batch_size: int = 64,
        bptt: int = 70,
        shuffle: bool = True,
        variable_bptt: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        backwards: bool = False,
    ):
        if batch_size < 1 or bptt < 2:
            raise ValueError(
                f"need batch_size >= 1 and bptt >= 2, got {batch_size}, {bptt}"
            )
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world_size {world_size}")
        self.ids, self.offsets = ids, np.asarray(offsets, dtype=np.int64)
        self.batch_size, self.bptt = batch_size, bptt
        self.shuffle, self.variable_bptt, self.backwards = (
            shuffle,
            variable_bptt,
            backwards,
        )
        self.rank, self.world_size = rank, world_size
        self.rng = np.random.default_rng(seed)
        n_tokens = int(self.offsets[-1] - self.offsets[0])
        self.row_len = n_tokens // world_size // batch_size
        if self.row_len < 2:
            raise ValueError(
                f"{n_tokens} tokens are too few for {world_size} x {batch_size} rows; "
                "lower batch_size or give more text"
            )

    def __len__(self) -> int:
        return max(1, (self.row_len - 1) // self.bptt)

    def _stream(self) -> np.ndarray:
        n_docs = len(self.offsets) - 1
        order = self.rng.permutation(n_docs) if self.shuffle else np.arange(n_docs)
        pos = doc_positions(self.offsets, order)
        if (
            self.backwards
        ):  # the reversed stream = every document reversed, in reverse order
            pos = pos[::-1]
        per_rank = self.row_len * self.batch_size
        return np.asarray(
            self.ids[pos[self.rank * per_rank : (self.rank + 1) * per_rank]]
        )

    def _seq_len(self) -> int:
        if not self.variable_bptt:
            return self.bptt
        return variable_bptt_length(self.rng, self.bptt)

    def _rows(self) -> torch.Tensor:
        """This epoch's stream as ``(batch_size, row_len)`` int64 rows."""
        return torch.from_numpy(self._stream().astype(np.int64)).view(
            self.batch_size, -1
        )

    def __iter__(self):
        rows = self._rows()
        i, n = 0, rows.size(1) - 1
        while i < n:
            seq_len = min(self._seq_len(), n - i)
            yield rows[:, i : i + seq_len], rows[:, i + 1 : i + 1 + seq_len]
            i += seq_len

    def state_dict(self) -> dict[str, Any]:
        return {"rng": _rng_state(self.rng)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]


def lm_valid_loader(
    docs,
    batch_size: int,
    bptt: int,
    backwards: bool = False,
    rank: int = 0,
    world_size: int = 1,
) -> LMLoader:
    """The validation stream of a corpus ``docs``: fixed ``bptt`` windows in order,
    with at most ``batch_size`` rows and fewer for a short corpus (each row holds at
    least four windows)."""
    return LMLoader(
        docs.ids,
        docs.offsets,
        min(batch_size, max(1, docs.n_tokens // (4 * bptt))),
        bptt,
        shuffle=False,
        variable_bptt=False,
        rank=rank,
        world_size=world_size,
        backwards=backwards,
    )


class LMStream(LMLoader):
    """The language-model stream of :class:`LMLoader`, cut into segments for long runs.

    Pass ``p`` over the corpus shuffles the documents and draws its window lengths
    from generators seeded by ``(seed, p)``, so any batch of any pass can be rebuilt
    from its index alone. Each iteration yields the next ``segment_batches`` batches,
    continuing into the next pass at the end of one: a Learner "epoch" is one segment,
    so a run over a large corpus validates and checkpoints every segment, and the
    only loader state a resume needs is the segment index.
    """

    def __init__(
        self,
        ids: np.ndarray,
        offsets: np.ndarray,
        batch_size: int = 64,
        bptt: int = 70,
        segment_batches: int = 1000,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        backwards: bool = False,
    ):
        super().__init__(
            ids,
            offsets,
            batch_size,
            bptt,
            shuffle=True,
            variable_bptt=True,
            seed=seed,
            rank=rank,
            world_size=world_size,
            backwards=backwards,
        )
        if segment_batches < 1:
            raise ValueError(f"segment_batches must be >= 1, got {segment_batches}")
        self.seed, self.segment_batches, self.segment = seed, segment_batches, 0
        self._windows: dict[int, np.ndarray] = {}
        self._pass: tuple[int, torch.Tensor] | None = None  # (pass, its rows)

    def __len__(self) -> int:
        return self.segment_batches

    def batches_per_pass(self, p: int = 0) -> int:
        return len(self.pass_windows(p))

    def pass_windows(self, p: int) -> np.ndarray:
        """``(n_batches, 2)``: start and length of each window of pass ``p``."""
        if p not in self._windows:
            self.rng = np.random.default_rng([self.seed, p, 1])
            out, i, n = [], 0, self.row_len - 1
            while i < n:
                seq_len = min(self._seq_len(), n - i)
                out.append((i, seq_len))
                i += seq_len
            self._windows[p] = np.array(out, dtype=np.int64).reshape(-1, 2)
        return self._windows[p]

    def _pass_rows(self, p: int) -> torch.Tensor:
        if self._pass is None or self._pass[0] != p:
            self._pass = None  # free the previous pass first
            self.rng = np.random.default_rng([self.seed, p, 0])
            self._pass = (p, self._rows())
        return self._pass[1]

    def locate(self, batch: int) -> tuple[int, int]:
        """``(pass, window)`` of global batch index ``batch``."""
        p = 0
        while batch >= (n := self.batches_per_pass(p)):
            batch, p = batch - n, p + 1
        return p, batch

    def tokens_before(self, batch: int) -> int:
        """Target tokens of global batches ``0 .. batch - 1`` over all ranks."""
        total, p = 0, 0
        while batch > 0:
            lengths = self.pass_windows(p)[:batch, 1]
            total, batch, p = total + int(lengths.sum()), batch - len(lengths), p + 1
        return total * self.batch_size * self.world_size

    def __iter__(self):
        start = self.segment * self.segment_batches
        self.segment += 1
        for g in range(start, start + self.segment_batches):
            p, w = self.locate(g)
            rows = self._pass_rows(p)
            i, seq_len = (int(v) for v in self.pass_windows(p)[w])
            yield rows[:, i : i + seq_len], rows[:, i + 1 : i + 1 + seq_len]

    def state_dict(self) -> dict[str, Any]:
        return {"segment": self.segment}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.segment = int(state["segment"])


class ClassifierLoader:
    """Right-padded ``(ids, label)`` batches, sortish when shuffling.

    Parameters
    ----------
    docs : list of 1-D int arrays (token ids per document).
    labels : int array (classes), float array (regression targets) or 2-D float
        array (multi-label rows), or None for unlabeled prediction batches (then
        ``x`` only).
    max_tokens : keep at most this many tokens per document — the first half and the
        last half of a longer one (a review's opening and its verdict both carry its
        label; see ``benchmarks/RESULTS.md``) — or None for all. On a CPU this is the main lever of the classifier's cost.
    rank, world_size : this process' share under DDP: every ``world_size``-th batch
        (the sortish order is the same on all ranks, drawn from ``seed``).
    min_batches : when shuffling, an epoch passes over the data as many times as it
        takes to give at least this many batches (each pass freshly shuffled), so
        that a small labeled set still gets enough optimizer steps.
    weights : one weight per document, or None: batches are then ``(ids, label,
        weight)`` triples (a row-weighted loss, :class:`~tabtext.core.RowWeighted`).
    """

    def __init__(
        self,
        docs: list[np.ndarray],
        labels: np.ndarray | None,
        batch_size: int = 32,
        shuffle: bool = False,
        pad_idx: int = 1,
        max_tokens: int | None = None,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        min_batches: int = 0,
        weights: np.ndarray | None = None,
    ):
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world_size {world_size}")
        if labels is not None and len(labels) != len(docs):
            raise ValueError(f"{len(docs)} documents but {len(labels)} labels")
        if len(docs) == 0:
            raise ValueError("no documents to batch")
        self.docs = (
            [clip_doc(d, max_tokens) for d in docs] if max_tokens else list(docs)
        )
        self.labels = None if labels is None else _targets(labels)
        if weights is not None and (labels is None or len(weights) != len(docs)):
            raise ValueError(
                f"weights need labels and one weight per document ({len(docs)}), "
                f"got {len(weights)}"
            )
        self.weights = None if weights is None else np.asarray(weights, np.float32)
        self.batch_size, self.shuffle, self.pad_idx = batch_size, shuffle, pad_idx
        self.rank, self.world_size = rank, world_size
        self.lengths = np.array([max(len(d), 1) for d in self.docs])
        self.rng = np.random.default_rng(seed)
        self.passes = 1
        if shuffle and min_batches > 0:
            self.passes = max(1, -(-min_batches // self._pass_len()))

    def _batches(self) -> list[np.ndarray]:
        n = len(self.docs)
        if not self.shuffle:  # longest first: predictable memory, little padding
            order = np.argsort(-self.lengths, kind="stable")
            return [
                order[i : i + self.batch_size] for i in range(0, n, self.batch_size)
            ]
        idx = self.rng.permutation(n)
        chunk = self.batch_size * 50
        parts = [idx[i : i + chunk] for i in range(0, n, chunk)]
        idx = np.concatenate(
            [p[np.argsort(-self.lengths[p], kind="stable")] for p in parts]
        )
        batches = [idx[i : i + self.batch_size] for i in range(0, n, self.batch_size)]
        first = int(np.argmax([self.lengths[b].max() for b in batches]))
        rest = [b for i, b in enumerate(batches) if i != first]
        rest = [rest[i] for i in self.rng.permutation(len(rest))]
        return [batches[first], *rest]

    def _pass_len(self) -> int:
        n = -(-len(self.docs) // self.batch_size)
        if not self.shuffle:  # evaluation: batches rank, rank + world_size, ...
            return len(range(self.rank, n, self.world_size))
        return -(-n // self.world_size)

    def __len__(self) -> int:
        return self._pass_len() * self.passes

    def _shard(self, batches: list[np.ndarray]) -> list[np.ndarray]:
        """This rank's batches: every ``world_size``-th one. Training pads the list by
        wrapping around so that every rank gets as many; evaluation does not, so that
        every document counts once in the gathered metrics."""
        if self.shuffle:
            n = self._pass_len() * self.world_size
            batches = [batches[i % len(batches)] for i in range(n)]
        return batches[self.rank :: self.world_size]

    def __iter__(self):
        for _ in range(self.passes):
            batches = self._batches()
            if self.world_size > 1:
                batches = self._shard(batches)
            for b in batches:
                x = self.pad(b)
                if self.labels is None:
                    yield x
                elif self.weights is None:
                    yield x, torch.from_numpy(self.labels[b])
                else:
                    y, w = self.labels[b], self.weights[b]
                    yield x, torch.from_numpy(y), torch.from_numpy(w)

    def pad(self, batch: np.ndarray) -> torch.Tensor:
        width = int(self.lengths[batch].max())
        out = np.full((len(batch), width), self.pad_idx, dtype=np.int64)
        for row, i in enumerate(batch):
            d = self.docs[i]
            out[row, : len(d)] = d
        return torch.from_numpy(out)

    def order(self) -> np.ndarray:
        """Document indices in the order :meth:`__iter__` yields them (unshuffled)."""
        return np.concatenate(self._batches())

    def state_dict(self) -> dict[str, Any]:
        return {"rng": _rng_state(self.rng)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]


def _targets(labels) -> np.ndarray:
    """Class codes as int64, numeric targets (one per row, or a row each) as
    float32."""
    y = np.asarray(labels)
    return y.astype(np.int64) if y.dtype.kind in "iub" else y.astype(np.float32)


def clip_doc(doc: np.ndarray, n: int) -> np.ndarray:
    """The first ``n // 2`` and the last ``n - n // 2`` tokens of a longer document."""
    if len(doc) <= n:
        return doc
    return np.concatenate([doc[: n // 2], doc[len(doc) - (n - n // 2) :]])
