"""Streaming against in-memory EmbeddingModel fits on Rossmann: peak memory, time, RMSPE.

The parent prepares Rossmann exactly as ``benchmarks/tabular.py`` does (its
``load_rossmann``: store metadata joined, calendar and event features, the last 6
weeks held out, closed days dropped) and writes the training and validation rows to
parquet files in a temporary folder (never the repository), sorted by Date then
Store as the raw data is, in row groups of ``--row-group`` rows. Then, each in its
own fresh subprocess:

- ``memory``: ``pd.read_parquet`` of both files, ``EmbeddingRegressor.fit`` with
  the validation rows as ``eval_set``, ``predict``;
- ``stream``: ``EmbeddingRegressor.fit_parquet`` on the training file with the
  validation file as ``eval_set`` (streamed), ``predict_parquet``;
- ``tiny``: a 1-epoch ``fit`` on 300 rows: torch's fixed cost of a first training
  step (lazily loaded kernels, allocator pools), about 90 MiB, which both paths pay.

Both use the Rossmann configuration of ``benchmarks/tabular.py``. Each child reports
its peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss``), its RSS after the imports
(numpy, pandas, pyarrow, torch, tabtext) and the difference, the fit and total wall
times, and the validation RMSPE (Kaggle's metric). Prints a markdown table.

    python benchmarks/tabular_streaming.py                      # full Rossmann, 8 epochs
    python benchmarks/tabular_streaming.py --quick              # every 10th store, 2 epochs
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLUMNS = [
    "fit", "peak RSS MiB", "RSS after imports MiB", "peak - imports MiB", "fit s",
    "total s", "validation RMSPE", "epochs",
]  # fmt: skip


NAMES = {
    "tiny": "floor: 300-row `fit`, 1 epoch",
    "memory": "in memory (`fit`)",
    "stream": "streaming (`fit_parquet`)",
}


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# ---- children: one fit each, in a fresh process --------------------------------------
def child(mode: str, a: dict) -> dict:
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq
    import torch

    from tabtext.tabular import EmbeddingRegressor

    torch.set_num_threads(a["threads"])
    base = _rss_mib()
    t0 = time.perf_counter()
    est = EmbeddingRegressor(
        cat_cols=a["cats"], cont_cols=a["conts"], log_target=True,
        n_iter_no_change=None, random_state=a["seed"], device="cpu", **a["config"],
    )  # fmt: skip
    features, train, valid = a["cats"] + a["conts"], a["train"], a["valid"]
    if mode == "tiny":  # torch's fixed cost of a first fit: the floor of both paths
        tr = pq.ParquetFile(train).read_row_group(0).to_pandas().iloc[:300]
        t_fit = time.perf_counter()
        est.set_params(epochs=1).fit(tr[features], tr["Sales"])
        fit_s = time.perf_counter() - t_fit
        pred, y = est.predict(tr[features]), tr["Sales"].to_numpy()
    elif mode == "memory":
        tr, va = pd.read_parquet(train), pd.read_parquet(valid)
        t_fit = time.perf_counter()
        est.fit(tr[features], tr["Sales"], eval_set=(va[features], va["Sales"]))
        fit_s = time.perf_counter() - t_fit
        pred, y = est.predict(va[features]), va["Sales"].to_numpy()
    else:
        t_fit = time.perf_counter()
        est.fit_parquet(
            train, "Sales", features, eval_set=valid, batch_rows=a["batch_rows"],
            shuffle_rows=a["shuffle_rows"],
        )  # fmt: skip
        fit_s = time.perf_counter() - t_fit
        pred = est.predict_parquet(valid, batch_rows=a["batch_rows"])
        y = pq.read_table(valid, columns=["Sales"]).column("Sales").to_numpy()
    keep = y > 0
    rmspe = float(np.sqrt(np.mean(((y[keep] - pred[keep]) / y[keep]) ** 2)))
    peak = _rss_mib()
    return {
        "fit": NAMES[mode],
        "peak RSS MiB": round(peak),
        "RSS after imports MiB": round(base),
        "peak - imports MiB": round(peak - base),
        "fit s": round(fit_s, 1),
        "total s": round(time.perf_counter() - t0, 1),
        "validation RMSPE": round(rmspe, 4),
        "epochs": len(est.history_),
        "info": getattr(est, "stream_info_", None),
    }


# ---- parent ---------------------------------------------------------------------------
def write_parquets(folder: Path, quick: bool, row_group: int) -> dict:
    """Rossmann prepared by benchmarks/tabular.py, written as train/valid parquets."""
    from tabular import TABTEXT, load_rossmann  # the shared feature preparation

    d = load_rossmann(quick)
    paths = {}
    for name, X, y in (
        ("train", d.X_train, d.y_train),
        ("valid", d.X_valid, d.y_valid),
    ):
        frame = X.assign(Sales=y)
        order = frame.sort_values(["Year", "Month", "Day", "Store"]).index
        paths[name] = folder / f"{name}.parquet"
        frame.loc[order].to_parquet(paths[name], index=False, row_group_size=row_group)
    config = {k: (list(v) if isinstance(v, tuple) else v)
              for k, v in TABTEXT["rossmann"].items()}  # fmt: skip
    return {"paths": {k: str(v) for k, v in paths.items()}, "cats": d.cats,
            "conts": d.conts, "config": config,
            "rows": (len(d.X_train), len(d.X_valid))}  # fmt: skip


def run_child(mode: str, args: dict) -> dict:
    """Run one step in a fresh interpreter. The parent stays small (stdlib only): on
    Linux a child's ru_maxrss starts from its parent's RSS at fork/exec time."""
    env = dict(os.environ, STREAM_BENCH_ARGS=json.dumps(args))
    cmd = [sys.executable, __file__, "--child", mode]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="every 10th store, 2 epochs")
    ap.add_argument("--epochs", type=int, default=None, help="default: tabular.py's 8")
    ap.add_argument("--row-group", type=int, default=16_384, help="rows per row group")
    ap.add_argument("--batch-rows", type=int, default=16_384, help="rows per read")
    ap.add_argument("--shuffle-rows", type=int, default=None, help="4 x batch rows")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--modes", nargs="+", default=list(NAMES), choices=list(NAMES))
    ap.add_argument("--tmp", type=Path, default=None, help="parent of the temp folder")
    ap.add_argument("--out", type=Path, default=None, help="also write the table here")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        a = json.loads(os.environ["STREAM_BENCH_ARGS"])
        if args.child == "prep":
            out = write_parquets(Path(a["folder"]), a["quick"], a["row_group"])
        else:
            out = child(args.child, a)
        print(json.dumps(out))
        return

    from _common import markdown_table  # benchmarks/ is on sys.path as the script dir

    folder = Path(tempfile.mkdtemp(prefix="tabtext_stream_", dir=args.tmp))
    try:
        prep = run_child(
            "prep",
            {"folder": str(folder), "quick": args.quick, "row_group": args.row_group},
        )
        config = dict(prep["config"])
        config["epochs"] = args.epochs or (2 if args.quick else config["epochs"])
        shared = {
            "train": str(prep["paths"]["train"]), "valid": str(prep["paths"]["valid"]),
            "cats": prep["cats"], "conts": prep["conts"], "config": config,
            "threads": args.threads, "seed": args.seed, "batch_rows": args.batch_rows,
            "shuffle_rows": args.shuffle_rows,
        }  # fmt: skip
        rows = [run_child(mode, shared) for mode in args.modes]
        size = Path(prep["paths"]["train"]).stat().st_size / 2**20
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    shuffle = args.shuffle_rows or 4 * args.batch_rows
    head = (
        f"Rossmann{' (quick)' if args.quick else ''}: {prep['rows'][0]:,} training / "
        f"{prep['rows'][1]:,} validation rows; train.parquet {size:.0f} MiB in row "
        f"groups of {args.row_group:,}; streaming reads {args.batch_rows:,} rows at a "
        f"time, shuffle buffer {shuffle:,} rows; {args.threads} torch thread(s)"
    )
    table = markdown_table(rows, COLUMNS)
    info = [r["info"] for r in rows if r.get("info")]
    text = f"{head}\n\n{table}\n" + "".join(f"\nstream_info_: {i}\n" for i in info)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
