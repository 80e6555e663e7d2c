"""What every command-line entry point shares, importable before torch loads.

Each CLI module starts with::

    import os
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see PASSIVE_WAIT below

before any import that loads torch (the packages ``tabtext.nlp`` and ``tabtext.tabular``
import their submodules lazily, so ``python -m tabtext.nlp.finetune`` reaches that line
first). Then :class:`HelpFormatter`, :func:`add_output_flags` and
:func:`setup_logging` give every CLI the same ``--help``, ``--quiet``/``--verbose``
and log lines.
"""

from __future__ import annotations

import argparse
import logging
import sys

#: Why the CLIs set ``OMP_WAIT_POLICY=PASSIVE`` unless the user set it: torch's OpenMP
#: threads otherwise spin between parallel regions, and on a 2-core machine that
#: slows a run that shares the cores several-fold, and measurably even alone (the
#: README's main command: 13.6 min spinning vs 11.8 min passive, alone, sgemm 150).
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
