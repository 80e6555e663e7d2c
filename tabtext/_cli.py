"""What every command-line entry point shares, importable before torch loads.

The text CLIs (``tabtext.nlp.finetune``, ``pretrain``, ``predict``, ``export``) run
under OpenMP's default wait policy; the tabular ``predict`` and ``export`` start with::

    import os
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see PASSIVE_WAIT below

before any import that loads torch (the packages ``tabtext.nlp`` and ``tabtext.tabular``
import their submodules lazily, so ``python -m tabtext.tabular.predict`` reaches that
line first). Then :class:`HelpFormatter`, :func:`add_output_flags` and
:func:`setup_logging` give every CLI the same ``--help``, ``--quiet``/``--verbose``
and log lines.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys

#: ``OMP_WAIT_POLICY=PASSIVE`` makes torch's idle OpenMP threads sleep instead of
#: spinning: on a 2-core machine shared with other jobs spinning slows a run
#: several-fold, but alone it is the faster policy, so the text CLIs leave it unset
#: (measured in ``benchmarks/RESULTS.md``, OpenMP's wait policy). The tabular
#: inference CLIs still set it.
PASSIVE_WAIT = "PASSIVE"


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: X)" to a flag's help unless the help already says its default
    or there is nothing to say (no default, a switch that is off)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


def add_output_flags(parser: argparse.ArgumentParser, verbose_help: str) -> None:
    """``--quiet`` (warnings and the final result only) and ``--verbose``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar or lines: warnings, errors and the final result only",
    )
    group.add_argument("--verbose", action="store_true", help=verbose_help)


#: ``--log-to``'s choices: :data:`tabtext.core.tracking.TRACKERS`, repeated here so
#: that building a parser loads no torch (a test checks that the two agree)
TRACKER_CHOICES = ("tensorboard", "mlflow")


def add_tracking_flag(parser: argparse.ArgumentParser) -> None:
    """``--log-to tensorboard|mlflow``: log the run to an experiment tracker."""
    parser.add_argument(
        "--log-to",
        choices=TRACKER_CHOICES,
        default=None,
        help="log the run's configuration, every epoch's losses and metrics and the "
        "learning rates to TensorBoard (event files in OUT/tensorboard) or MLflow "
        "($MLFLOW_TRACKING_URI, else the SQLite store OUT/mlflow.db; the saved model "
        "folder becomes the run's artifact); needs tabtext[tensorboard] or "
        "tabtext[mlflow]",
    )


def setup_logging(verbose: bool = False, quiet: bool = False) -> None:
    """tabtext's log lines to stderr, with the time: stage lines by default, details
    with ``verbose``, warnings only with ``quiet``. Other libraries' loggers stay at
    their defaults."""
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    logger = logging.getLogger("tabtext")
    logger.setLevel(level)
    if not any(getattr(h, "_tabtext", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        handler._tabtext = True
        logger.addHandler(handler)
        logger.propagate = False


def progress_setting(quiet: bool) -> bool | None:
    """The learners' ``progress`` for a CLI: None (a bar on a terminal, one line per
    epoch otherwise) or False with ``--quiet``."""
    return False if quiet else None


@contextlib.contextmanager
def folder_in_use(parser: argparse.ArgumentParser):
    """Another run holding the output folder's lock is a plain error line (it names
    the lock file and the other process), not a traceback."""
    from .core.run_lock import RunLockedError

    try:
        yield
    except RunLockedError as e:
        parser.exit(2, f"{parser.prog}: error: {e}\n")
