"""The text pipeline on the 25k IMDB training reviews: tabtext against fastai.

Parts (``--only``; all by default), each printing a markdown table; fastai's rows run
in its own interpreter when ``--fastai-python`` is given, else they are skipped:

- ``tokenize``: ULMFiT rules + spaCy's rule-based English tokenizer, reviews per
  second: tabtext cold (fresh cache dir: tokenize + build vocab + numericalize + write
  the cache, spaCy import included), tabtext's cached rerun, and fastai's
  ``tokenize_df`` (what ``Tokenizer.from_df`` runs) with the same number of workers.
- ``throughput``: fp32 matmul peak (2048x2048 sgemm, best of 7, the run's threads),
  then LM training tokens/s at batch 64, bptt 70 and a 10,440-token vocabulary (the
  size of fastai's small-config figure in issue #4; built from the IMDB training texts
  with ``max_vocab=10440``; ``--lm-vocab 30000 --text-data wikipedia/train-00.parquet``
  is ``en_wiki_small``'s pretraining configuration): tabtext's ``small`` preset and the
  paper's sizes with a tied full softmax, ``small`` with the recipe's adaptive softmax,
  the small ones in fp32 and in bf16 autocast, and fastai's small config (fp32) on the
  same token ids. Real training steps through tabtext's ``lm_learner``
  (fastai: an ``LMLearner`` as ``language_model_learner`` builds), warm-up batches
  excluded. Fraction of peak = tokens/s x 6 x N / peak, N as ``matmul_params`` says.
- ``budget``: validation perplexity after the same budget of training time on the IMDB
  training texts: tabtext's ``--budget-preset`` recipe (adaptive softmax, vocabulary
  from ``PRESETS``) against fastai's small config with a full softmax and the same
  vocabulary size, both with a 1cycle schedule that ends with the budget and the
  recipe's LR, weight decay, dropout multiplier, clipping and momentums. Validation:
  the seeded 10% ``stratified_split`` of the training texts, the same texts for both.

    python benchmarks/text_pipeline.py [--fastai-python /tmp/fastai-venv/bin/python]
"""

from __future__ import annotations

import argparse
import math
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
    from tabtext.nlp.text.reading import resolve_imdb

    found = resolve_imdb(data)
    if isinstance(found, str):
        raise SystemExit("no local IMDB folder: pass --data or set $TABTEXT_DATA")
    path = found / "train.parquet" if found.is_dir() else found
    if not path.is_file():
        raise SystemExit(f"{path}: not found; pass --data PATH/TO/imdb")
    return path


def load_reviews(path: Path, limit: int | None) -> list[str]:
    from tabtext.nlp.text.reading import load_texts

    texts = load_texts(path, label_col=None).texts
    return texts[:limit] if limit else texts


def bench_tabtext_tokenize(texts: list[str], n_workers: int) -> list[dict]:
    """Cold (fresh cache dir) and cached numericalize_corpus runs."""
    from tabtext.nlp.text.corpus import numericalize_corpus

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


LM_VOCAB = 10_440  # the vocabulary of fastai's small-config figure in issue #4
TP_COLUMNS = [
    "run", "vocab", "params", "N (6N FLOP/token)", "batches", "tokens/s",
    "GFLOP/s", "% of fp32 peak", "vs fastai",
]  # fmt: skip
BUDGET_COLUMNS = [
    "run", "vocab", "train s", "train tokens", "tokens/s", "vs fastai full softmax",
    "vs fastai (this run)",
    "valid ppl per token", "valid ppl per word", "bits per char", "xxunk %",
]  # fmt: skip


def lm_texts(path: Path, limit: int | None, preset_name: str):
    """Training and validation texts: the recipe's seeded stratified split."""
    from tabtext.nlp.text.reading import load_texts
    from tabtext.nlp.text.splits import stratified_split
    from tabtext.nlp.training.config import make_config

    ds = load_texts(path)
    texts, labels = ds.texts, ds.labels
    if limit:
        texts, labels = texts[:limit], labels[:limit]
    cfg = make_config(preset_name)
    tr, va = stratified_split(labels, cfg.valid_pct, cfg.seed)
    return [texts[i] for i in tr], [texts[i] for i in va]


