"""What every CLI shares (tabtext._cli): --help, OMP_WAIT_POLICY, log levels."""

import argparse
import logging
import os
import subprocess
import sys

import pytest

from tabtext import _cli

CLIS = [
    "tabtext.nlp.finetune",
    "tabtext.nlp.predict",
    "tabtext.nlp.pretrain",
    "tabtext.nlp.export",
    "tabtext.tabular.predict",
    "tabtext.tabular.export",
]


@pytest.mark.parametrize("module", CLIS)
def test_help_says_each_default_once(module):
    mod = __import__(module, fromlist=["build_parser"])
    parser = mod.build_parser()
    formatter = parser._get_formatter()
    said = 0
    for action in parser._actions:
        text = formatter._expand_help(action) if action.help else ""
        assert text.count("default") <= 1, (action.option_strings, text)
        said += "(default: " in text
    if module == "tabtext.nlp.finetune":  # the formatter adds the defaults nobody wrote
        assert said >= 3


def test_formatter_leaves_out_empty_defaults():
    p = argparse.ArgumentParser(formatter_class=_cli.HelpFormatter)
    p.add_argument("--a", default=3, help="three")
    p.add_argument("--b", default=None, help="none")
    p.add_argument("--c", action="store_true", help="switch")
    p.add_argument("--d", default="x", help="own (default x)")
    f = p._get_formatter()
    got = {a.dest: f._get_help_string(a) for a in p._actions if a.dest != "help"}
    assert got == {
        "a": "three (default: %(default)s)",
        "b": "none",
        "c": "switch",
        "d": "own (default x)",
    }


def _env_after_import(module: str, env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if env_value is not None:
        env["OMP_WAIT_POLICY"] = env_value
    code = (
        f"import os, sys, {module}; "
        "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


PASSIVE_CLIS = ["tabtext.tabular.predict", "tabtext.tabular.export"]


@pytest.mark.parametrize("module", CLIS)
def test_wait_policy_passive_for_tabular_inference_only(module):
    """The tabular inference CLIs set PASSIVE before torch loads; the text CLIs leave
    OpenMP's default (faster alone: tabtext._cli.PASSIVE_WAIT)."""
    policy, torch_loaded = _env_after_import(module, None).split()
    assert policy == ("PASSIVE" if module in PASSIVE_CLIS else "None")
    if module in PASSIVE_CLIS:
        assert torch_loaded == "False"


@pytest.mark.parametrize("module", PASSIVE_CLIS)
def test_a_policy_the_user_set_is_kept(module):
    assert _env_after_import(module, "ACTIVE").split()[0] == "ACTIVE"


def test_packages_load_torch_only_when_used():
    code = (
        "import sys, tabtext.nlp, tabtext.tabular; a = 'torch' in sys.modules; "
        "tabtext.nlp.Vocab; print(a, 'torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "True"]


def test_log_levels():
    logger = logging.getLogger("tabtext")
    try:
        _cli.setup_logging()
        assert logger.level == logging.INFO
        _cli.setup_logging(verbose=True)
        assert logger.level == logging.DEBUG
        _cli.setup_logging(quiet=True)
        assert logger.level == logging.WARNING
        assert sum(getattr(h, "_tabtext", False) for h in logger.handlers) == 1
    finally:
        for h in [h for h in logger.handlers if getattr(h, "_tabtext", False)]:
            logger.removeHandler(h)
        logger.setLevel(logging.NOTSET)
        logger.propagate = True
