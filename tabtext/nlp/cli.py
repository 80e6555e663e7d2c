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


def flags_table() -> str:
    """The flags of :class:`ULMFiTConfig` as a markdown table (flag, each preset's
    value, help), made from the same field metadata as ``--help``, for the docs."""
    rows = ["| flag | " + " | ".join(PRESET_NAMES) + " | what it sets |"]
    rows.append("|---" * (len(PRESET_NAMES) + 2) + "|")
    for f in dataclasses.fields(ULMFiTConfig):
        if f.name == "preset":
            continue
        vals = [_show(PRESETS[p].get(f.name, f.default)) for p in PRESET_NAMES]
        flag = "--" + f.name.replace("_", "-")
        help_ = f.metadata["help"].replace("|", "\\|")
        rows.append(f"| `{flag}` | " + " | ".join(vals) + f" | {help_} |")
    return "\n".join(rows)


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
        hint, help_ = (
            hints[f.name],
            f.metadata["help"].replace("%", "%%") + _preset_values(f),
        )
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
