"""Train an AWD-LSTM language model on a text corpus: ``python -m tabtext.nlp.pretrain``.

The first stage of ULMFiT (Howard & Ruder 2018) with the AWD-LSTM of Merity et al.
(2017): variable-length BPTT, one-cycle LRs, validation perplexity per epoch, resumable
(``--resume``). Writes into ``--out``: ``model/`` (weights as safetensors, vocabulary and
config as JSON — what ``finetune --pretrained`` reads), ``log_lm.csv``, ``lm_loss.png``,
``lm_lr.png`` and ``metrics.json``.

Example: ``python -m tabtext.nlp.pretrain --data ../shared/data/imdb/train.parquet
--out runs/lm --preset small --epochs 1``
"""

from __future__ import annotations

import argparse
import sys

from .cli import setup_logging
from .recipe import make_config


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tabtext.nlp.pretrain",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--data",
        required=True,
        help="corpus: parquet/CSV file, folder of .txt files (aclImdb layout) "
        "or hub dataset name",
    )
    p.add_argument("--text-col", default="text", help="text column of a table")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument(
        "--preset",
        choices=("small", "paper"),
        default="small",
        help="model size: small (emb 200, hidden 400, 2 layers) or paper "
        "(emb 400, hidden 1152, 3 layers)",
    )
    p.add_argument("--epochs", type=int, default=1, help="training epochs")
    p.add_argument("--lr", type=float, default=1e-2, help="max LR (one-cycle)")
    p.add_argument("--bs", type=int, default=64, help="batch size (rows of the stream)")
    p.add_argument("--bptt", type=int, default=70, help="base BPTT window")
    p.add_argument("--max-vocab", type=int, default=60000, help="vocabulary size cap")
    p.add_argument("--min-freq", type=int, default=3, help="minimum token count")
    p.add_argument(
        "--adaptive-softmax",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="adaptive softmax output layer (faster on CPU)",
    )
    p.add_argument(
        "--max-docs",
        type=int,
        default=None,
        help="use only this many documents (seeded sample)",
    )
    p.add_argument(
        "--valid-pct", type=float, default=0.1, help="held-out share of docs"
    )
    p.add_argument(
        "--drop-mult", type=float, default=1.0, help="multiplies all dropouts"
    )
    p.add_argument("--wd", type=float, default=0.1, help="weight decay")
    p.add_argument("--clip", type=float, default=0.25, help="gradient-norm clipping")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--backwards", action="store_true", help="train on reversed text")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: auto)")
    p.add_argument("--cache-dir", default=None, help="tokenization cache directory")
    p.add_argument("--verbose", action="store_true", help="log progress details")
    return p


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cfg = make_config(
            "paper" if args.preset == "paper" else "cpu",
            model=args.preset,
            lm_epochs=args.epochs,
            lm_lr=args.lr,
            lm_bs=args.bs,
            bptt=args.bptt,
            max_vocab=args.max_vocab,
            min_freq=args.min_freq,
            adaptive_softmax=args.adaptive_softmax,
            lm_docs=args.max_docs or "all",
            valid_pct=args.valid_pct,
            lm_drop_mult=args.drop_mult,
            wd=args.wd,
            clip=args.clip,
            seed=args.seed,
            backwards=args.backwards,
        )
    except ValueError as e:
        parser.error(str(e))
    if args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    setup_logging(args.verbose)
    from .data import load_texts
    from .pipeline import pretrain_lm

    texts = load_texts(args.data, args.text_col, label_col=None).texts
    metrics = pretrain_lm(
        texts,
        cfg,
        args.out,
        resume=args.resume,
        device=args.device,
        cache_dir=args.cache_dir,
        on_epoch=_print_epoch,
    )
    print(
        f"{metrics['tokens_per_s']:.0f} tokens/s, {metrics['wall_s']:.0f}s -> {args.out}"
    )
    return metrics


def _print_epoch(row: dict) -> None:
    print(
        f"epoch {row['epoch'] + 1}: train loss {row['train_loss']:.4f}  valid loss "
        f"{row['valid_loss']:.4f}  valid perplexity {row['valid_perplexity']:.2f}  "
        f"({row['time']:.0f}s)",
        file=sys.stdout,
        flush=True,
    )


if __name__ == "__main__":
    main()
