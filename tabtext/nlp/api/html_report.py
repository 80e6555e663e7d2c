"""A self-contained HTML page of word attributions (:mod:`tabtext.nlp.api.explanation`).

Every word is shaded green when it pushes towards the predicted label and red when it
pushes away, in full colour at the strongest word of its text (whose score the text's
header gives) and in proportion below it; hovering shows the score. Looked at on IMDB
reviews: one scale for the whole page left the texts whose prediction is close to the
baseline's nearly blank (though their word rankings were as telling), and a shade
growing with the square root of the score coloured nearly every word, hiding the few
that decide. The page holds its own CSS, no scripts, fonts or images,
and every piece of text is HTML-escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ...core.io import atomic_write_text

if TYPE_CHECKING:
    from .explanation import TextExplanation

__all__ = ["explanations_html", "write_html"]

_GREEN, _RED = (22, 163, 74), (220, 38, 38)
_MAX_ALPHA = 0.75
_UNITS = {"proba": "probability", "log_odds": "log-odds"}
_BASELINES = {
    "zero": "all word embeddings zero",
    "pad": "every word the padding token",
    "unk": "every word unknown",
}

_CSS = """
body { font: 16px/1.75 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #1f2328; background: #fff; max-width: 54rem; margin: 2rem auto;
       padding: 0 1rem; }
h1 { font-size: 1.35rem; margin-bottom: .3rem; }
.legend { display: flex; align-items: center; gap: .6rem; font-size: .85rem;
          color: #57606a; margin: .6rem 0 .2rem; flex-wrap: wrap; }
.note { font-size: .85rem; color: #57606a; margin: 0 0 1.4rem; }
.bar { width: 12rem; height: .9rem; border-radius: 3px; border: 1px solid #d0d7de;
       background: linear-gradient(to right, rgba(220,38,38,.75), #fff,
       rgba(22,163,74,.75)); }
.doc { border: 1px solid #d0d7de; border-radius: 8px; padding: .7rem 1.1rem .8rem;
       margin: 0 0 1.2rem; }
.head { display: flex; gap: 1rem; align-items: baseline; flex-wrap: wrap;
        font-size: .9rem; color: #57606a; border-bottom: 1px solid #eaeef2;
        padding-bottom: .35rem; margin-bottom: .5rem; }
.label { font-size: 1.05rem; font-weight: 650; color: #1f2328; }
.top { font-size: .85rem; color: #57606a; margin-top: .45rem; }
.for { color: #15803d; font-weight: 600; }
.against { color: #b91c1c; font-weight: 600; }
.w { border-radius: 3px; padding: 0 .08em; }
.unread { color: #8c959f; font-style: italic; }
.sum { font-size: .78rem; color: #8c959f; margin-top: .2rem; }
"""


def explanations_html(
    explanations: Sequence[TextExplanation], title: str = "Why the classifier decided"
) -> str:
    """The page for ``explanations`` as a string (see :func:`write_html`)."""
    if not explanations:
        raise ValueError("no explanations to render: pass at least one")
    unit = _UNITS.get(explanations[0].output, explanations[0].output)
    legend = (
        '<div class="legend"><span>against the predicted label</span>'
        '<span class="bar"></span><span>for it</span></div>\n<p class="note">'
        f"Each word's colour is its contribution to the predicted label's "
        f"{_esc(unit)} (integrated gradients), in full colour at the strongest word "
        "of its text; hover a word for its score.</p>"
    )
    docs = "\n".join(_doc(i, ex, unit) for i, ex in enumerate(explanations, 1))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{_esc(title)}</h1>\n{legend}\n{docs}\n</body>\n</html>\n"
    )


def write_html(
    explanations: Sequence[TextExplanation],
    path: str | Path,
    title: str = "Why the classifier decided",
) -> Path:
    """Write the page for ``explanations`` to ``path`` (atomically).

    Parameters
    ----------
    explanations : sequence of TextExplanation
        From :func:`tabtext.nlp.api.explanation.explain_texts`.
    path : str or Path
        The ``.html`` file to write.
    title : str
        Page heading.

    Returns
    -------
    Path
    """
    atomic_write_text(path, explanations_html(explanations, title))
    return Path(path)


def _shown(ex: TextExplanation) -> list[float]:
    """The scores of the words shown (not line breaks, not unread words)."""
    pairs = zip(ex.words, ex.word_scores, strict=True)
    return [s for w, s in pairs if w.strip() and not math.isnan(s)]


def _doc(i: int, ex: TextExplanation, unit: str) -> str:
    scale = max((abs(s) for s in _shown(ex)), default=0.0) or 1.0
    body, after_break = [], True
    for word, score in zip(ex.words, ex.word_scores, strict=True):
        if not word.strip():  # a line break ("\n" or "\n\n")
            body.append("<br>" * word.count("\n"))
            after_break = True
            continue
        body.append(("" if after_break else " ") + _span(word, score, scale, unit))
        after_break = False
    head = (
        f'<div class="head"><span>#{i}</span><span>predicted '
        f'<span class="label">{_esc(str(ex.label))}</span></span>'
        f"<span>probability {ex.proba:.3f}</span>"
        f"<span>full colour &plusmn;{scale:.3g}</span></div>"
    )
    delta = ex.value - ex.baseline_value
    total = (
        f'<div class="sum">scores add up to {delta:+.3f} ({unit} of the text '
        f"{ex.value:.3f} minus {ex.baseline_value:.3f} for a baseline text with "
        f"{_esc(_BASELINES.get(ex.baseline, ex.baseline))}; "
        f"integration error {ex.gap:+.1e})</div>"
    )
    text = "".join(body)
    return f'<section class="doc">{head}<div>{text}</div>{_top(ex)}{total}</section>'


def _span(word: str, score: float, scale: float, unit: str) -> str:
    if math.isnan(score):
        tip = "not read by the model (beyond max_tokens)"
        return f'<span class="w unread" title="{_esc(tip)}">{_esc(word)}</span>'
    r, g, b = _GREEN if score >= 0 else _RED
    alpha = _MAX_ALPHA * min(1.0, abs(score) / scale)
    return (
        f'<span class="w" style="background:rgba({r},{g},{b},{alpha:.3f})" '
        f'title="{score:+.4f} {_esc(unit)}" data-score="{score:.6g}">'
        f"{_esc(word)}</span>"
    )


def _top(ex: TextExplanation, k: int = 3) -> str:
    """One line naming the strongest words for and against the prediction."""
    scored = [(s, w) for w, s in zip(ex.words, ex.word_scores, strict=True)]
    scored = [(s, w) for s, w in scored if w.strip() and not math.isnan(s)]
    pro = [
        f"{_esc(w)} ({s:+.3f})" for s, w in sorted(scored, reverse=True)[:k] if s > 0
    ]
    con = [f"{_esc(w)} ({s:+.3f})" for s, w in sorted(scored)[:k] if s < 0]
    parts = []
    if pro:
        parts.append('<span class="for">for:</span> ' + ", ".join(pro))
    if con:
        parts.append('<span class="against">against:</span> ' + ", ".join(con))
    return (
        f'<div class="top">{" &nbsp;&middot;&nbsp; ".join(parts)}</div>'
        if parts
        else ""
    )


def _esc(s: str) -> str:
    return html.escape(s, quote=True)
