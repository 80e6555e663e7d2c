"""Word-level explanations of a text classifier's predictions.

Each text is tokenized and truncated exactly as for prediction, its tokens are
attributed by integrated gradients on the input embeddings
(:mod:`tabtext.nlp.api.attribution`; Sundararajan et al. 2017), and the token scores are
summed back into the words of the text for display: the case markers (``xxmaj``,
``xxup``) and repetition markers (``xxrep``, ``xxwrep``) count towards the word they
mark, tokens written without a space between them (``it`` + ``'s``, ``good`` + ``!``)
make one word, ``xxbos`` is kept at its embedding in the baseline (score 0) and not
shown. :func:`write_html` (in :mod:`tabtext.nlp.api.html_report`) renders the result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch

from ...core import distributed
from ..text.loaders import clip_doc
from ..text.rules import EOS, PAD, TK_BOS, TK_MAJ, TK_REP, TK_UP, TK_WREP, fix_html
from .attribution import Output, integrated_gradients
from .html_report import write_html
from .persistence import TextModel

__all__ = ["TextExplanation", "explain_texts", "word_spans", "write_html"]

#: Tokens kept at their embedding in the baseline and never shown.
STRUCTURAL = (TK_BOS, EOS, PAD)
_MARKERS = (TK_MAJ, TK_UP)
_SPACE_MARK = "\u2581"
_SEARCH = 40  # characters searched ahead when a token is not where expected


@dataclass(frozen=True)
class TextExplanation:
    """Why the classifier predicted ``label`` for ``text``.

    Attributes
    ----------
    text : str
    label : object
        The predicted class; ``proba`` its probability.
    proba : float
    tokens : list of str
        The tokenizer's tokens, in reading order (``xxbos`` ... ).
    scores : list of float
        One per token: its contribution to ``output`` of the predicted class
        (positive: towards it). NaN for a token the model does not read (cut by
        ``max_tokens``).
    words : list of str
        The text's words as written (``"\\n"``, ``"\\n\\n"`` for line breaks).
    word_scores : list of float
        Sum of each word's token scores (NaN where none was read).
    word_tokens : list of (int, int)
        Each word's tokens, ``tokens[start:end]``.
    output : {"proba", "log_odds"}
        What the scores add up to: ``value - baseline_value`` (up to ``gap``).
    baseline : {"zero", "pad", "unk"}
        The text the path starts from (see :func:`explain_texts`).
    value, baseline_value, gap : float
        See :class:`tabtext.nlp.api.attribution.Attribution`.
    """

    text: str
    label: Any
    proba: float
    tokens: list[str]
    scores: list[float]
    words: list[str]
    word_scores: list[float]
    word_tokens: list[tuple[int, int]]
    output: str
    baseline: str
    value: float
    baseline_value: float
    gap: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN scores become None)."""
        d = asdict(self)
        for key in ("scores", "word_scores"):
            d[key] = [None if math.isnan(s) else s for s in d[key]]
        d["word_tokens"] = [list(span) for span in self.word_tokens]
        if isinstance(self.label, np.generic):
            d["label"] = self.label.item()
        return d


def explain_texts(
    tm: TextModel,
    texts: Sequence[str],
    classes: Sequence[Any] | None = None,
    n_steps: int = 32,
    baseline: Literal["zero", "pad", "unk"] = "zero",
    output: Output = "proba",
    device: str | None = None,
) -> list[TextExplanation]:
    """Integrated-gradients explanation of each text's predicted class.

    Parameters
    ----------
    tm : TextModel
        A loaded classifier (:func:`tabtext.nlp.load_text_model`).
    texts : sequence of str
    classes : sequence, optional
        Class labels by index; default ``tm.classes``.
    n_steps : int
        Quadrature points (each one a forward and backward pass over the text).
    baseline : {"zero", "pad", "unk"}
        Embedding the tokens start from: zeros, the padding token's row, or the
        unknown token's (a text of as many unknown words).
    output : {"proba", "log_odds"}
        Attribute the predicted class' probability, or its log-odds.
    device : str, optional
        Default CUDA when available.

    Returns
    -------
    list of TextExplanation

    Examples
    --------
    >>> ex = explain_texts(load_text_model("out/model"), ["A wonderful film."])  # doctest: +SKIP
    >>> max(zip(ex[0].word_scores, ex[0].words))  # doctest: +SKIP
    (0.41, 'wonderful')
    """
    if isinstance(texts, str):
        raise TypeError(
            "texts must be a sequence of str, got one str; wrap it in a list"
        )
    texts = list(texts)
    classes = list(tm.classes if classes is None else classes)
    model = tm.model.to(distributed.device(device))
    base = tm.vocab.unk_id if baseline == "unk" else baseline
    structural = [tm.vocab.stoi[t] for t in STRUCTURAL if t in tm.vocab.stoi]
    out = []
    for i, (text, toks) in enumerate(
        zip(texts, tm.tokenizer.tokenize(texts), strict=True)
    ):
        if not toks:
            raise ValueError(f"text {i} ({text!r:.40}) has no tokens to explain")
        ids = tm.vocab.numericalize(toks).astype(np.int64)
        read = clip_doc(np.arange(len(ids)), tm.config.max_tokens or len(ids))
        if tm.config.backwards:  # the model reads the document right to left
            read = read[::-1].copy()
        fixed = torch.from_numpy(np.isin(ids[read], structural))
        att = integrated_gradients(
            model, torch.from_numpy(ids[read]), None, n_steps, base, fixed, output
        )
        scores = np.full(len(ids), np.nan)
        scores[read] = att.scores
        spans = word_spans(text, toks, tm.tokenizer.fix_html)
        words = [w for w, _, _ in spans]
        word_scores = [_span_sum(scores[a:b]) for _, a, b in spans]
        out.append(
            TextExplanation(
                text, classes[att.target], float(att.probs[att.target]), list(toks),
                scores.tolist(), words, word_scores, [(a, b) for _, a, b in spans],
                output, baseline, att.value, att.baseline_value, att.gap,
            )
        )  # fmt: skip
    return out


