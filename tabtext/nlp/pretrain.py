"""Pretrain an AWD-LSTM language model on a corpus: ``python -m tabtext.nlp.pretrain``.

The first stage of ULMFiT (Howard & Ruder 2018) with the AWD-LSTM of Merity et al.
(2017), at corpus scale (see :mod:`tabtext.nlp.training.pretraining`): the last ``--valid-pct``
of the documents held out, a run length fixed by ``--epochs``, ``--max-tokens`` or
``--budget-min`` that one 1cycle schedule spans, a checkpoint every ``--ckpt-min``
minutes, and ``--resume`` to continue a killed run exactly. Writes into ``--out``:
``model/`` (what ``finetune --pretrained`` reads), ``plan.json``, ``log_lm.csv``,
``lm_loss.png``, ``lm_lr.png`` and ``metrics.json``; ``--export DIR`` also writes an
fp16 copy of the model (the form tabtext ships).

Example (the LM shipped with tabtext; see its model card, ``pretrained/en_wiki_small/README.md``):
``python -m tabtext.nlp.pretrain --data ../shared/data/wikipedia --out runs/wiki
--budget-min 90``
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing

from .._cli import (
    HelpFormatter,
    add_output_flags,
    add_tracking_flag,
    folder_in_use,
    progress_setting,
    setup_logging,
)
from .cli import tracking
from .training.pretraining import PretrainConfig

HELP = {
    "model": "AWD-LSTM size: small (emb 200, hidden 400, 2 layers) or paper "
    "(400/1152/3)",
    "emb_sz": "embedding size (overrides --model)",
    "n_hid": "LSTM hidden size (overrides --model)",
    "n_layers": "LSTM layers (overrides --model)",
    "max_vocab": "vocabulary size cap",
    "min_freq": "minimum token count",
    "adaptive_softmax": "adaptive softmax output layer (much faster on CPU)",
    "bs": "batch size (rows of the stream)",
    "bptt": "base BPTT window",
    "lr": "max LR of the 1cycle schedule",
    "drop_mult": "multiplies all AWD-LSTM dropouts",
    "wd": "weight decay",
    "clip": "gradient-norm clipping",
    "seed": "random seed",
    "valid_pct": "share of documents held out (the last ones, in file order)",
    "max_docs": "use only the first N documents",
    "epochs": "passes over the corpus (default 1 when no other limit is given)",
    "max_tokens": "stop after this many training tokens",
    "budget_min": "minutes of training (timed on real steps before the run starts)",
    "ckpt_min": "validate, log and checkpoint about every N minutes",
    "valid_tokens": "tokens of held-out text validated after each segment (the "
    "whole held-out set is scored at the end)",
    "precision": "bf16 autocast or fp32; auto: bf16 on CUDA and on CPUs with "
    "AVX512-BF16 (there 1.39x the tokens of fp32 in the same time, lower perplexity)",
    "backwards": "train on reversed text",
    "init": "continue from this pretrained LM (a shipped name or a directory): its "
    "vocabulary, sizes and dropouts; a fresh 1cycle schedule from --lr",
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tabtext.nlp.pretrain",
        description=__doc__.split("\n\n")[0],
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "--data",
        required=True,
        help="corpus: parquet/CSV file, folder of parquet shards or .txt files, or "
        "hub dataset name",
    )
    p.add_argument("--text-col", default="text", help="text column of a table")
    p.add_argument("--out", required=True, help="output directory")
    hints = typing.get_type_hints(PretrainConfig)
    for f in dataclasses.fields(PretrainConfig):
        flag, hint = "--" + f.name.replace("_", "-"), hints[f.name]
        help_ = HELP[f.name]
        if f.name == "model":
            p.add_argument(
                "--model",
                "--preset",
                choices=("small", "paper"),
                default=f.default,
                help=help_,
            )
        elif f.name == "precision":
            p.add_argument(
                flag, choices=("auto", "bf16", "fp32"), default=f.default, help=help_
            )
        elif f.name == "init":
            p.add_argument(flag, default=None, metavar="NAME|DIR", help=help_)
        elif hint is bool:
            p.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=f.default,
                help=help_,
            )
        else:
            args = typing.get_args(hint)
            base = hint if hint in (int, float) else (int if int in args else float)
            p.add_argument(flag, type=base, default=f.default, help=help_)
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument(
        "--export",
        default=None,
        metavar="DIR",
        help="also write the model in fp16 to DIR (the shipped form)",
    )
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: auto)")
    p.add_argument("--cache-dir", default=None, help="tokenization cache directory")
    add_output_flags(p, "log progress details")
    add_tracking_flag(p)
    return p


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(PretrainConfig)}
    try:
        cfg = PretrainConfig(**values)
        from ..core.precision import use_bf16

        use_bf16(cfg.precision, args.device)  # bf16 on a CPU without it: refused
    except (TypeError, ValueError, RuntimeError) as e:
        parser.error(str(e))
    setup_logging(args.verbose, quiet=args.quiet)
    from .text.reading import load_texts
    from .training.pretraining import export_lm, pretrain

    texts = load_texts(args.data, args.text_col, label_col=None).texts
    params = {**dataclasses.asdict(cfg), "data": args.data}
    with folder_in_use(parser), tracking(args.log_to, args.out, params) as callbacks:
        metrics = pretrain(
            texts,
            cfg,
            args.out,
            resume=args.resume,
            device=args.device,
            cache_dir=args.cache_dir,
            on_segment=None if args.quiet else _print_segment,
            progress=progress_setting(args.quiet),
            callbacks=callbacks,
        )
    if args.export:
        export_lm(args.out, args.export, metrics)
    print(
        f"held-out perplexity {metrics['valid_perplexity']:.2f} on "
        f"{metrics['valid_tokens']:,} tokens; {metrics['tokens_seen']:,} tokens seen "
        f"in {metrics['train_s'] / 60:.1f} min -> {args.out}",
        flush=True,
    )
    return metrics


def _clock(s: float) -> str:
    m, s = divmod(int(s), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}"


def _print_segment(row: dict) -> None:
    print(
        f"segment {row['segment']}/{row['segments']}  tokens {row['tokens_seen'] / 1e6:.1f}M"
        f"  train loss {row['train_loss']:.4f}  valid loss {row['valid_loss']:.4f}"
        f"  valid ppl {row['valid_perplexity']:.2f}  {row['tokens_per_s']:,.0f} tok/s"
        f"  elapsed {_clock(row['elapsed_s'])}  left {_clock(row['remaining_s'])}",
        file=sys.stdout,
        flush=True,
    )


if __name__ == "__main__":
    main()
