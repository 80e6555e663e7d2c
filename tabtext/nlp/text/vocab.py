"""Token vocabulary for ULMFiT (Howard & Ruder 2018): token <-> id, saved as JSON.

Built the way the ULMFiT recipe does: tokens seen at least ``min_freq`` times, the
``max_vocab`` most frequent kept, special tokens first. Ties are broken by the token
text so the same corpus always gives the same ids.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import repeat
from pathlib import Path
from types import MappingProxyType

import numpy as np

from tabtext.core.io import atomic_write_text
from tabtext.nlp.text.tokenize import PAD, SPECIAL_TOKENS, UNK

__all__ = ["Vocab"]

FORMAT = "tabtext.vocab"
FORMAT_VERSION = 1


class Vocab:
    """A fixed list of tokens; the position of a token is its id.

    Parameters
    ----------
    itos : sequence of str
        The tokens, unique, in id order. Must contain ``xxunk`` (unknown tokens map
        to it) and ``xxpad``. Use :meth:`from_tokens` or :meth:`from_counts` to
        build one from a corpus.

    Examples
    --------
    >>> v = Vocab.from_tokens([["xxbos", "a", "b", "a"]], min_freq=1)
    >>> v.itos[9:]
    ('a', 'b')
    >>> v.numericalize(["a", "zzz"]).tolist()
    [9, 0]
    """

    def __init__(self, itos: Sequence[str]) -> None:
        if isinstance(itos, str):
            raise TypeError("Vocab(itos) expects a sequence of tokens, got one str")
        itos = list(itos)
        stoi: dict[str, int] = {}
        for i, tok in enumerate(itos):
            if not isinstance(tok, str):
                raise TypeError(f"Vocab token {i} is {tok!r}, expected a str")
            if tok in stoi:
                raise ValueError(
                    f"Vocab token {tok!r} appears twice (ids {stoi[tok]} and {i}); "
                    "tokens must be unique."
                )
            stoi[tok] = i
        for special in (UNK, PAD):
            if special not in stoi:
                raise ValueError(f"Vocab has no {special!r} token; add it to itos")
        self._itos = tuple(itos)
        self._stoi = stoi
        self._fingerprint: str | None = None
        self.unk_id: int = stoi[UNK]
        self.pad_id: int = stoi[PAD]

    @classmethod
    def from_counts(
        cls,
        counts: Mapping[str, int],
        min_freq: int = 3,
        max_vocab: int = 60000,
        specials: Sequence[str] = SPECIAL_TOKENS,
    ) -> Vocab:
        """Build from token counts.

        Parameters
        ----------
        counts : mapping of str to int
            How often each token occurs.
        min_freq : int
            Keep tokens seen at least this many times.
        max_vocab : int
            Size cap of the whole vocabulary, special tokens included.
        specials : sequence of str
            Tokens placed first, in this order, whatever their counts.

        Returns
        -------
        Vocab
            Specials, then tokens by count (descending), then by text.
        """
        _check_int("min_freq", min_freq, 1)
        _check_int("max_vocab", max_vocab, len(specials))
        special_set = set(specials)
        kept = [
            (-c, tok)
            for tok, c in counts.items()
            if c >= min_freq and tok not in special_set
        ]
        kept.sort()
        room = max_vocab - len(specials)
        return cls(list(specials) + [tok for _, tok in kept[:room]])

    @classmethod
    def from_tokens(
        cls,
        docs: Iterable[Sequence[str]],
        min_freq: int = 3,
        max_vocab: int = 60000,
        specials: Sequence[str] = SPECIAL_TOKENS,
    ) -> Vocab:
        """Build from tokenized documents; see :meth:`from_counts`."""
        counts: Counter[str] = Counter()
        for doc in docs:
            if isinstance(doc, str):
                raise TypeError(
                    "Vocab.from_tokens expects token lists, got a str; tokenize first"
                )
            counts.update(doc)
        return cls.from_counts(counts, min_freq, max_vocab, specials)

    @property
    def itos(self) -> tuple[str, ...]:
        """Tokens in id order."""
        return self._itos

    @property
    def stoi(self) -> Mapping[str, int]:
        """Token -> id, read-only; unknown tokens are absent (see :meth:`numericalize`)."""
        return MappingProxyType(self._stoi)

    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        return token in self._stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self._itos == other._itos

    __hash__ = None  # type: ignore[assignment]  # mutable-looking; compare by value

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, fingerprint={self.fingerprint[:12]!r})"

    def numericalize(self, tokens: Sequence[str]) -> np.ndarray:
        """Map tokens to ids (int32); tokens not in the vocabulary get ``xxunk``'s."""
        if isinstance(tokens, str):
            raise TypeError("numericalize expects a token list, got one str")
        if not isinstance(tokens, Sequence):
            tokens = list(tokens)
        get = self._stoi.get
        return np.fromiter(
            map(get, tokens, repeat(self.unk_id)), dtype=np.int32, count=len(tokens)
        )

    def textify(self, ids: Iterable[int] | np.ndarray, sep: str = " ") -> str:
        """Join the tokens of ``ids`` with ``sep``."""
        itos, n = self._itos, len(self._itos)
        out = []
        for i in np.asarray(ids).ravel().tolist():
            if not 0 <= i < n:
                raise ValueError(f"id {i} is outside this vocabulary (0..{n - 1})")
            out.append(itos[i])
        return sep.join(out)

    @property
    def fingerprint(self) -> str:
        """SHA-256 hex digest of the token list: equal iff the vocabularies are."""
        if self._fingerprint is None:
            data = json.dumps(self._itos, ensure_ascii=False).encode("utf-8")
            self._fingerprint = hashlib.sha256(data).hexdigest()
        return self._fingerprint

    def to_json(self) -> str:
        """The vocabulary as the JSON document :meth:`save` writes (model directories
        hold the same document as their ``vocab.json``)."""
        doc = {"format": FORMAT, "version": FORMAT_VERSION, "itos": list(self._itos)}
        return json.dumps(doc, ensure_ascii=False)

    def save(self, path: str | Path) -> None:
        """Write the vocabulary to ``path`` as JSON, atomically."""
        atomic_write_text(path, self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        """Read a vocabulary written by :meth:`save`."""
        path = Path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"{path}: no such vocabulary file") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{path}: not a JSON vocabulary file ({err})") from err
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError(
                f"{path}: not a tabtext vocabulary (expected 'format': {FORMAT!r})"
            )
        if doc.get("version") != FORMAT_VERSION:
            raise ValueError(
                f"{path}: vocabulary format version {doc.get('version')!r}, this "
                f"tabtext reads version {FORMAT_VERSION}; upgrade tabtext."
            )
        try:
            return cls(doc["itos"])
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{path}: invalid vocabulary ({err})") from err


def _check_int(name: str, value: object, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name}={value!r}: expected an int >= {minimum}")