def bench_lm_throughput(train_texts, args, fastai: str | None) -> tuple[list, float]:
    """Peak, then tokens/s of each setup (and fastai's); returns rows and the peak."""
    import numpy as np
    import torch
    from _text_lm import SETUPS, matmul_peak, tabtext_throughput
    from _text_lm_fastai import fastai_throughput

    from tabtext.nlp.text.corpus import numericalize_corpus

    peak = matmul_peak()
    print(
        f"fp32 matmul peak (2048x2048 sgemm, best of 7, {torch.get_num_threads()} "
        f"threads): {peak:.1f} GFLOP/s\n"
    )
    lm_vocab = args.lm_vocab
    corpus = numericalize_corpus(
        train_texts, max_vocab=lm_vocab, n_workers=args.n_workers, progress=False
    )
    train = corpus
    valid = corpus.select(np.arange(min(50, len(corpus))))
    vocab_note = f"{lm_vocab:,} (built: {len(corpus.vocab):,})"
    rows = []
    for setup in SETUPS:
        n = args.big_batches if setup.big else args.batches
        res = tabtext_throughput(
            setup, train, valid, lm_vocab, 64, 70, args.warmup, n, args.budget_preset
        )
        rows.append({"run": f"tabtext {setup.label}", "vocab": vocab_note, **res})
    if fastai:
        common = {
            "threads": args.threads, "bs": 64, "bptt": 70,
            "warmup": args.warmup, "n_timed": args.batches,
        }  # fmt: skip
        res = fastai_throughput(fastai, corpus.ids, corpus.offsets, lm_vocab, common)
        if res is not None:
            res["N"] = float(res["params"])  # tied full softmax: every parameter
            rows.append({"run": "fastai 2.8 small config, full softmax", **res})
            rows[-1]["vocab"] = vocab_note
    for r in rows:
        r["GFLOP/s"] = r["tokens/s"] * 6 * r["N"] / 1e9
        r["% of fp32 peak"] = f"{100 * r['GFLOP/s'] / peak:.0f}%"
        r["N (6N FLOP/token)"] = f"{r['N'] / 1e6:.2f}M"
        r["params"] = f"{r['params'] / 1e6:.2f}M"
    _ratios(rows, "tokens/s")
    return rows, peak


def bench_lm_budget(train_texts, valid_texts, args, fastai, fastai_tp) -> list[dict]:
    """Validation perplexity after ``--budget-min`` minutes of training each."""
    from _text_lm import LM_MOMS, tabtext_budget
    from _text_lm_fastai import fastai_budget

    from tabtext.nlp.text.corpus import numericalize_corpus
    from tabtext.nlp.training.config import make_config

    cfg = make_config(args.budget_preset)
    budget_s = args.budget_min * 60
    corpus = numericalize_corpus(
        train_texts,
        min_freq=cfg.min_freq,
        max_vocab=cfg.max_vocab,
        n_workers=args.n_workers,
        progress=False,
    )
    valid = numericalize_corpus(valid_texts, vocab=corpus.vocab, progress=False)
    res = tabtext_budget(
        corpus,
        valid,
        len(corpus.vocab),
        args.budget_preset,
        budget_s,
    )
    res["valid tokens"] = len(valid.ids)
    res["unk"] = int((valid.ids == corpus.vocab.unk_id).sum())
    res["vocab"] = len(corpus.vocab)
    head = f"adaptive softmax {res['cutoffs']}" if res["cutoffs"] else "full softmax"
    name = f"tabtext {args.budget_preset} preset LM ({res['config'].model}, {head})"
    rows = [dict(res, run=name)]
    if fastai:
        common = {
            "threads": args.threads, "bs": cfg.lm_bs, "bptt": cfg.bptt,
            "n_workers": args.n_workers, "min_freq": cfg.min_freq,
            "max_vocab": cfg.max_vocab, "budget_s": budget_s,
            "drop_mult": cfg.lm_drop_mult, "clip": cfg.clip, "lr": cfg.lm_lr,
            "moms": list(LM_MOMS), "wd": cfg.wd,
        }  # fmt: skip
        peer = fastai_budget(fastai, train_texts, valid_texts, common)
        if peer is not None:
            rows.append(dict(peer, run="fastai 2.8 small config, full softmax"))
    n_words = sum(len(t.split()) for t in valid_texts)
    n_chars = sum(len(t) for t in valid_texts)
    for r in rows:
        per_token = r["nll"] / r["targets"]
        total = per_token * r["valid tokens"]  # the mean extended to every token
        r["valid ppl per token"] = math.exp(per_token)
        r["valid ppl per word"] = math.exp(total / n_words)
        r["bits per char"] = total / n_chars / math.log(2)
        r["xxunk %"] = f"{100 * r['unk'] / r['valid tokens']:.2f}"
        if len(rows) == 2:
            r["vs fastai (this run)"] = f"{r['tokens/s'] / rows[1]['tokens/s']:.2f}x"
        if fastai_tp:
            r["vs fastai full softmax"] = f"{r['tokens/s'] / fastai_tp:.2f}x"
    return rows


