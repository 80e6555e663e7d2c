"""Shared argparse plumbing of the text CLIs: one ``--flag`` per ULMFiTConfig field
(the logging and output flags all CLIs share are in :mod:`tabtext._cli`)."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .training.config import (
    MONITORS,
    PRESET_NAMES,
    PRESETS,
    ULMFiTConfig,
    make_config,
)

HELP = {
    "model": "AWD-LSTM size preset: small (emb 200, hidden 400, 2 layers) or paper "
    "(400/1152/3)",
    "emb_sz": "embedding size (overrides --model)",
    "n_hid": "LSTM hidden size (overrides --model)",
    "n_layers": "number of LSTM layers (overrides --model)",
    "max_vocab": "keep at most this many tokens in the vocabulary",
    "min_freq": "drop tokens seen fewer times than this",
    "adaptive_softmax": "adaptive softmax output layer for the LM (faster on CPU)",
    "lm_docs": "texts used for the language-model stages ('all' for every one)",
    "clas_docs": "labeled texts used by the classifier ('all' for every one)",
    "max_labels": "the classifier sees only N labeled reviews, balanced and seeded "
    "(semi-supervised setting; the LM stages still use all texts)",
    "valid_pct": "share of the training file held out for validation (stratified)",
    "bptt": "back-propagation-through-time window (tokens)",
    "lm_bs": "language-model batch size",
    "lm_epochs": "epochs of LM training on the target texts (when not --pretrained)",
    "lm_lr": "max LR of LM training",
    "lm_ft_epochs": "epochs of LM fine-tuning (discriminative LRs, STLR)",
    "lm_ft_lr": "max LR of LM fine-tuning (last layer group)",
    "lm_drop_mult": "multiplier of all LM dropouts",
    "clas_bs": "classifier batch size",
    "clas_lr": "classifier LR of the first gradual-unfreezing step (halved per step)",
    "clas_epochs": "epochs with all groups unfrozen at the end",
    "clas_final_lr": "LR of the last group in those epochs (default clas_lr / 20)",
    "clas_drop_mult": "multiplier of all classifier dropouts",
    "max_len": "BPT3C: back-propagate through the last N tokens of each document",
    "max_tokens": "read at most N tokens of each document ('all' for whole documents)",
    "unfreeze": "gradual unfreezing steps: train the last K groups for one epoch each, "
    "e.g. 1 2 3; no value: the whole model from the start",
    "lr_decay": "discriminative LRs: each group's LR = the next group's / this",
    "wd": "weight decay",
    "clip": "gradient-norm clipping",
    "seed": "random seed (splits, subsets, initialisation, dropout, shuffling)",
    "clas_min_steps": "each classifier phase takes at least N steps (small labeled "
    "sets are passed over several times per epoch)",
    "clas_lr_full_at": "a classifier learning from fewer texts than this scales its "
    "LRs by texts / N (100 IMDB labels: 65.4%% at the full LR, 75.0%% at 1/5); "
    "0: never",
    "self_train": "self-training: add the N texts per class the classifier is surest "
    "of among unlabeled ones, with that class, and train it again (0: off)",
    "self_train_pool": "how many texts without labels (training texts outside "
    "--max-labels, --unlabeled texts) the classifier scores for --self-train",
    "self_train_rounds": "--self-train rounds: each round's classifier picks the "
    "next round's pseudo-labels",
    "precision": "bf16 or fp16 autocast (fp16 with loss scaling) or fp32 for "
    "training; auto: bf16 on GPUs from compute capability 8.0 and on CPUs with "
    "AVX512-BF16, fp16 on older GPUs (T4, V100)",
    "backwards": "train on reversed text",
    "monitor": "the validation score that picks the classifier's best epoch over all "
    "its phases, whose weights the run keeps: last (the last epoch, as in the "
    "paper), loss, or a metric of the task (accuracy, f1, roc_auc; micro_f1, "
    "subset_accuracy; mae, rmse)",
}


def _optional_int(value: str) -> int | str:
    if value == "all":
        return "all"
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer or 'all', got {value!r}"
        ) from None


def _preset_values(f: dataclasses.Field) -> str:
    vals = [PRESETS[p].get(f.name, f.default) for p in PRESET_NAMES]
    if len({str(v) for v in vals}) == 1:
        return f" (default {_show(vals[0])})"
    return (
        " (" + ", ".join(f"{p}: {_show(v)}" for p, v in zip(PRESET_NAMES, vals)) + ")"
    )


def _show(v) -> str:
    if v is None:
        return "all"
    if isinstance(v, tuple):
        return " ".join(map(str, v))
    return str(v)


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """``--preset`` plus one flag per :class:`ULMFiTConfig` field (default: preset's)."""
    parser.add_argument(
        "--preset",
        choices=PRESET_NAMES,
        default="quick",
        help="hyper-parameter preset; every flag below overrides it. "
        + "; ".join(f"{k}: {v}" for k, v in PRESETS.items()),
    )
    hints = typing.get_type_hints(ULMFiTConfig)
    for f in dataclasses.fields(ULMFiTConfig):
        if f.name == "preset":
            continue
        flag = "--" + f.name.replace("_", "-")
        hint, help_ = hints[f.name], HELP.get(f.name, f.name) + _preset_values(f)
        if hint is bool:
            parser.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=help_,
            )
        elif f.name == "monitor":
            parser.add_argument(
                flag, choices=MONITORS, default=argparse.SUPPRESS, help=help_
            )
        elif f.name == "unfreeze":
            parser.add_argument(
                flag, type=int, nargs="*", default=argparse.SUPPRESS, help=help_
            )
        elif float in typing.get_args(hint):
            parser.add_argument(flag, type=float, default=argparse.SUPPRESS, help=help_)
        elif int in typing.get_args(hint):  # optional counts: a number or 'all'
            parser.add_argument(
                flag, type=_optional_int, default=argparse.SUPPRESS, help=help_
            )
        else:
            base = int if hint is int else float if hint is float else str
            parser.add_argument(flag, type=base, default=argparse.SUPPRESS, help=help_)


def config_from_args(
    parser: argparse.ArgumentParser, args: argparse.Namespace, **extra
) -> ULMFiTConfig:
    """Build the config, turning a bad value into a clear usage error before any work."""
    values = {
        f.name: getattr(args, f.name, None)
        for f in dataclasses.fields(ULMFiTConfig)
        if f.name != "preset"
    }
    if values.get("unfreeze") is not None:
        values["unfreeze"] = tuple(values["unfreeze"])
    values.update(extra)
    try:
        return make_config(args.preset, **values)
    except (TypeError, ValueError) as e:
        parser.error(str(e))
        raise  # unreachable: parser.error exits


@contextmanager
def tracking(
    log_to: str | None, out: str | Path, params: Mapping[str, Any]
) -> Iterator[list]:
    """The callbacks of a run's ``--log-to`` tracker (none without one), logging
    ``params`` and writing beside ``out``; the run ends with the saved model folder
    ``out/model`` (MLflow's artifact), or marked failed if the block raises."""
    if log_to is None:
        yield []
        return
    from ..core.tracking import tracker_for

    tracker = tracker_for(log_to, out, params=params)
    try:
        yield [tracker]
    except BaseException:
        tracker.finish(failed=True)
        raise
    model_dir = Path(out) / "model"
    tracker.finish(model_dir=model_dir if model_dir.is_dir() else None)
