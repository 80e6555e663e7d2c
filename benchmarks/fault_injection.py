"""Fault injection on real processes: SIGKILL, corrupted files, failing disks, two
runs on one output folder.

It starts real subprocesses, kills them with SIGKILL at chosen stages plus a random
delay, resumes them, and checks the outcome against an uninterrupted run:

(a) ``finetune`` (tiny model, synthetic corpus) killed in each stage, twice in a row,
    and inside a ``--self-train`` round, then ``--resume``: the classifier weights
    equal the uninterrupted run's bit for bit, and so do its metrics; the lock the
    killed run left does not block the ``--resume``;
(b) ``pretrain`` killed between two segment checkpoints, then ``--resume``: the
    uninterrupted run's weights bit for bit;
(c) ``EmbeddingClassifier(checkpoint_dir=...)`` with early stopping, and
    ``fit_parquet``, killed and refitted with the same folder: the same result;
(d) two ``finetune`` runs on one ``--out``, two fits on one ``checkpoint_dir``: the
    second refuses, naming the lock file and the other process; the first is unharmed;
(e) checkpoint and model files truncated, flipped or joined by a pickle, the shipped
    LM corrupted (in a copy of the package data), a pickle in a ``--pretrained``
    directory: refused, naming the file; no pickle payload ever runs;
(f) the disk fails while a checkpoint is written -- a real ``EFBIG`` from
    ``RLIMIT_FSIZE``, ``ENOSPC``, ``EACCES`` -- : an error naming the OS error and
    the intact previous checkpoint, which is indeed intact, and a refit that ends
    like the uninterrupted fit.

    python benchmarks/fault_injection.py [--seed N] [--work DIR]

The seed (``--seed``, else ``$FAULT_SEED``, else the clock) draws the kill points and
delays, and is printed first so that a failure can be replayed. The scenarios run in
two lanes (text, tables) at once. Prints a markdown table; exits 1 if any scenario
fails, 2 if a reference run fails (its error shown). ``--work DIR`` keeps the runs.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table  # noqa: E402
from faults import inject, lm_files, procs, table, text  # noqa: E402

COLUMNS = ["scenario", "injected", "at", "outcome", "check", "result"]


def text_lane(work: Path, seed: int) -> list[dict]:
    rng, rows = np.random.default_rng([seed, 1]), []
    text.make_corpus(work / "corpus.parquet")
    ft_ref = text.finetune_trials(work, rng, rows)
    text.lock_trial(work, ft_ref, rows)
    text.self_train_trial(work, rng, rows)
    lm_files.pretrain_trial(work, rng, rows)
    lm_files.finetune_files_trial(work, ft_ref, rows)
    lm_files.shipped_lm_trial(work, rows)
    lm_files.pretrained_pickle_trial(work, rows)
    return rows


def table_lane(work: Path, seed: int) -> list[dict]:
    rng, rows = np.random.default_rng([seed, 2]), []
    tab_ref = table.tabular_trials(work, rng, rows)
    table.lock_trial(work, tab_ref, rows)
    table.corruption_trial(work, rows)
    inject.failing_saves(work, tab_ref, rows)
    table.parquet_trial(work, rng, rows)
    return rows


def suite(work: Path, seed: int) -> int:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        lanes = [pool.submit(lane, work, seed) for lane in (text_lane, table_lane)]
        try:
            rows = [r for lane in lanes for r in lane.result()]
        except procs.ReferenceFailed as e:
            procs.STOP.set()
            print(f"fault suite stopped (seed {seed}): {e}", file=sys.stderr)
            return 2
    n_fail = sum(r["result"] != "PASS" for r in rows)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"## Fault injection (seed {seed}, {time.perf_counter() - t0:.0f}s wall, "
          f"{kids.ru_utime + kids.ru_stime:.0f}s CPU in the child processes)\n")  # fmt: skip
    print(markdown_table(rows, COLUMNS))
    print(f"\n{len(rows) - n_fail}/{len(rows)} scenarios pass", flush=True)
    return 1 if n_fail else 0


def children(args: argparse.Namespace, rest: list[str]) -> bool:
    """Run this script's child roles; False if it is not a child."""
    if args.child_shipped:
        lm_files.child_shipped(args.child_shipped, rest)
    elif args.child_tabular or args.child_parquet:
        save = args.child_tabular or args.child_parquet
        table.child_tabular(save, args.ckpt, args.fault, args.data)
    else:
        return False
    return True


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=None,
                   help="draws kill points and delays (default: $FAULT_SEED, else "
                   "the clock)")  # fmt: skip
    p.add_argument("--work", default=None, help="working folder (default: temporary)")
    for hidden in ("--child-tabular", "--child-parquet", "--child-shipped", "--ckpt"):
        p.add_argument(hidden, default=None, help=argparse.SUPPRESS)
    p.add_argument("--data", default=None, help=argparse.SUPPRESS)
    p.add_argument("--fault", default="", help=argparse.SUPPRESS)
    argv = sys.argv[1:]
    rest = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = p.parse_args(argv[: len(argv) - len(rest) - (1 if rest else 0)])
    if children(args, rest):
        return 0
    seed = args.seed
    if seed is None:
        seed = int(os.environ.get("FAULT_SEED") or time.time_ns() % 1_000_000)
    print(f"fault suite seed {seed} (replay: FAULT_SEED={seed})", flush=True)
    work = Path(args.work or tempfile.mkdtemp(prefix="tabtext-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o755)  # an unprivileged child must reach its folder inside
    try:
        return suite(work, seed)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
