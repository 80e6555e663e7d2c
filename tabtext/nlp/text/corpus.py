"""Cached numericalized corpora for ULMFiT (Howard & Ruder 2018).

``numericalize_corpus`` tokenizes a corpus and maps it to ids once, then caches the
result on disk: flat ``ids.npy`` (int32) + ``offsets.npy`` (int64 document
boundaries), ``vocab.json`` and ``meta.json``, keyed by the texts' content, the
tokenizer settings key and the vocabulary settings. A rerun memory-maps the arrays
and skips tokenization entirely. ``Corpus.select`` takes subsets (a training
subset, the held-out part) without a Python loop over documents.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from tabtext.core.io import atomic_write_text
from tabtext.nlp.text import vocab as vocab_module
from tabtext.nlp.text.tokenize import Tokenizer, doc_tokens
from tabtext.nlp.text.vocab import Vocab

__all__ = ["Corpus", "default_cache_dir", "doc_positions", "numericalize_corpus"]

logger = logging.getLogger(__name__)

CORPUS_FORMAT = "tabtext.corpus"
CORPUS_VERSION = 1


@dataclass(frozen=True, eq=False)
class Corpus:
    """A numericalized corpus: document ``i`` is ``ids[offsets[i]:offsets[i+1]]``.

    ``ids`` (int32) and ``offsets`` (int64, ``len(self) + 1`` entries) are read-only
    memory maps when loaded from the cache; copy before writing to them.
    """

    ids: np.ndarray
    offsets: np.ndarray
    vocab: Vocab | None = None
    key: str = ""
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_tokens(self) -> int:
        return int(self.offsets[-1] - self.offsets[0])

    def select(self, idx: np.ndarray) -> Corpus:
        """Documents ``idx``, in that order, as a new in-memory corpus."""
        idx = np.asarray(idx, dtype=np.int64)
        flat = np.asarray(self.ids[doc_positions(self.offsets, idx)])
        lengths = self.offsets[idx + 1] - self.offsets[idx]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        return Corpus(flat, offsets, self.vocab)

    def head(self, max_tokens: int | None) -> Corpus:
        """The first documents holding at most ``max_tokens`` tokens (at least one)."""
        if max_tokens is None or self.n_tokens <= max_tokens:
            return self
        n = max(1, int(np.searchsorted(self.offsets, max_tokens, side="right")) - 1)
        return Corpus(self.ids[: self.offsets[n]], self.offsets[: n + 1], self.vocab)

    def as_list(self, backwards: bool = False) -> list[np.ndarray]:
        """One id array per document (reversed copies when ``backwards``)."""
        docs = np.split(np.asarray(self.ids), self.offsets[1:-1] - self.offsets[0])
        return [d[::-1].copy() for d in docs] if backwards else docs

    def doc(self, i: int) -> np.ndarray:
        """Token ids of document ``i``."""
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"document {i} out of range for a corpus of {n}")
        i %= n
        return self.ids[self.offsets[i] : self.offsets[i + 1]]

    @property
    def lengths(self) -> np.ndarray:
        """Number of tokens of each document (int64)."""
        return np.diff(self.offsets)

    def text(self, i: int) -> str:
        """Document ``i`` as space-joined tokens (for inspection; needs a vocab)."""
        return self.vocab.textify(self.doc(i))


def doc_positions(offsets: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Positions in the flat id array of every token of documents ``order``, in order.

    All documents at once, without a Python loop over them.
    """
    lo, hi = offsets[order], offsets[order + 1]
    lengths = hi - lo
    starts = np.repeat(lo - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return starts + np.arange(lengths.sum())


def default_cache_dir() -> Path:
    """``$TABTEXT_CACHE`` if set, else ``~/.cache/tabtext``."""
    env = os.environ.get("TABTEXT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tabtext"


def numericalize_corpus(
    texts: Sequence[str],
    tokenizer: Tokenizer | None = None,
    vocab: Vocab | None = None,
    min_freq: int = 3,
    max_vocab: int = 60000,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    n_workers: int | None = None,
    progress: bool | None = None,
) -> Corpus:
    """Tokenize and numericalize ``texts``, reusing an on-disk cache when possible.

    Parameters
    ----------
    texts : sequence of str
        The documents, in order.
    tokenizer : Tokenizer, optional
        Default settings when ``None``.
    vocab : Vocab, optional
        Use this vocabulary (e.g. the one of the training corpus); when ``None``
        one is built from ``texts`` with ``min_freq`` and ``max_vocab``.
    min_freq, max_vocab : int
        See :meth:`Vocab.from_counts`; ignored when ``vocab`` is given.
    cache_dir : path, optional
        Cache root; :func:`default_cache_dir` when ``None``. Entries live in
        ``<cache_dir>/corpus/<key>/``.
    use_cache : bool
        ``False`` neither reads nor writes the cache.
    n_workers, progress
        Passed to :meth:`Tokenizer.tokenize_joined`.

    Returns
    -------
    Corpus
    """
    tok = Tokenizer() if tokenizer is None else tokenizer
    texts = list(texts)
    key = _corpus_key(texts, tok, vocab, min_freq, max_vocab)
    entry = Path(cache_dir or default_cache_dir()) / "corpus" / key[:32]
    if use_cache:
        cached = _load_entry(entry, key)
        if cached is not None:
            logger.info("corpus cache hit: %s", entry)
            return cached
    t0 = time.perf_counter()
    chunks = tok.map_chunks(_encode_chunk, texts, n_workers, progress)
    if vocab is None:
        vocab = Vocab.from_counts(_count(chunks), min_freq, max_vocab)
    ids, offsets = _to_global_ids(chunks, vocab)
    logger.info(
        "numericalized %d texts (%d tokens) in %.1fs",
        len(texts),
        len(ids),
        time.perf_counter() - t0,
    )
    if not use_cache:
        return Corpus(ids, offsets, vocab, key, None)
    meta = {
        "format": CORPUS_FORMAT,
        "version": CORPUS_VERSION,
        "key": key,
        "n_docs": len(texts),
        "n_tokens": int(len(ids)),
        "tokenizer": asdict(tok),
        "tokenizer_key": tok.settings_key(),
        "min_freq": min_freq,
        "max_vocab": max_vocab,
        "vocab_fingerprint": vocab.fingerprint,
    }
    _write_entry(entry, ids, offsets, vocab, meta)
    return _load_entry(entry, key) or Corpus(ids, offsets, vocab, key, None)


def _corpus_key(
    texts: list[str],
    tok: Tokenizer,
    vocab: Vocab | None,
    min_freq: int,
    max_vocab: int,
) -> str:
    h = hashlib.sha256()
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"text {i} is a {type(t).__name__}, expected str")
        b = t.encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    settings = {
        "format": [CORPUS_FORMAT, CORPUS_VERSION],
        "texts": h.hexdigest(),
        "tokenizer": tok.settings_key(),
        "vocab": vocab.fingerprint if vocab is not None else [min_freq, max_vocab],
        "vocab_code": _vocab_code_hash(),
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


@lru_cache(maxsize=1)
def _vocab_code_hash() -> str:
    # Vocabulary building rules live in vocab.py: a change there invalidates entries.
    return hashlib.sha256(Path(vocab_module.__file__).read_bytes()).hexdigest()


def _encode_chunk(
    tok: Tokenizer, texts: list[str]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Worker: tokens of a chunk as ids into a chunk-local vocabulary.

    Returns the local vocabulary, the flat local ids and the document lengths:
    compact to send back, and enough for the parent to count tokens and map them
    to the global vocabulary with one array lookup.
    """
    local: dict[str, int] = {}
    ids: list[int] = []
    lengths: list[int] = []
    for toks in doc_tokens(tok, texts):
        ids.extend([local.setdefault(w, len(local)) for w in toks])
        lengths.append(len(toks))
    return list(local), np.array(ids, np.int32), np.array(lengths, np.int64)


def _count(chunks: list[tuple[list[str], np.ndarray, np.ndarray]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for local_itos, local_ids, _ in chunks:
        n = np.bincount(local_ids, minlength=len(local_itos)).tolist()
        counts.update(dict(zip(local_itos, n)))
    return counts


def _to_global_ids(
    chunks: list[tuple[list[str], np.ndarray, np.ndarray]], vocab: Vocab
) -> tuple[np.ndarray, np.ndarray]:
    parts = [vocab.numericalize(itos)[ids] for itos, ids, _ in chunks]
    ids = np.concatenate(parts) if parts else np.zeros(0, np.int32)
    lengths = [c[2] for c in chunks]
    offsets = np.zeros(sum(len(x) for x in lengths) + 1, np.int64)
    if lengths:
        np.cumsum(np.concatenate(lengths), out=offsets[1:])
    return ids.astype(np.int32, copy=False), offsets


def _load_entry(entry: Path, key: str) -> Corpus | None:
    if not (entry / "meta.json").is_file():
        return None
    try:
        meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
        ids = np.load(entry / "ids.npy", mmap_mode="r", allow_pickle=False)
        offsets = np.load(entry / "offsets.npy", mmap_mode="r", allow_pickle=False)
        vocab = Vocab.load(entry / "vocab.json")
        ok = (
            meta.get("key") == key
            and ids.dtype == np.int32
            and offsets.dtype == np.int64
            and offsets.shape == (meta["n_docs"] + 1,)
            and ids.shape == (meta["n_tokens"],)
            and int(offsets[-1]) == len(ids)
            and vocab.fingerprint == meta["vocab_fingerprint"]
        )
    except (OSError, ValueError, KeyError, TypeError) as err:
        logger.warning("corpus cache %s is unreadable (%s); rebuilding it", entry, err)
        return None
    if not ok:
        logger.warning("corpus cache %s does not match its key; rebuilding it", entry)
        return None
    return Corpus(ids, offsets, vocab, key, entry)


def _write_entry(
    entry: Path, ids: np.ndarray, offsets: np.ndarray, vocab: Vocab, meta: dict
) -> None:
    """Write the entry into a sibling temporary folder, then rename it into place."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = entry.parent / f".tmp-{entry.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        for name, arr in (("ids.npy", ids), ("offsets.npy", offsets)):
            with open(tmp / name, "wb") as f:
                np.save(f, arr, allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())
        vocab.save(tmp / "vocab.json")
        atomic_write_text(tmp / "meta.json", json.dumps(meta, indent=1))
        if entry.exists():  # a stale or broken entry: move it aside first
            old = entry.parent / f".old-{entry.name}-{uuid.uuid4().hex[:8]}"
            os.replace(entry, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, entry)
    except OSError as err:
        if (entry / "meta.json").is_file():  # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
            return
        shutil.rmtree(tmp, ignore_errors=True)
        raise OSError(f"cannot write the corpus cache {entry}: {err}") from err
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
