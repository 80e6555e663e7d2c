"""The ULMFiT text rules: special tokens, string rules and per-token case rules.

The string rules run on a whole document before spaCy splits it (HTML fixes,
``xxrep n c`` for repeated characters, spaces around ``/ # \\``); the token rules run
on spaCy's tokens after it (``xxmaj``/``xxup`` case markers, lowercasing, line-break
tokens, ``xxwrep n w`` for repeated words). :mod:`tabtext.nlp.text.tokenize` applies them.
"""

from __future__ import annotations

import html
import re
from functools import cache
from typing import Any

import numpy as np

__all__ = [
    "EOS",
    "FLD",
    "PAD",
    "RULES_VERSION",
    "SPECIAL_TOKENS",
    "TK_BOS",
    "TK_MAJ",
    "TK_REP",
    "TK_UP",
    "TK_WREP",
    "UNK",
]

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
RE_SPEC = re.compile(r"([/#\\])")
_RE_WORD = re.compile(r"\w+")


@cache
def char_rep_regex(min_rep: int) -> re.Pattern[str]:
    return re.compile(r"(\S)" + r"\1" * (min_rep - 2) + r"\1+")


def sub_char_rep(m: re.Match[str]) -> str:
    return f" {TK_REP} {len(m.group())} {m.group(1)} "


def fix_html(text: str) -> str:
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


_TOKEN_CACHES: dict[tuple[bool, bool], dict[int, tuple[str, ...]]] = {}


def token_cache(mark_case: bool, lower: bool) -> dict[int, tuple[str, ...]]:
    """Per-process map: spaCy token hash -> output tokens, for these settings."""
    cache = _TOKEN_CACHES.setdefault((mark_case, lower), {})
    if len(cache) > 2_000_000:  # bound the memory of a long-lived process
        cache.clear()
    return cache


def convert_token(w: str, mark_case: bool, lower: bool) -> tuple[str, ...]:
    """Output tokens for one spaCy token (the same whatever its neighbours)."""
    if w.isspace():  # spaCy's token for extra whitespace: keep line breaks only
        n = w.replace("\r\n", "\n").replace("\r", "\n").count("\n")
        return () if n == 0 else ("\n",) if n == 1 else ("\n\n",)
    lw = w.lower()
    if lw == w:
        return (w,)
    out = lw if lower else w
    if mark_case and len(w) > 1:
        if w.isupper():
            return (TK_UP, out)
        if w[0].isupper() and w[1:].islower():
            return (TK_MAJ, out)
    return (out,)


def has_word_run(lower_hashes: np.ndarray, k: int) -> bool:
    """Whether some k consecutive tokens are equal (ignoring case)."""
    if len(lower_hashes) < k:
        return False
    same = lower_hashes[1:] == lower_hashes[:-1]
    run = same[: len(same) - k + 2].copy()
    for j in range(1, k - 1):
        run &= same[j : j + len(run)]
    return bool(run.any())


def with_word_reps(
    hashes: np.ndarray, strings: Any, cache: dict, k: int, mark_case: bool, lower: bool
) -> list[str]:
    """The token pass for the rare document with a run of >= k equal tokens."""
    orth, low = hashes[:, 0].tolist(), hashes[:, 1].tolist()
    out: list[str] = []
    i, n = 0, len(orth)
    while i < n:
        j = i + 1
        while j < n and low[j] == low[i]:
            j += 1
        first = strings[orth[i]]
        if j - i >= k and _RE_WORD.fullmatch(first):
            out += [TK_WREP, str(j - i), *convert_token(first, mark_case, lower)]
        else:
            for h in orth[i:j]:
                if h not in cache:
                    cache[h] = convert_token(strings[h], mark_case, lower)
                out += cache[h]
        i = j
    return out
