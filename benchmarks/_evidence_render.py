"""Render the evidence report (``docs/evidence.md`` and its PNGs) from cached cells."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from _common import markdown_table
from _evidence_cells import Experiment, cost, load_results

TIPS = {
    1: "Find the learning rate with a range test",
    2: "Anneal and restart the learning rate",
    3: "Fine-tune a text classifier the ULMFiT way",
    4: "Transfer a pretrained language model",
    5: "Embed categorical columns",
    6: "Regularise with dropout",
    7: "Pick the right output activation",
    8: "Average predictions",
    9: "Win on time and cost",
    10: "What the data says against the article",
}


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def _section(exp: Experiment, seeds: int, results: Path, img: Path) -> tuple[str, list]:
    recs = load_results(results, exp, seeds)
    n_cells = len(exp.cells(seeds))
    summary = exp.summarize(recs, img)
    cpu, wall, done = cost(recs.values())
    lines = [f"### {exp.title}", "", f"**Claim.** {exp.claim}", "",
             f"**Setup.** {exp.setup} Seeds: {seeds}.", "",
             f"**Published figure.** {exp.published}", ""]  # fmt: skip
    if summary.rows:
        cols = [c for c in summary.columns if any(c in r for r in summary.rows)]
        lines += [markdown_table(summary.rows, cols), ""]
    lines += [f"- {n}" for n in summary.notes]
    lines += [f"![{exp.title}]({p})" for p in summary.plots]
    lines += ["", f"**Verdict.** {summary.verdict}", "",
              f"*Cost: {done} of {n_cells} cells done, {_minutes(cpu)} CPU, "
              f"{_minutes(wall)} wall.*", ""]  # fmt: skip
    return "\n".join(lines), [exp.name, done, n_cells, cpu, wall]


def render(
    experiments: list[Experiment],
    seeds: int | Callable[[Experiment], int],
    results: Path,
    docs: Path,
) -> Path:
    """Write ``docs/evidence.md`` (atomically) and its plots under
    ``docs/img/evidence/``; returns the page's path. ``seeds``: one count for every
    experiment, or a function of the experiment."""
    seeds_of = seeds if callable(seeds) else (lambda exp: seeds)
    img = docs / "img" / "evidence"
    body, costs = [], []
    for tip, name in TIPS.items():
        body += [f"## {tip}. {name}", ""]
        exps = [e for e in experiments if e.tip == tip]
        if not exps:
            body += ["No experiment is defined for this tip.", ""]
        for exp in exps:
            text, row = _section(exp, seeds_of(exp), results, img)
            body.append(text)
            costs.append(row)
    head = [
        "# The article's tips, measured",
        "",
        "Each section is rendered by `python benchmarks/evidence.py --render-only` from "
        "the cells cached by earlier runs (one JSON file per cell); a cell not yet "
        "measured shows as *not run yet*. Verdicts are computed from the cached figures "
        "by the rules in `benchmarks/_evidence_*.py`. Tables are mean ± std over seeds "
        "on the validation rows. Times are on a shared 2-core CPU machine, one thread "
        "per fit, under `nice`: compare them within a section only.",
        "",
        "## Cost",
        "",
        markdown_table(
            [
                dict(
                    zip(
                        ["experiment", "cells done", "cells", "CPU min", "wall min"],
                        [n, d, t, c / 60, w / 60],
                    )
                )
                for n, d, t, c, w in costs
            ],  # fmt: skip
            ["experiment", "cells done", "cells", "CPU min", "wall min"],
        ),
        "",
    ]
    page = docs / "evidence.md"
    docs.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=docs, prefix=".evidence.", suffix=".md")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(head + body).rstrip() + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, page)
    return page
