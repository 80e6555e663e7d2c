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

import argparse
import sys
from pathlib import Path

import numpy as np

from .._cli import (
    HelpFormatter,
    add_output_flags,
    add_tracking_flag,
    folder_in_use,
    progress_setting,
    setup_logging,
)
from .cli import add_config_flags, config_from_args, tracking
from .text.labels import REGRESSION_LOSSES, TASKS, check_task_options
from .text.reading import load_texts, resolve_imdb


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
        "--weight-col",
        default=None,
        help="column of row weights in --data/--valid (parquet or CSV; numbers >= 0): "
        "a row of weight k counts as k copies of it in the classifier's loss and "
        "validation scores; the LM stages ignore weights",
    )
    p.add_argument(
        "--task",
        choices=("auto", *TASKS),
        default="auto",
        help="classification: one label per row, any number of classes; multilabel: "
        "a list or a --label-sep separated string of labels per row (sigmoid "
        "outputs, threshold 0.5); regression: a number per row. auto: multilabel "
        "for list values, else classification; numbers with decimals and strings "
        "holding --label-sep are refused (say which task)",
    )
    p.add_argument(
        "--label-sep",
        default=None,
        help="separator of several labels in one string, --task multilabel "
        "(default '|')",
    )
    p.add_argument(
        "--class-weight",
        choices=("balanced",),
        default=None,
        help="weight the cross-entropy by inverse class frequency in the training "
        "labels (classification only)",
    )
    p.add_argument(
        "--regression-loss",
        choices=REGRESSION_LOSSES,
        default=None,
        help="loss on the standardised target, --task regression (default mse)",
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
    add_tracking_flag(p)
    add_config_flags(p)
    return p


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    cfg = config_from_args(parser, args)
    from ..core.precision import use_bf16
    from .pretrained import resolve_pretrained
    from .training.config import fit_to_pretrained

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
    _check_task_flags(parser, args)
    from ..core import distributed

    main_rank = distributed.is_main()  # under torchrun rank 0 alone logs
    setup_logging(args.verbose, quiet=args.quiet or not main_rank)
    from .training.ulmfit import (  # heavy imports only after the arguments are valid
        ensemble_metrics,
        plan_ulmfit,
    )

    train, valid, unlabeled = _load_data(parser, args)
    try:  # the split and the task's statistics: cheap, and bad labels fail here
        plan = plan_ulmfit(
            train, valid, cfg, pretrained, unlabeled,
            class_weight=args.class_weight,
            regression_loss=args.regression_loss,
            label_sep=args.label_sep or "|",
        )  # fmt: skip
    except ValueError as e:
        parser.error(str(e))
    out = Path(args.out or f"runs/{cfg.preset}")
    common = dict(
        resume=args.resume,
        device=args.device,
        cache_dir=args.cache_dir,
        progress=progress_setting(args.quiet),
    )
    with folder_in_use(parser):
        if not args.ensemble:
            metrics = _train(plan, out, args, common)
        else:
            fwd = _train(plan, out / "fwd", args, common)
            bwd = _train(plan.backward(), out / "bwd", args, common)
            metrics = ensemble_metrics(out, fwd, bwd)
    if distributed.is_main():
        _report(metrics, out)
    return metrics


def _train(plan, out: Path, args, common: dict) -> dict:
    """One run of ``plan`` into ``out``, logged to ``--log-to``'s tracker."""
    from .training.ulmfit import train_ulmfit

    params = {
        **plan.cfg.to_dict(),
        "task": plan.task.kind,
        "pretrained": str(plan.pretrained),
        "data": args.data,
        "valid": args.valid,
    }
    with tracking(args.log_to, out, params) as callbacks:
        return train_ulmfit(plan, out, **common, callbacks=callbacks)


def _check_task_flags(parser: argparse.ArgumentParser, args) -> None:
    """Task flags that do not fit together: a usage error before any work."""
    try:
        check_task_options(args.task, args.class_weight, args.regression_loss)
    except ValueError as e:
        parser.error(str(e))
    if args.label_sep is not None and args.task not in ("auto", "multilabel"):
        parser.error(
            f"--label-sep splits multi-label strings; not for --task {args.task}"
        )
    if args.label_sep == "":
        parser.error("--label-sep must not be empty")


def _load_data(parser: argparse.ArgumentParser, args):
    """Training, validation and unlabeled data; a bad file or label column is a
    usage error naming it (no traceback), as is a flag that the resolved task
    ("auto") does not take."""
    data = resolve_imdb(args.data) if args.data is None else args.data
    sep = args.label_sep or "|"
    try:
        train = load_texts(data, args.text_col, args.label_col, task=args.task,
                           label_sep=sep, weight_col=args.weight_col)  # fmt: skip
        valid = None
        if args.valid:
            valid = load_texts(args.valid, args.text_col, args.label_col,
                               task=train.task, label_sep=sep,
                               weight_col=args.weight_col)  # fmt: skip
        check_task_options(train.task, args.class_weight, args.regression_loss)
        unlabeled = None
        if args.unlabeled is not None:
            unlabeled = load_texts(args.unlabeled, args.text_col, label_col=None).texts
    except (ValueError, TypeError) as e:
        parser.error(str(e))
    return train, valid, unlabeled


REPORTED = ("valid_loss", "valid_perplexity", "tokens_per_s", "wall_s")
REPORTED += ("accuracy", "micro_f1", "subset_accuracy", "mae", "rmse")


def _report(metrics: dict, out: Path) -> None:
    scores = "  ".join(
        f"validation {k[len('valid_') :].replace('_', ' ')} {v:.4f}"
        for k, v in metrics.items()
        if k.startswith("valid_") and isinstance(v, float)
    )
    lines = [f"{scores}  wall time {metrics['wall_s']:.0f}s  -> {out}"]
    for key, best in metrics.get("best_epoch", {}).items():
        lines.append(
            f"  {key}: the weights of epoch {best['epoch'] + 1} (best "
            f"{best['monitor']} {best['value']:.4g})"
        )
    for name, res in metrics.get("phases", {}).items():
        extra = ", ".join(
            f"{k} {v:.4g}"
            for k, v in res.items()
            if k in REPORTED and v is not None and np.isfinite(v)
        )
        lines.append(f"  {name}: {extra}")
    print("\n".join(lines), file=sys.stdout)


if __name__ == "__main__":
    main()
