"""Run every Python and shell block of README.md and docs/ on tiny stand-in data.

See ``blocks.py`` for the markers and ``standins.py`` for the data and sizes.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import runpy
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from . import standins
from .blocks import ROOT, all_blocks, read_blocks, shell_commands

BLOCKS = all_blocks()
PY_MODULE = re.compile(
    r"^(?P<env>(\w+=\S+ )*)python3? -m (?P<mod>tabtext(\.\w+)+)(?P<args>( .*)?)$"
)


@pytest.fixture(scope="session")
def workspace(tmp_path_factory):
    """Files and models every page starts from; built once."""
    from tabtext.nlp import finetune, pretrain

    root = tmp_path_factory.mktemp("docs_ws")
    standins.write_data(root)
    cache = root / "cache"
    lm_argv = ["--data", str(root / "shared/data/wikipedia"), "--out", str(root / "lm")]
    lm_argv += ["--cache-dir", str(cache), "--export", str(root / "tiny_lm")]
    pretrain.main(standins.tiny_argv("tabtext.nlp.pretrain", lm_argv, root))
    run = [
        "--data",
        str(root / "work/reviews.csv"),
        "--out",
        str(root / "work/runs/quick"),
    ]
    run += ["--cache-dir", str(cache)]
    finetune.main(standins.tiny_argv("tabtext.nlp.finetune", run, root / "tiny_lm"))
    return root


@pytest.fixture(scope="session")
def page_runs(workspace):
    """One namespace and folder per page, filled as its blocks run in order."""
    return {}


@pytest.fixture
def docs_env(workspace, monkeypatch):
    monkeypatch.setenv("TABTEXT_DATA", str(workspace / "shared" / "data"))
    monkeypatch.setenv("TABTEXT_CACHE", str(workspace / "cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    logger = logging.getLogger("tabtext")  # the CLIs set up their own handler
    saved = logger.level, list(logger.handlers), logger.propagate
    with standins.shrink_text_defaults(workspace / "tiny_lm"):
        yield workspace
    logger.setLevel(saved[0])
    logger.handlers[:] = saved[1]
    logger.propagate = saved[2]


def _page_state(page: str, workspace: Path, runs: dict) -> dict:
    if page not in runs:
        folder = workspace / "pages" / page.replace("/", "__")
        shutil.copytree(workspace / "work", folder / "work")
        (folder / "shared").symlink_to(workspace / "shared")
        names = {"__name__": "__docs__"}
        names.update(standins.table_names())
        names.update(standins.text_names())
        names.update(standins.core_names())
        runs[page] = {"cwd": folder / "work", "names": names, "done": set()}
    return runs[page]


def _run_python(block, state) -> None:
    code = compile(block.code, f"{block.page}, block at line {block.line}", "exec")
    exec(code, state["names"])


def _run_shell(block, state, workspace: Path) -> None:
    for cmd in shell_commands(block.code):
        m = PY_MODULE.match(cmd)
        if m is None:
            _run_bash(cmd)
            continue
        argv = shlex.split(m["args"])
        if block.marker == "tiny":
            argv = standins.tiny_argv(m["mod"], argv, workspace / "tiny_lm")
        unquoted = re.sub(r"'[^']*'|\"[^\"]*\"", "", m["args"])
        if re.search(r"[|;&<>$]", unquoted):
            _run_bash(f"{m['env']}python -m {m['mod']} {shlex.join(argv)}")
            continue
        # in this process, which saves starting torch and spaCy again; a variable
        # set before the command (OMP_WAIT_POLICY=...) is set around it
        env = dict(v.split("=", 1) for v in m["env"].split())
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            _run_module(m["mod"], argv, cmd)
        finally:
            for k, v in saved.items():
                os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


def _run_bash(cmd: str) -> None:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    done = subprocess.run(
        ["bash", "-ec", cmd], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{cmd!r} failed:\n{done.stdout}\n{done.stderr}"


def _run_module(module: str, argv: list[str], cmd: str) -> None:
    """``python -m module argv`` in this process: its ``main(argv)`` (every tabtext
    CLI has one), else the module run as ``__main__``."""
    main = getattr(importlib.import_module(module), "main", None)
    saved = sys.argv
    sys.argv = [module, *argv]
    try:
        main(argv) if main is not None else runpy.run_module(
            module, run_name="__main__"
        )
    except SystemExit as exc:
        assert exc.code in (0, None), f"{cmd!r} exited with {exc.code}"
    finally:
        sys.argv = saved


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_block_runs(block, docs_env, page_runs, monkeypatch):
    if block.skip_reason is not None:
        pytest.skip(f"not run: {block.skip_reason}")
    state = _page_state(block.page, docs_env, page_runs)
    monkeypatch.chdir(state["cwd"])
    page_blocks = read_blocks(ROOT / block.page)
    for earlier in page_blocks:  # a page's python blocks build on the ones before
        if earlier.line >= block.line:
            break
        if (
            earlier.lang == "python"
            and earlier.skip_reason is None
            and earlier.line not in state["done"]
        ):
            _run_python(earlier, state)
            state["done"].add(earlier.line)
    if block.lang == "python":
        if block.line not in state["done"]:
            _run_python(block, state)
            state["done"].add(block.line)
    else:
        _run_shell(block, state, docs_env)


def test_markers_are_known_and_skips_say_why():
    for block in BLOCKS:
        assert block.marker in ("", "tiny") or block.skip_reason, (
            f"{block.id}: marker {block.marker!r}: use 'tiny' or 'skip: <reason>'"
        )
        assert block.marker != "tiny" or block.lang == "shell", block.id


def test_most_blocks_run():
    skipped = [b for b in BLOCKS if b.skip_reason is not None]
    assert len(skipped) <= len(BLOCKS) // 4, [b.id for b in skipped]
