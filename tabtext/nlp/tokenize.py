"""Word tokenization with the ULMFiT preprocessing rules.

ULMFiT: Howard & Ruder, "Universal Language Model Fine-tuning for Text
Classification", ACL 2018 (https://arxiv.org/abs/1801.06146). The rules follow the
ones fastai uses with that method: HTML fixes, ``xxbos`` at each document start,
``xxmaj``/``xxup`` before capitalised/all-caps words, ``xxrep n c`` and
``xxwrep n w`` for repeated characters and words, then lowercasing. Words come from
spaCy's rule-based tokenizer (``spacy.blank(lang)``, no model download).

Speed: the string rules are a handful of precompiled regexes run over whole documents,
spaCy's tokenizer is called directly (no pipeline), the case markers and lowercasing
are one pass over the tokens, and large corpora are split into chunks handed to
worker processes that send back one space-joined string per document.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import multiprocessing as mp
import os
import re
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

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
    "tokenize_texts",
]

logger = logging.getLogger(__name__)

TK_BOS = "xxbos"
TK_MAJ = "xxmaj"
TK_UP = "xxup"
TK_REP = "xxrep"
TK_WREP = "xxwrep"
UNK = "xxunk"
PAD = "xxpad"
EOS = "xxeos"
FLD = "xxfld"
#: Special tokens in vocabulary order (ids 0..8 of a vocabulary built by tabtext).
SPECIAL_TOKENS = (UNK, PAD, TK_BOS, EOS, FLD, TK_MAJ, TK_UP, TK_REP, TK_WREP)

#: Bump when a rule changes in a way the settings do not show (also in the cache key).
RULES_VERSION = 1
#: Below this many texts, ``n_workers=None`` tokenizes in the calling process.
PARALLEL_MIN_TEXTS = 1000
_SPACE_MARK = "\u2581"  # stands in for a space inside a token, as in fastai

_RE_BR = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)
# Entities whose "&" was lost upstream ("#39;" for "&#39;"), seen in scraped reviews.
_RE_BARE_ENTITY = re.compile(r"(?<!&)(#39|#146|#36|quot|amp|nbsp);")
_BARE_ENTITY = {"#39": "'", "#146": "'", "#36": "$", "quot": '"', "amp": "&"}
_LITERAL_FIXES = (
    ("\\n", "\n"),  # an escaped newline left in the text
    ('\\"', '"'),
    ("<unk>", UNK),
    (" @.@ ", "."),  # WikiText number/hyphen escapes
    (" @,@ ", ","),
    (" @-@ ", "-"),
    ("\x85", " \u2026 "),  # windows-1252 ellipsis decoded as latin-1 (NEL)
    ("...", " \u2026 "),
)
_RE_SPEC = re.compile(r"([/#\\])")
_RE_HSPACE = re.compile(r"[^\S\n]{2,}|[^\S \n]")  # runs of 2+, or one tab/nbsp/...
_RE_NEWLINES = re.compile(r" ?\n[\s]*")


@cache
def _char_rep_regex(min_rep: int) -> re.Pattern[str]:
    return re.compile(r"(\S)\1{" + str(min_rep - 1) + ",}")


@cache
def _word_rep_regex(min_rep: int) -> re.Pattern[str]:
    # A whole word followed by (min_rep - 1) or more copies of itself, any case.
    pattern = r"(?<!\S)(\w+)(?:\s+\1(?!\w)){" + str(min_rep - 1) + ",}"
    return re.compile(pattern, re.IGNORECASE)


def _sub_char_rep(m: re.Match[str]) -> str:
    return f" {TK_REP} {len(m.group())} {m.group(1)} "


def _sub_word_rep(m: re.Match[str]) -> str:
    word = m.group(1)
    return f" {TK_WREP} {len(m.group().split())} {word} "


def _sub_newlines(m: re.Match[str]) -> str:
    # Keep paragraph structure as one "\n" or "\n\n" token, whatever the spacing.
    return " \n\n" if m.group().count("\n") > 1 else " \n"


def _fix_html(text: str) -> str:
    text = _RE_BR.sub("\n", text)
    for old, new in _LITERAL_FIXES:
        if old in text:
            text = text.replace(old, new)
    if "&" in text:
        text = html.unescape(text)
        if "&" in text:  # escaped twice ("&amp;quot;")
            text = html.unescape(text)
    if ";" in text:
        text = _RE_BARE_ENTITY.sub(lambda m: _BARE_ENTITY.get(m.group(1), " "), text)
    return text


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
        Replace a word repeated ``min_word_rep`` times or more in a row (any case)
        by ``xxwrep n w``.
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
        upper/lower case, and this module's source, so it is safe as a cache key.
        """
        return _settings_key(self)

    @property
    def fingerprint(self) -> str:
        """Short form (16 hex digits) of :meth:`settings_key`."""
        return self.settings_key()[:16]

    def apply_rules(self, text: str) -> str:
        """Apply the string rules (before word splitting) to one text."""
        if self.fix_html:
            text = _fix_html(text)
        if self.replace_rep:
            text = _char_rep_regex(self.min_char_rep).sub(_sub_char_rep, text)
        if self.replace_wrep:
            text = _word_rep_regex(self.min_word_rep).sub(_sub_word_rep, text)
        if self.spec_add_spaces and ("/" in text or "#" in text or "\\" in text):
            text = _RE_SPEC.sub(r" \1 ", text)
        text = _RE_HSPACE.sub(" ", text)
        if "\n" in text:
            text = _RE_NEWLINES.sub(_sub_newlines, text)
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
            ``PARALLEL_MIN_TEXTS`` texts or more and the calling process below
            that; ``0`` or ``1`` never starts a process.
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
        worker processes send back, and what corpus numericalization reads.
        """
        texts = _check_texts(texts)
        workers = _resolve_workers(n_workers, len(texts))
        if workers <= 1:
            with _progress_bar(len(texts), progress) as bar:
                return _tokenize_serial(self, texts, bar)
        # Load spaCy once in the parent (forked workers inherit it), and fork before
        # the progress bar starts its monitor thread.
        _spacy_tokenizer(self.lang)
        with _mp_context().Pool(workers) as pool:
            with _progress_bar(len(texts), progress) as bar:
                return _tokenize_parallel(self, texts, workers, pool, bar)


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

    source = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
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
    return texts


def _resolve_workers(n_workers: int | None, n_texts: int) -> int:
    if n_workers is None:
        if n_texts < PARALLEL_MIN_TEXTS:
            return 1
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cpus = os.cpu_count() or 1
        return max(1, min(cpus, 8))
    if not isinstance(n_workers, int) or n_workers < 0:
        raise ValueError(f"n_workers={n_workers!r}: expected None or an int >= 0")
    return min(n_workers, max(n_texts, 1))


def _tokenize_chunk(tok: Tokenizer, texts: list[str]) -> list[str]:
    """Worker body: rules, spaCy, then case markers + lowercasing in one pass."""
    spacy_tok = _spacy_tokenizer(tok.lang)
    rules = [tok.apply_rules(t) for t in texts]
    mark, lower = tok.mark_case, tok.lower
    out: list[str] = []
    for doc in spacy_tok.pipe(rules, batch_size=1000):
        toks: list[str] = [TK_BOS] if tok.add_bos else []
        append = toks.append
        for t in doc:
            w = t.text
            lw = w.lower()
            if lw == w:
                append(w)
                continue
            if mark and len(w) > 1:
                if w.isupper():
                    append(TK_UP)
                elif w[0].isupper() and w[1:].islower():
                    append(TK_MAJ)
            append(lw if lower else w)
        if tok.add_eos:
            append(EOS)
        joined = " ".join(toks)
        if joined.count(" ") != len(toks) - 1:  # a whitespace token holds a space
            joined = " ".join(w.replace(" ", _SPACE_MARK) for w in toks)
        out.append(joined)
    return out


def _tokenize_serial(tok: Tokenizer, texts: list[str], bar: tqdm) -> list[str]:
    out: list[str] = []
    step = 1000
    for start in range(0, len(texts), step):
        chunk = texts[start : start + step]
        out.extend(_tokenize_chunk(tok, chunk))
        bar.update(len(chunk))
    return out


def _mp_context() -> mp.context.BaseContext:
    # fork starts workers in milliseconds and shares the loaded spaCy tables; the
    # workers run only Python and spaCy, never torch, so forking a process that has
    # torch loaded is safe here. Elsewhere (macOS, Windows) spawn is the safe choice.
    if sys.platform.startswith("linux"):
        return mp.get_context("fork")
    return mp.get_context("spawn")


def _progress_bar(total: int, progress: bool | None) -> tqdm:
    disable = (not progress) if progress is not None else None  # None: tty only
    return tqdm(total=total, unit="doc", desc="tokenize", disable=disable, leave=False)


def _tokenize_parallel(
    tok: Tokenizer, texts: list[str], workers: int, pool: Any, bar: tqdm
) -> list[str]:
    # ~16 chunks per worker balances the load; at most 1000 texts keeps IPC cheap.
    size = max(1, min(1000, -(-len(texts) // (workers * 16))))
    chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
    out: list[str] = []
    for result in pool.imap(partial(_tokenize_chunk, tok), chunks):
        out.extend(result)
        bar.update(len(result))
    logger.debug("tokenized %d texts with %d workers", len(texts), workers)
    return out
