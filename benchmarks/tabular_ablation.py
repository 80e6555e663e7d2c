"""Ablation of EmbeddingModel's defaults on the four datasets of ``tabular.py``.

Each variant is the estimator with its *default* parameters, except the data-defining
ones (``cat_cols``, ``cont_cols``, ``log_target`` for the count targets) and the
variant's own overrides; it fits on the training rows and keeps its best epoch on the
validation rows (``eval_set``), exactly as the ``tabtext`` row of ``tabular.py`` does,
with the same splits and features. Metrics are mean ± std over seeds 0..N-1 (Rossmann:
``--rossmann-seeds``), training rows/s = rows x passes over them / fit time.

    python benchmarks/tabular_ablation.py --datasets adult bike amazon --seeds 3
    python benchmarks/tabular_ablation.py --datasets rossmann --variants defaults "no PLR"

Variants that cannot differ from "defaults" on a dataset (label smoothing on a
regression, continuous-column options on Amazon, which has none) are skipped there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table  # noqa: E402
from tabular import DATASETS, Data, run_tabtext  # noqa: E402

from tabtext.tabular import training  # noqa: E402

# name -> overrides of the estimator's defaults. "defaults" is the shipped estimator;
# "_min_steps" sets tabtext.tabular.training.MIN_STEPS (epochs="auto"'s floor) instead.
VARIANTS: dict[str, dict] = {
    "defaults": {},
    "previous defaults (ps=(0, 0), 100 min steps)": dict(ps=(0.0, 0.0), _min_steps=100),
    "no dropout (ps=(0, 0))": dict(ps=(0.0, 0.0)),
    "100 min steps": dict(_min_steps=100),
    "ps=(0.2, 0.2)": dict(ps=(0.2, 0.2)),
    "batch_size=512": dict(batch_size=512),
    "batch_size=2048": dict(batch_size=2048),
    "old defaults (no PLR, min_freq=1)": dict(num_embedding="none", min_freq=1),
    "no PLR": dict(num_embedding="none"),
    "min_freq=1": dict(min_freq=1),
    "+ target stats (>= 10 categories)": dict(target_stats=10),
    "+ quantile scaling": dict(cont_scaling="quantile"),
    "+ robust scaling": dict(cont_scaling="robust"),
    "+ label smoothing 0.1": dict(label_smoothing=0.1),
}  # fmt: skip
CLASSIFICATION_ONLY = {"+ label smoothing 0.1"}
NEEDS_CONTS = {"no PLR", "+ quantile scaling", "+ robust scaling"}


def run(d: Data, params: dict, seed: int) -> dict:
    """One fit of the default estimator with ``params`` on ``d``: ``tabular.py``'s
    tabtext fit, with ``MIN_STEPS`` patched for it by a ``_min_steps`` entry."""
    params = dict(params)
    min_steps = params.pop("_min_steps", training.MIN_STEPS)
    with mock.patch.object(training, "MIN_STEPS", min_steps):
        res = run_tabtext(d, params, seed)
    res["rows/s"], res["epochs"] = res.pop("train rows/s"), res.pop("epochs/iters")
    del res["predict s"], res["batch size"]
    return res


def summarize(name: str, variant: str, runs: list[dict]) -> dict:
    out = {"dataset": name, "variant": variant, "seeds": len(runs)}
    for key in runs[0]:
        values = np.array([r[key] for r in runs], float)
        if key in ("RMSPE", "RMSLE", "accuracy", "AUC"):
            spread = f" ± {values.std():.4f}" if len(runs) > 1 else ""
            out[key] = f"{values.mean():.4f}{spread}"
        else:
            out[key] = float(values.mean())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", choices=list(DATASETS),
                    default=list(DATASETS))  # fmt: skip
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS),
                    help=f"any of {list(VARIANTS)}")  # fmt: skip
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=JSON",
                    help="extra overrides for every variant, e.g. epochs=8")  # fmt: skip
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--rossmann-seeds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="tabular.py's small subsets")
    ap.add_argument("--out", default=None, help="also write the table to this file")
    args = ap.parse_args()
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    extra = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    torch.set_num_threads(args.threads)
    rows, t0 = [], time.perf_counter()
    for name in args.datasets:
        d = DATASETS[name](quick=args.quick)
        n_seeds = args.rossmann_seeds if name == "rossmann" else args.seeds
        for variant in args.variants:
            if (variant in CLASSIFICATION_ONLY and d.regression) or (
                variant in NEEDS_CONTS and not d.conts
            ):
                continue  # the same model as "defaults" there
            params = {**VARIANTS[variant], **extra}
            with threadpool_limits(args.threads):
                runs = [run(d, params, seed) for seed in range(n_seeds)]
            rows.append(summarize(name, variant, runs))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    columns = ["dataset", "variant", "RMSPE", "RMSLE", "accuracy", "AUC", "fit s",
               "rows/s", "epochs", "seeds"]  # fmt: skip
    table = markdown_table(rows, columns)
    print(table)
    print(f"\n(total {time.perf_counter() - t0:.0f} s, {args.threads} thread(s); "
          f"overrides for all: {extra})")  # fmt: skip
    if args.out:
        Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
