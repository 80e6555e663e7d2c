"""The article's tips, measured: one resumable run of experiments and its report.

Each experiment is a list of cells (dataset x variant x seed); each cell's result is
written as one JSON file under ``--results`` the moment it is measured, with the CPU
and wall seconds it took, so a run killed midway continues with ``--resume``. The
render step reads only those files and writes ``docs/evidence.md`` and its PNGs under
``docs/img/evidence/``: one section per tip with the claim, the setup, a table of mean
± std over seeds, the published figure where one is quoted, a plot and a verdict
computed from the cached figures. Cells not yet measured show as "not run yet".

    python benchmarks/evidence.py --only lr_range_tabular schedules_tabular --resume
    python benchmarks/evidence.py --tabular --resume --results /tmp/evidence
    python benchmarks/evidence.py --render-only --results /tmp/evidence
    python benchmarks/evidence.py --text --smoke      # the text cells end to end, tiny

Without ``--only``, ``--tabular`` or ``--text``, every experiment runs. Tabular fits
use one thread each; on a busy machine run under ``nice`` with
``OMP_WAIT_POLICY=PASSIVE``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _evidence_text  # noqa: E402
from _common import REPO  # noqa: E402
from _evidence_cells import (  # noqa: E402
    DEFAULT_RESULTS,
    Experiment,
    run_experiment,
)
from _evidence_render import render  # noqa: E402


def experiments() -> list[Experiment]:
    """Every experiment of the report, in the order they run (cheap ones first)."""
    from _evidence_tab_lr import LR_TABULAR, SCHED_TABULAR
    from _evidence_tab_more import (
        DROPOUT_TABULAR,
        EMB_TABULAR,
        TIME_TABULAR,
        TTA_TABULAR,
    )
    from _evidence_text_exps import TEXT_EXPERIMENTS

    tabular = [EMB_TABULAR, LR_TABULAR, SCHED_TABULAR, TIME_TABULAR, DROPOUT_TABULAR,
               TTA_TABULAR]  # fmt: skip
    return tabular + TEXT_EXPERIMENTS


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="+", metavar="NAME", help="run these experiments")
    p.add_argument("--tabular", action="store_true", help="run the tabular experiments")
    p.add_argument("--text", action="store_true", help="run the text experiments")
    p.add_argument("--seeds", type=int, default=3,
                   help="seeds of each tabular cell (default 3)")  # fmt: skip
    p.add_argument("--text-seeds", type=int, default=1,
                   help="seeds of each text cell, minutes each (default 1)")  # fmt: skip
    p.add_argument("--resume", action="store_true", help="skip cells already cached")
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS,
                   help=f"cell cache directory (default {DEFAULT_RESULTS})")  # fmt: skip
    p.add_argument("--docs", type=Path, default=REPO / "docs",
                   help="where evidence.md and img/evidence/ go (default docs/)")  # fmt: skip
    p.add_argument("--render-only", action="store_true", help="render from the cache")
    p.add_argument(
        "--no-render", action="store_true", help="run cells, skip the render"
    )
    p.add_argument("--smoke", action="store_true",
                   help="the first and last cell of each experiment, text ones on a "
                   "tiny slice with a tiny model, in RESULTS/smoke: checks the "
                   "pipeline, measures nothing")  # fmt: skip
    p.add_argument("--lm", type=Path,
                   help="the shared fine-tuned LM of the text cells (a finetune "
                   "run's OUT/lm, built with --max-vocab 30000)")  # fmt: skip
    args = p.parse_args(argv)
    if min(args.seeds, args.text_seeds) < 1:
        p.error(
            f"--seeds and --text-seeds must be >= 1, got {args.seeds}, {args.text_seeds}"
        )
    return args


def select(all_exps: list[Experiment], args) -> list[Experiment]:
    names = {e.name for e in all_exps}
    if args.only:
        unknown = sorted(set(args.only) - names)
        if unknown:
            raise SystemExit(
                f"--only: unknown experiment(s) {unknown}; known: {sorted(names)}"
            )
        return [e for e in all_exps if e.name in args.only]
    kinds = {k for k, on in (("tabular", args.tabular), ("text", args.text)) if on}
    return [e for e in all_exps if not kinds or e.kind in kinds]


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def main(argv=None) -> None:
    args = parse_args(argv)
    all_exps = experiments()
    results = args.results / "smoke" if args.smoke else args.results
    _evidence_text.configure(results, args.smoke, args.lm)

    def seeds(exp: Experiment) -> int:
        return args.text_seeds if exp.kind == "text" else args.seeds

    if not args.render_only:
        for exp in select(all_exps, args):
            ran = run_experiment(
                exp, seeds(exp), results, args.resume, log, ends_only=args.smoke
            )
            log(f"[{exp.name}] {ran} cell(s) run")
    if not args.no_render:
        docs = args.docs if not args.smoke else results / "docs"
        log(f"report: {render(all_exps, seeds, results, docs)}")


if __name__ == "__main__":
    main()
