"""ULMFiT on a labeled text file, end to end: ``python -m tabtext.nlp.finetune``.

Stages: (1) a language model — from ``--pretrained`` or trained on the target texts —
(2) LM fine-tuning with discriminative LRs and slanted triangular LRs, (3) a classifier
with concat pooling, BPT3C and gradual unfreezing (Howard & Ruder 2018). Every stage is
resumable with ``--resume``. Without ``--data`` the IMDB training split is found in
``$TABTEXT_DATA/imdb``, ``data/imdb`` or ``../shared/data/imdb``, else downloaded from
the Hugging Face hub.

Example: ``python -m tabtext.nlp.finetune --preset quick --out runs/imdb-quick``
"""

from __future__ import annotations

import os

# before torch loads OpenMP: its waiting threads sleep (tabtext._cli.PASSIVE_WAIT)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .._cli import HelpFormatter, add_output_flags, progress_setting, setup_logging
from .cli import add_config_flags, config_from_args
from .loading import load_texts, resolve_imdb


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tabtext.nlp.finetune",
        description=__doc__.split("\n\n")[0],
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "--data",
        default=None,
        help="labeled training data: parquet/CSV file, aclImdb-style folder or "
        "hub dataset name (default: IMDB, see above)",
    )
    p.add_argument(
        "--valid",
        default=None,
        help="labeled validation file (default: a stratified share of --data)",
    )
    p.add_argument("--text-col", default="text", help="text column of --data/--valid")
    p.add_argument(
        "--label-col", default="label", help="label column of --data/--valid"
    )
    p.add_argument(
        "--out", default=None, help="output directory (default runs/<preset>)"
    )
    p.add_argument(
        "--pretrained",
        default="auto",
        metavar="NAME|DIR",
        help="the LM to start from: a shipped one by name, or a directory written by "
        "tabtext.nlp.pretrain; 'auto' is the shipped English LM (en_wiki_small)",
    )
    p.add_argument(
        "--no-pretrained",
        dest="pretrained",
        action="store_const",
        const="none",
        help="train the LM on the target texts alone",
    )
    p.add_argument(
        "--unlabeled",
        default=None,
        metavar="FILE",
        help="unlabeled texts (parquet/CSV/folder, column --text-col) for the LM "
        "stages only, e.g. imdb/unsup.parquet",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run in --out from its last checkpoint",
    )
    p.add_argument(
        "--ensemble",
        action="store_true",
        help="train forward and backward models and average their probabilities",
    )
    p.add_argument(
        "--device", default=None, help="cpu, cuda, cuda:1 ... (default: auto)"
    )
    p.add_argument(
        "--cache-dir",
        default=None,
        help="tokenization cache (default $TABTEXT_CACHE or ~/.cache/tabtext)",
    )
    add_output_flags(p, "also log each phase's full results")
    add_config_flags(p)
    return p


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    cfg = config_from_args(parser, args)
    from .persistence import fit_to_pretrained
    from .pretrained import resolve_pretrained
    from .stages import use_bf16

    try:
        pretrained = resolve_pretrained(args.pretrained)
        cfg = fit_to_pretrained(cfg, pretrained)
        use_bf16(cfg.precision, args.device)  # bf16 on a CPU without it: refused
    except (ValueError, OSError, RuntimeError) as e:
        parser.error(str(e))
    if args.unlabeled is not None and not Path(args.unlabeled).exists():
        parser.error(f"--unlabeled {args.unlabeled}: no such file or folder")
    if args.ensemble and cfg.backwards:
        parser.error("--ensemble trains both directions; drop --backwards")
    from ..core import distributed

    main_rank = distributed.is_main()  # under torchrun rank 0 alone logs
    setup_logging(args.verbose, quiet=args.quiet or not main_rank)
    from .finetuning import (
        run_ulmfit,  # heavy imports only after the arguments are valid
    )

    data = resolve_imdb(args.data) if args.data is None else args.data
    train = load_texts(data, args.text_col, args.label_col)
    valid = (
        load_texts(args.valid, args.text_col, args.label_col) if args.valid else None
    )
    unlabeled = None
    if args.unlabeled is not None:
        unlabeled = load_texts(args.unlabeled, args.text_col, label_col=None).texts
    out = Path(args.out or f"runs/{cfg.preset}")
    common = dict(
        pretrained=pretrained,
        unlabeled=unlabeled,
        resume=args.resume,
        device=args.device,
        cache_dir=args.cache_dir,
        progress=progress_setting(args.quiet),
    )
    if not args.ensemble:
        metrics = run_ulmfit(train, valid, cfg, out, **common)
    else:
        import dataclasses

        fwd = run_ulmfit(train, valid, cfg, out / "fwd", **common)
        bwd = run_ulmfit(
            train,
            valid,
            dataclasses.replace(cfg, backwards=True),
            out / "bwd",
            **common,
        )
        metrics = _ensemble(out, fwd, bwd)
    if distributed.is_main():
        _report(metrics, out)
    return metrics


def _ensemble(out: Path, fwd: dict, bwd: dict) -> dict:
    from ..core import distributed
    from ..core.io import atomic_write_text
    from .finetuning import ensemble_accuracy

    distributed.barrier()  # rank 0 has written both runs' validation probabilities
    acc = ensemble_accuracy(out / "fwd", out / "bwd")
    metrics = {
        "valid_accuracy": acc,
        "forward": fwd,
        "backward": bwd,
        "wall_s": fwd["wall_s"] + bwd["wall_s"],
    }
    if distributed.is_main():
        atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=1))
    return metrics


def _report(metrics: dict, out: Path) -> None:
    lines = [
        f"validation accuracy {metrics['valid_accuracy']:.4f}  "
        f"wall time {metrics['wall_s']:.0f}s  -> {out}"
    ]
    for name, res in metrics.get("phases", {}).items():
        extra = ", ".join(
            f"{k} {v:.4g}"
            for k, v in res.items()
            if k
            in ("valid_loss", "accuracy", "valid_perplexity", "tokens_per_s", "wall_s")
            and v is not None
            and np.isfinite(v)
        )
        lines.append(f"  {name}: {extra}")
    print("\n".join(lines), file=sys.stdout)


if __name__ == "__main__":
    main()