def _span_sum(scores: np.ndarray) -> float:
    return float("nan") if np.isnan(scores).all() else float(np.nansum(scores))


def word_spans(
    text: str, tokens: Sequence[str], html_fixed: bool = True
) -> list[tuple[str, int, int]]:
    """Group a text's tokens into its words, as written.

    Parameters
    ----------
    text : str
        The raw text.
    tokens : sequence of str
        Its tokens from :class:`~tabtext.nlp.text.tokenize.Tokenizer`.
    html_fixed : bool
        Whether the tokenizer fixed HTML (then the words are read from the fixed
        text: ``<br />`` as a line break, ``&amp;`` as ``&``).

    Returns
    -------
    list of (word, start, end)
        ``word`` as it stands in the text (``"\\n"`` or ``"\\n\\n"`` for a line
        break), made of ``tokens[start:end]``. Structural tokens (``xxbos``)
        belong to no word.
    """
    ref = fix_html(text) if html_fixed else text
    pos, words, joined = 0, [], False
    for start, end, surface in _units(tokens):
        if surface is None:  # a line break
            words.append([tokens[start], start, end])
            joined = False
            continue
        first, pos, gap = _match(ref, surface, pos)
        piece = ref[first:pos] if first is not None else " ".join(surface)
        if joined and not gap:
            words[-1][0] += piece
            words[-1][2] = end
        else:
            words.append([piece, start, end])
        joined = True
    return [(w, a, b) for w, a, b in words]


def _units(tokens: Sequence[str]):
    """Yield ``(start, end, surface)`` per written piece: ``surface`` is the list of
    strings it is written as (several for ``xxwrep``), None for a line break;
    structural tokens are skipped."""
    i, n = 0, len(tokens)
    while i < n:
        t = tokens[i]
        if t in STRUCTURAL:
            i += 1
            continue
        if t.strip() == "" and "\n" in t:
            yield i, i + 1, None
            i += 1
            continue
        j, surface = i + 1, [t.replace(_SPACE_MARK, " ")]
        if t in (TK_REP, TK_WREP) and i + 2 < n and tokens[i + 1].isdigit():
            count, j = int(tokens[i + 1]), i + 2
            if t == TK_WREP and tokens[j] in _MARKERS and j + 1 < n:
                j += 1
            surface = [tokens[j] * count] if t == TK_REP else [tokens[j]] * count
            j += 1
        elif t in _MARKERS and i + 1 < n:
            j, surface = i + 2, [tokens[i + 1]]
        yield i, j, surface
        i = j


def _match(ref: str, surface: list[str], pos: int) -> tuple[int | None, int, bool]:
    """Find ``surface``'s strings in ``ref`` from ``pos`` on, case-insensitively.

    Returns ``(first, after, gap)``: where the first string starts (None when a
    string was not found near ``pos``; ``after`` is then ``pos``), where the last
    ends, and whether whitespace (or skipped text) came before the first.
    """
    first, at, gap = None, pos, False
    for k, part in enumerate(surface):
        j = at
        while j < len(ref) and ref[j].isspace():
            j += 1
        hit = _find(ref, part, j)
        if hit is None:
            return None, pos, True
        if k == 0:
            first, gap = hit, hit > pos
        at = hit + len(part)
    return first, at, gap


def _find(ref: str, part: str, start: int) -> int | None:
    low = part.lower()
    for j in range(start, min(len(ref), start + _SEARCH)):
        if ref[j : j + len(part)].lower() == low:
            return j
    return None