def _ratios(rows: list[dict], key: str) -> None:
    base = next((r for r in rows if r["run"].startswith("fastai")), None)
    for r in rows:
        if base is not None:
            r["vs fastai"] = f"{r[key] / base[key]:.2f}x"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="IMDB folder or train.parquet (default: found)")
    p.add_argument("--limit", type=int, help="only the first N reviews")
    p.add_argument("--n-workers", type=int, default=2)
    p.add_argument("--fastai-python", help="interpreter of a fastai 2.8 venv")
    p.add_argument(
        "--only",
        nargs="+",
        choices=("tokenize", "throughput", "budget"),
        default=["tokenize", "throughput", "budget"],
        help="parts to run",
    )
    p.add_argument("--threads", type=int, default=2, help="torch threads, every peer")
    p.add_argument(
        "--lm-vocab",
        type=int,
        default=LM_VOCAB,
        help="vocabulary of the throughput part (30000: en_wiki_small's)",
    )
    p.add_argument(
        "--text-data",
        help="texts of the throughput part instead of IMDB's (a parquet file or "
        "folder, e.g. ../shared/data/wikipedia/train-00.parquet)",
    )
    p.add_argument("--warmup", type=int, default=5, help="untimed LM batches")
    p.add_argument("--batches", type=int, default=50, help="timed LM batches")
    p.add_argument(
        "--big-batches", type=int, default=10, help="timed batches, paper sizes"
    )
    p.add_argument("--budget-min", type=float, default=20.0, help="training minutes")
    p.add_argument(
        "--budget-preset",
        choices=("quick", "cpu"),
        default="quick",
        help="tabtext recipe preset of the budget run (vocabulary, output layer, LR)",
    )
    p.add_argument(
        "--smoke",
        action="store_true",
        help="a check that it runs, not a measurement: 400 reviews, 2+5 batches "
        "(paper sizes 1+2), 0.5 min budgets",
    )
    args = p.parse_args(argv)
    if args.smoke:
        args.limit = args.limit or 400
        args.warmup, args.batches, args.big_batches = 2, 5, 2
        args.budget_min = min(args.budget_min, 0.5)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    path = imdb_parquet(args.data)
    fastai = peer_python(args.fastai_python)
    print(f"IMDB train reviews from {path}; load average {os.getloadavg()[0]:.1f}")
    if args.smoke:
        print("SMOKE RUN: a check that the code runs; its figures are no measurement")
    if "tokenize" in args.only:
        texts = load_reviews(path, args.limit)
        rows = bench_tabtext_tokenize(texts, args.n_workers)
        if fastai:
            rows += bench_fastai_tokenize(fastai, path, args.limit, args.n_workers)
        add_ratios(rows)
        print("\n" + markdown_table(rows, COLUMNS) + "\n", flush=True)
    if not {"throughput", "budget"} & set(args.only):
        return
    train_texts, valid_texts = lm_texts(path, args.limit, args.budget_preset)
    fastai_tp = None
    if "throughput" in args.only:
        tp_texts = train_texts
        if args.text_data:  # e.g. Wikipedia: the pretraining configuration
            tp_texts = load_reviews(Path(args.text_data), args.limit)
            print(f"throughput texts: {len(tp_texts):,} from {args.text_data}")
        rows, _ = bench_lm_throughput(tp_texts, args, fastai)
        fastai_tp = next((r["tokens/s"] for r in rows if "fastai" in r["run"]), None)
        print(
            f"LM training, batch 64, bptt 70, {args.threads} threads; {THROUGHPUT_NOTE}"
        )
        print("\n" + markdown_table(rows, TP_COLUMNS) + "\n", flush=True)
    if "budget" in args.only:
        rows = bench_lm_budget(train_texts, valid_texts, args, fastai, fastai_tp)
        note = BUDGET_NOTE.format(n_train=len(train_texts), n_valid=len(valid_texts))
        print(
            f"{args.budget_min:g} min of training each, {args.threads} threads; {note}"
        )
        print("\n" + markdown_table(rows, BUDGET_COLUMNS), flush=True)


THROUGHPUT_NOTE = (
    "tokens/s over the timed batches after the warm-up (training time only; "
    "tabtext's windows are variable-length around 70, fastai's fixed 70). "
    "N = parameters in a matrix product per token: LSTMs + decoder (tied: the "
    "embedding counted once, as the decoder); with an adaptive softmax the head plus "
    "each tail cluster weighted by the share of target tokens in it."
)
BUDGET_NOTE = (
    "{n_train:,} training / {n_valid:,} validation IMDB texts (seeded 10% stratified "
    "split). Each side has its own tokenizer and a vocabulary of the same size built "
    "on the training texts, so per-token perplexities are close to comparable but not "
    "strictly; per word (whitespace-split words of the raw validation texts) and bits "
    "per character divide the same total NLL by counts both share. Out-of-vocabulary "
    "tokens are predicted as xxunk on both sides (xxunk %: their share). tokens/s: "
    "training tokens / training time of the budget run; 'vs fastai full softmax': "
    "against fastai's throughput row (vocab 10,440) when that part ran; 'this run': "
    "against fastai's budget run (its vocabulary padded to a multiple of 8 with "
    "xxfake, as fastai does)."
)


if __name__ == "__main__":
    main()
