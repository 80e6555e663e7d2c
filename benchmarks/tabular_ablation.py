"""Ablation of EmbeddingModel's defaults on the four datasets of ``tabular.py``.

Each variant is the estimator with its *default* parameters, except the data-defining
ones (``cat_cols``, ``cont_cols``, ``log_target`` for the count targets) and the
variant's own overrides; it fits on the training rows and keeps its best epoch on the
validation rows (``eval_set``), exactly as the ``tabtext`` row of ``tabular.py`` does,
with the same splits and features. Metrics are mean ± std over seeds 0..N-1 (Rossmann:
``--rossmann-seeds``), training rows/s = rows x epochs run / fit time.

    python benchmarks/tabular_ablation.py --datasets adult bike amazon --seeds 3
    python benchmarks/tabular_ablation.py --variants defaults no-plr --datasets rossmann
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Timer, markdown_table  # noqa: E402
from tabular import DATASETS, Data  # noqa: E402

from tabtext.tabular import EmbeddingClassifier, EmbeddingRegressor  # noqa: E402

# name -> overrides of the estimator's defaults. "defaults" is the shipped estimator.
VARIANTS: dict[str, dict] = {
    "defaults": {},
    "quantile": dict(cont_scaling="quantile"),
    "robust": dict(cont_scaling="robust"),
    "plr": dict(num_embedding="plr"),
    "plr+quantile": dict(num_embedding="plr", cont_scaling="quantile"),
    "plr+robust": dict(num_embedding="plr", cont_scaling="robust"),
    "plr s0.01": {"num_embedding": "plr", "cfg.plr_sigma": 0.01},
    "plr s1": {"num_embedding": "plr", "cfg.plr_sigma": 1.0},
    "plr+robust s1": {"num_embedding": "plr", "cont_scaling": "robust", "cfg.plr_sigma": 1.0},
    "plr+ts10": dict(num_embedding="plr", target_stats=10),
    "plr+robust+ts10": dict(num_embedding="plr", cont_scaling="robust", target_stats=10),
    "ls0.1": dict(label_smoothing=0.1),
    "ts2": dict(target_stats=2),
    "ts10": dict(target_stats=10),
    "ts30": dict(target_stats=30),
    "cap16": dict(max_emb=16),
    "cap32": dict(max_emb=32),
    "cap64": dict(max_emb=64),
    "ls+cap16": dict(max_emb=16, label_smoothing=0.1),
    "ls+cap32": dict(max_emb=32, label_smoothing=0.1),
    "ts10+cap16": dict(max_emb=16, target_stats=10),
    "ts10+cap32": dict(max_emb=32, target_stats=10),
    "ls+ts10+cap32": dict(max_emb=32, label_smoothing=0.1, target_stats=10),
    "P+T+cap32": dict(max_emb=32, num_embedding="plr", target_stats=10),
    "P+T+cap16": dict(max_emb=16, num_embedding="plr", target_stats=10),
    "P+cap32": dict(max_emb=32, num_embedding="plr"),
    "ts10+ls": dict(target_stats=10, label_smoothing=0.1),
    "minf2": dict(min_freq=2),
    "minf3": dict(min_freq=3),
    "minf2+ts10": dict(min_freq=2, target_stats=10),
    "minf2+ls": dict(min_freq=2, label_smoothing=0.1),
    "minf5": dict(min_freq=5),
    "minf3+ts10": dict(min_freq=3, target_stats=10),
    "minf3+ls": dict(min_freq=3, label_smoothing=0.1),
    "P+T+M3": dict(min_freq=3, target_stats=10, num_embedding="plr"),
    "P+M3": dict(min_freq=3, num_embedding="plr"),
    "P+T+M3+ls": dict(min_freq=3, target_stats=10, num_embedding="plr", label_smoothing=0.1),
    "M3+cap32": dict(min_freq=3, max_emb=32),
    "M3+drop0.3": dict(min_freq=3, ps=(0.3, 0.3), emb_drop=0.3),
    "M3+embdrop0.1": dict(min_freq=3, emb_drop=0.1),
    "M3+wd0.1": dict(min_freq=3, weight_decay=0.1),
    "M3+ts10pw50": dict(min_freq=3, target_stats=10, ts_prior=50.0),
    "P+T+M3 pw30": dict(min_freq=3, target_stats=10, num_embedding="plr", ts_prior=30.0),
    "P+T+M3 pw50": dict(min_freq=3, target_stats=10, num_embedding="plr", ts_prior=50.0),
    "P+T+M3 pw100": dict(min_freq=3, target_stats=10, num_embedding="plr", ts_prior=100.0),
    "P+T+M3 s0.3": {"min_freq": 3, "target_stats": 10, "num_embedding": "plr", "cfg.plr_sigma": 0.3},
    "M3+drop0.1": dict(min_freq=3, ps=(0.1, 0.1), emb_drop=0.1),
    "P+M3+drop0.1": dict(min_freq=3, ps=(0.1, 0.1), emb_drop=0.1, num_embedding="plr"),
    "P+M3+drop0.3": dict(min_freq=3, ps=(0.3, 0.3), emb_drop=0.3, num_embedding="plr"),
}  # fmt: skip
PRIMARY = {"rossmann": "RMSPE", "adult": "AUC", "bike": "RMSLE", "amazon": "AUC"}


def network_overrides(overrides: dict) -> None:
    """Exploration only: ``cfg.<field>`` keys replace fields of the network's
    TabularConfig (sizes that are not estimator parameters, e.g. plr_sigma)."""
    from dataclasses import replace

    from tabtext.tabular import estimator, training

    def config(est):
        return replace(training.network_config(est), **overrides)

    estimator.network_config = config


def emb_cap(cap: int) -> None:
    """Exploration only: cap fastai's embedding-size rule at ``cap``."""
    from tabtext.tabular import model

    def rule(n: int) -> int:
        return int(min(cap, round(1.6 * n**0.56)))

    model.default_emb_size = rule


def run(d: Data, params: dict, seed: int) -> dict:
    """One fit of the default estimator with ``params`` on ``d``."""
    cfg = {k[4:]: v for k, v in params.items() if k.startswith("cfg.")}
    params = {k: v for k, v in params.items() if not k.startswith("cfg.")}
    network_overrides(cfg)
    emb_cap(params.pop("max_emb", 600))
    from tabtext.tabular.target_stats import TargetStatistics

    TargetStatistics.__init__.__defaults__ = (5, params.pop("ts_prior", 10.0))
    cls = EmbeddingRegressor if d.regression else EmbeddingClassifier
    est = cls(cat_cols=d.cats, cont_cols=d.conts, random_state=seed, device="cpu")
    est.set_params(**({"log_target": True} if d.regression else {}), **params)
    with Timer() as fit:
        est.fit(d.X_train, d.y_train, eval_set=(d.X_valid, d.y_valid))
    if d.regression:
        pred = est.predict(d.X_valid)
    else:
        pred = est.predict_proba(d.X_valid)[:, 1]
    epochs = len(est.history_)
    return {
        **d.metric(d.y_valid, pred),
        "fit s": fit.seconds,
        "rows/s": len(d.X_train) * epochs / fit.seconds,
        "epochs": epochs,
    }


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
