"""Word tokenization with the ULMFiT preprocessing rules.

ULMFiT: Howard & Ruder, "Universal Language Model Fine-tuning for Text
Classification", ACL 2018 (https://arxiv.org/abs/1801.06146). The rules follow the
ones fastai uses with that method: HTML fixes, ``xxbos`` at each document start,
``xxmaj``/``xxup`` before capitalised/all-caps words, ``xxrep n c`` and
``xxwrep n w`` for repeated characters and words, then lowercasing. Words come from
spaCy's rule-based tokenizer (``spacy.blank(lang)``, no model download).

Speed: the string rules are a few precompiled regexes run over whole documents;
spaCy's tokenizer is called directly (no pipeline); the token pass reads spaCy's
token hashes and converts each distinct token once per process (case markers,
lowercasing, whitespace), with word repetitions found by comparing hash arrays; and
large corpora go in chunks to worker processes that send back compact results.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any, TypeVar

from tabtext.nlp.text.parallel import map_chunks
from tabtext.nlp.text.rules import (
    EOS,
    FLD,
    PAD,
    RE_SPEC,
    RULES_VERSION,
    SPECIAL_TOKENS,
    TK_BOS,
    TK_MAJ,
    TK_REP,
    TK_UP,
    TK_WREP,
    UNK,
    char_rep_regex,
    convert_token,
    fix_html,
    has_word_run,
    sub_char_rep,
    token_cache,
    with_word_reps,
)

__all__ = [
    "EOS",
    "FLD",
    "PAD",
    "SPECIAL_TOKENS",
    "TK_BOS",
    "TK_MAJ",
    "TK_REP",
    "TK_UP",
    "TK_WREP",
    "UNK",
    "Tokenizer",
    "apply_text_rules",
    "doc_tokens",
    "tokenize_texts",
]


R = TypeVar("R")

_SPACE_MARK = "\u2581"  # stands in for a space inside a token, as in fastai
_RE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Tokenizer:
    """Settings of the ULMFiT word tokenizer; immutable, cheap to send to workers.

    Parameters
    ----------
    lang : str
        Language code for ``spacy.blank`` (rule-based tokenizer only).
    fix_html : bool
        Turn ``<br />`` into newlines, unescape HTML entities (``&amp;`` ...) and
        fix a few scraping artefacts.
    replace_rep : bool
        Replace a character repeated ``min_char_rep`` times or more by
        ``xxrep n c``.
    replace_wrep : bool
        Replace a word token repeated ``min_word_rep`` times or more in a row (any
        case) by ``xxwrep n w``.
    spec_add_spaces : bool
        Put spaces around ``/``, ``#`` and ``\\`` so they become their own tokens.
    mark_case : bool
        Put ``xxup`` before an all-caps token longer than one character and
        ``xxmaj`` before a capitalised one (``Hello``).
    lower : bool
        Lowercase every token.
    add_bos, add_eos : bool
        Start each document with ``xxbos`` / end it with ``xxeos``.
    min_char_rep, min_word_rep : int
        Thresholds of the two repetition rules. ``min_char_rep=4`` is fastai v1's;
        fastai 2.x uses 3, which also rewrites ``1000`` as ``1 xxrep 3 0``.

    Examples
    --------
    >>> Tokenizer().tokenize(["Hello WORLD!!!!<br />It's sooo good"])[0]
    ['xxbos', 'xxmaj', 'hello', 'xxup', 'world', 'xxrep', '4', '!', '\\n', 'xxmaj', \
'it', "'s", 'sooo', 'good']
    """

    lang: str = "en"
    fix_html: bool = True
    replace_rep: bool = True
    replace_wrep: bool = True
    spec_add_spaces: bool = True
    mark_case: bool = True
    lower: bool = True
    add_bos: bool = True
    add_eos: bool = False
    min_char_rep: int = 4
    min_word_rep: int = 3

    def __post_init__(self) -> None:
        for name in ("min_char_rep", "min_word_rep"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 2:
                raise ValueError(
                    f"Tokenizer({name}={value!r}): expected an int >= 2 "
                    "(the count from which a repetition is replaced)."
                )
        if not isinstance(self.lang, str) or not self.lang:
            raise TypeError(f"Tokenizer(lang={self.lang!r}): expected a code like 'en'")

    def settings_key(self) -> str:
        """Return a hex digest that changes whenever the output could change.

        It covers the settings, spaCy's version, the Unicode tables that decide
        upper/lower case, and the source of the rules, so it is safe as a cache key.
        """
        return _settings_key(self)

    @property
    def fingerprint(self) -> str:
        """Short form (16 hex digits) of :meth:`settings_key`."""
        return self.settings_key()[:16]

    def apply_rules(self, text: str) -> str:
        """Apply the string rules (before word splitting) to one text.

        Whitespace, case and word repetitions are handled on the tokens after
        splitting: runs of spaces vanish, line breaks become one ``"\\n"`` or
        ``"\\n\\n"`` token.
        """
        if self.fix_html:
            text = fix_html(text)
        if self.replace_rep:
            text = char_rep_regex(self.min_char_rep).sub(sub_char_rep, text)
        if self.spec_add_spaces and ("/" in text or "#" in text or "\\" in text):
            text = RE_SPEC.sub(r" \1 ", text)
        return text.strip()

    def tokenize(
        self,
        texts: Sequence[str],
        n_workers: int | None = None,
        progress: bool | None = None,
    ) -> list[list[str]]:
        """Tokenize ``texts``; the result does not depend on ``n_workers``.

        Parameters
        ----------
        texts : sequence of str
            The documents.
        n_workers : int, optional
            Worker processes. ``None`` uses the available CPUs (at most 8) for
            1000 texts or more and the calling process below that; ``0`` or
            ``1`` never starts a process.
        progress : bool, optional
            Show a progress bar; ``None`` shows it only when stderr is a terminal.

        Returns
        -------
        list of list of str
            One token list per text.
        """
        return [
            s.split(" ") if s else []
            for s in self.tokenize_joined(texts, n_workers=n_workers, progress=progress)
        ]

    def tokenize_joined(
        self,
        texts: Sequence[str],
        n_workers: int | None = None,
        progress: bool | None = None,
    ) -> list[str]:
        """Like :meth:`tokenize`, but each document's tokens joined by one space.

        Tokens never contain a space (one inside a token becomes ``"\u2581"``), so
        ``s.split(" ")`` gives the token list back. This compact form is what
        worker processes send back.
        """
        chunks = self.map_chunks(_joined_chunk, texts, n_workers, progress)
        return [s for chunk in chunks for s in chunk]

    def map_chunks(
        self,
        fn: Callable[[Tokenizer, list[str]], R],
        texts: Sequence[str],
        n_workers: int | None = None,
        progress: bool | None = None,
    ) -> list[R]:
        """Run ``fn(self, chunk)`` over consecutive chunks of ``texts``, in order.

        Chunks go to worker processes as :meth:`tokenize` describes. ``fn`` must be
        a module-level function; it usually iterates :func:`doc_tokens` and returns
        a compact summary of its chunk, all that crosses process boundaries.
        """
        return map_chunks(
            fn,
            self,
            _check_texts(texts),
            n_workers,
            progress,
            desc="tokenize",
            before_fork=partial(_spacy_tokenizer, self.lang),
        )


def tokenize_texts(
    texts: Sequence[str],
    tokenizer: Tokenizer | None = None,
    n_workers: int | None = None,
    progress: bool | None = None,
) -> list[list[str]]:
    """Tokenize ``texts`` with ``tokenizer`` (default settings when ``None``).

    See :meth:`Tokenizer.tokenize` for the parameters.
    """
    tok = Tokenizer() if tokenizer is None else tokenizer
    return tok.tokenize(texts, n_workers=n_workers, progress=progress)


def apply_text_rules(text: str, tokenizer: Tokenizer | None = None) -> str:
    """Return ``text`` after the string rules of ``tokenizer``; handy for debugging."""
    return (Tokenizer() if tokenizer is None else tokenizer).apply_rules(text)


@cache
def _settings_key(tok: Tokenizer) -> str:
    # importlib.metadata, not `import spacy`: a cache hit should not pay ~2 s of import.
    from importlib.metadata import version

    here = Path(__file__).parent
    sources = b"".join((here / f).read_bytes() for f in ("tokenize.py", "rules.py"))
    source = hashlib.sha256(sources).hexdigest()
    payload = {
        "settings": asdict(tok),
        "rules_version": RULES_VERSION,
        "spacy": version("spacy"),
        "unicode": unicodedata.unidata_version,
        "source": source,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@cache
def _spacy_tokenizer(lang: str) -> Any:
    import spacy

    try:
        return spacy.blank(lang).tokenizer
    except Exception as err:
        raise ValueError(
            f"spaCy has no language {lang!r} ({err}); use a code such as 'en'."
        ) from err


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("tokenize expects a sequence of texts, got one str; wrap it")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(
                f"text {i} is a {type(t).__name__} ({t!r:.60}), expected str; "
                "convert or drop it before tokenizing."
            )
        if not t.isascii() and (bad := _RE_SURROGATE.search(t)):
            # spaCy hashes UTF-8 bytes, and a lone surrogate has none
            raise ValueError(
                f"text {i} holds the lone surrogate {bad.group()!r} at character "
                f"{bad.start()}, which is not valid Unicode; decode the source with "
                "errors='replace' or drop that text."
            )
    return texts


def doc_tokens(tok: Tokenizer, texts: list[str]) -> Iterator[list[str]]:
    """Yield the tokens of each text: string rules, spaCy, then the token pass.

    The core of every worker (no processes are started here).
    """
    from spacy.attrs import LOWER, ORTH

    spacy_tok = _spacy_tokenizer(tok.lang)
    strings = spacy_tok.vocab.strings
    cache = token_cache(tok.mark_case, tok.lower)
    get = cache.get
    k = tok.min_word_rep if tok.replace_wrep else 0
    for doc in spacy_tok.pipe(map(tok.apply_rules, texts), batch_size=1000):
        hashes = doc.to_array([ORTH, LOWER])  # (n_tokens, 2) uint64
        toks: list[str] = [TK_BOS] if tok.add_bos else []
        if k and has_word_run(hashes[:, 1], k):
            toks += with_word_reps(hashes, strings, cache, k, tok.mark_case, tok.lower)
        else:
            extend = toks.extend
            for h in hashes[:, 0].tolist():
                out = get(h)
                if out is None:
                    out = cache[h] = convert_token(strings[h], tok.mark_case, tok.lower)
                extend(out)
        if tok.add_eos:
            toks.append(EOS)
        yield toks


def _joined_chunk(tok: Tokenizer, texts: list[str]) -> list[str]:
    out = []
    for toks in doc_tokens(tok, texts):
        joined = " ".join(toks)
        if joined.count(" ") != len(toks) - 1:  # a whitespace token holds a space
            joined = " ".join(w.replace(" ", _SPACE_MARK) for w in toks)
        out.append(joined)
    return out
