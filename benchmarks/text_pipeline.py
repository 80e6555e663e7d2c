"""The text pipeline on the 25k IMDB training reviews: tabtext against fastai.

Tokenization (ULMFiT rules + spaCy's rule-based English tokenizer), reviews per second:
tabtext cold (fresh cache dir: tokenize + build vocab + numericalize + write the
cache, spaCy import included), tabtext's cached rerun (same call again), and with
``--fastai-python`` fastai's ``tokenize_df`` (what ``Tokenizer.from_df`` runs) on the
same texts in a subprocess, with the same number of workers. Prints a markdown table.

    python benchmarks/text_pipeline.py [--fastai-python /tmp/fastai-venv/bin/python]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Timer, markdown_table, peer_python, run_peer  # noqa: E402

COLUMNS = [
    "run", "reviews", "workers", "seconds", "reviews/s", "cpu s", "tokens", "vs fastai"
]  # fmt: skip

FASTAI_TOKENIZE = """
import json, os, resource, time
import pandas as pd
from fastai.text.all import tokenize_df
def cpu():
    r = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in r)
args = json.loads(os.environ["PEER_ARGS"])
df = pd.read_parquet(args["path"], columns=["text"])
if args["limit"]:
    df = df.iloc[: args["limit"]]
c0, t0 = cpu(), time.perf_counter()
out, counts = tokenize_df(df, text_cols="text", n_workers=args["n_workers"])
seconds, cpu_s = time.perf_counter() - t0, cpu() - c0
n_tokens = int(sum(len(t) for t in out["text"]))
print(json.dumps({"seconds": seconds, "cpu": cpu_s, "reviews": len(df), "tokens": n_tokens}))
"""


def imdb_parquet(data: str | None) -> Path:
    """The IMDB ``train.parquet``, found the way the library finds IMDB."""
    from tabtext.nlp.data import resolve_imdb

    found = resolve_imdb(data)
    if isinstance(found, str):
        raise SystemExit("no local IMDB folder: pass --data or set $TABTEXT_DATA")
    path = found / "train.parquet" if found.is_dir() else found
    if not path.is_file():
        raise SystemExit(f"{path}: not found; pass --data PATH/TO/imdb")
    return path


def load_reviews(path: Path, limit: int | None) -> list[str]:
    from tabtext.nlp.data import load_texts

    texts = load_texts(path, label_col=None).texts
    return texts[:limit] if limit else texts


def bench_tabtext_tokenize(texts: list[str], n_workers: int) -> list[dict]:
    """Cold (fresh cache dir) and cached numericalize_corpus runs."""
    from tabtext.nlp.data import numericalize_corpus

    rows = []
    with tempfile.TemporaryDirectory(prefix="tabtext-bench-") as cache:
        for run in ("tabtext cold (no cache)", "tabtext cached rerun"):
            c0 = cpu_seconds()
            with Timer() as t:
                corpus = numericalize_corpus(
                    texts, cache_dir=cache, n_workers=n_workers, progress=False
                )
            row = _row(run, len(texts), n_workers, t.seconds, len(corpus.ids))
            row["cpu s"] = cpu_seconds() - c0
            rows.append(row)
    return rows


def bench_fastai_tokenize(
    python: str, path: Path, limit: int | None, n_workers: int
) -> list[dict]:
    """fastai's ``tokenize_df`` on the same reviews, in the peer's interpreter."""
    args = {"path": str(path), "limit": limit, "n_workers": n_workers}
    res = run_peer(python, FASTAI_TOKENIZE, args)
    if res is None:
        return []
    row = _row(
        "fastai 2.8 tokenize_df (cold)",
        res["reviews"],
        n_workers,
        res["seconds"],
        res["tokens"],
    )
    row["cpu s"] = res["cpu"]
    return [row]


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the workers), in s.

    Less sensitive than wall time to other jobs sharing the machine.
    """
    usage = [
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    ]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def _row(run: str, n: int, workers: int, seconds: float, tokens: int) -> dict:
    return {
        "run": run,
        "reviews": n,
        "workers": workers,
        "seconds": seconds,
        "reviews/s": n / seconds,
        "tokens": tokens,
    }


def add_ratios(rows: list[dict]) -> None:
    """Speed relative to fastai's run, when there is one."""
    base = next((r for r in rows if r["run"].startswith("fastai")), None)
    for r in rows:
        if base is not None:
            r["vs fastai"] = f"{r['reviews/s'] / base['reviews/s']:.1f}x"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="IMDB folder or train.parquet (default: found)")
    p.add_argument("--limit", type=int, help="only the first N reviews")
    p.add_argument("--n-workers", type=int, default=2)
    p.add_argument("--fastai-python", help="interpreter of a fastai 2.8 venv")
    args = p.parse_args(argv)

    path = imdb_parquet(args.data)
    texts = load_reviews(path, args.limit)
    rows = bench_tabtext_tokenize(texts, args.n_workers)
    fastai = peer_python(args.fastai_python)
    if fastai:
        rows += bench_fastai_tokenize(fastai, path, args.limit, args.n_workers)
    add_ratios(rows)
    print(f"IMDB train reviews from {path}; load average {os.getloadavg()[0]:.1f}\n")
    print(markdown_table(rows, COLUMNS))


if __name__ == "__main__":
    main()
