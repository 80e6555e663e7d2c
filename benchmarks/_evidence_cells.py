"""The evidence report's cell cache: one JSON file per measured cell, written atomically.

An experiment is a list of cells (a dataset x variant x seed, say); each cell's result
is written as ``<results>/<experiment>/<key>.json`` the moment it is measured, with
the CPU seconds (this process and its children) and wall seconds it took. A run that
is killed loses at most the cell in progress: ``--resume`` skips the cells whose file
exists. Rendering reads only these files.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import re
import resource
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_RESULTS = Path.home() / ".cache" / "tabtext-evidence"


@dataclass(frozen=True)
class Cell:
    """One measurement: ``key`` names it within its experiment, ``params`` say what
    to run (JSON-serialisable, passed to the experiment's ``run``)."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Experiment:
    """An experiment of the report: its cells, how to run one, how to summarise them.

    ``summarize(results)`` receives ``{key: record}`` for the cells done so far and
    returns a :class:`Summary`; the section's prose (claim, setup, published figure)
    is kept with it so that the report is rendered from code and cache alone.
    """

    name: str
    tip: int
    title: str
    claim: str
    setup: str
    published: str
    cells: Callable[[int], list[Cell]]  # seeds -> cells
    run: Callable[[dict], dict]
    summarize: Callable[[dict[str, dict], Path], Summary]
    kind: str = "tabular"  # "tabular" or "text": which runs a plain --only selects


@dataclass
class Summary:
    """What a section shows: table rows (dicts), their columns, plot paths (relative
    to the docs folder), a verdict line and notes."""

    rows: list[dict]
    columns: list[str]
    verdict: str
    plots: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def grid(seeds: int, **axes: Iterable) -> list[Cell]:
    """A cell per combination of the axes' values and seed, the first axis slowest:
    key ``"v1/v2/seed=s"``, params ``{axis: value, ..., "seed": s}``."""
    names, out = list(axes), []
    for combo in itertools.product(*axes.values(), range(seeds)):
        key = "/".join(str(v) for v in combo[:-1]) + f"/seed={combo[-1]}"
        out.append(Cell(key, {**dict(zip(names, combo[:-1])), "seed": combo[-1]}))
    return out


def safe_name(key: str) -> str:
    """A file name for a cell key: ``/`` and other odd characters become ``_``."""
    return re.sub(r"[^A-Za-z0-9=.,+-]+", "_", key).strip("_")


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (a temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1, default=float)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cell_path(results: Path, exp: str, key: str) -> Path:
    return results / exp / f"{safe_name(key)}.json"


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children (user + system)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_cell(exp: Experiment, cell: Cell, results: Path) -> dict:
    """Run one cell and write its record; returns the record."""
    cpu0, wall0 = _cpu_seconds(), time.perf_counter()
    result = exp.run(dict(cell.params))
    record = {
        "experiment": exp.name,
        "key": cell.key,
        "params": cell.params,
        "result": result,
        "cpu_s": _cpu_seconds() - cpu0,
        "wall_s": time.perf_counter() - wall0,
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }
    write_json(cell_path(results, exp.name, cell.key), record)
    return record


def run_experiment(
    exp: Experiment,
    seeds: int,
    results: Path,
    resume: bool,
    log: Callable[[str], None] = print,
    ends_only: bool = False,
) -> int:
    """Run the experiment's cells in order (skipping the done ones when ``resume``;
    only the first and the last with ``ends_only``, a smoke test's pick); returns how
    many cells ran. A failing cell is logged and recorded as failed (its record has
    ``error``) so that the others still run."""
    ran, cells = 0, exp.cells(seeds)
    for cell in cells[:1] + cells[1:][-1:] if ends_only else cells:
        path = cell_path(results, exp.name, cell.key)
        if resume and path.exists():
            continue
        log(f"[{exp.name}] {cell.key} ...")
        try:
            rec = run_cell(exp, cell, results)
        except Exception as err:  # one broken cell must not stop the report
            log(f"[{exp.name}] {cell.key} FAILED: {type(err).__name__}: {err}")
            write_json(path, {"experiment": exp.name, "key": cell.key,
                              "params": cell.params, "error": repr(err)})  # fmt: skip
            ran += 1
            continue
        log(f"[{exp.name}] {cell.key}: {rec['wall_s']:.1f} s wall, "
            f"{rec['cpu_s']:.1f} s CPU")  # fmt: skip
        ran += 1
    return ran


def load_results(results: Path, exp: Experiment, seeds: int) -> dict[str, dict]:
    """``{key: record}`` of the experiment's cells that finished without error."""
    out = {}
    for cell in exp.cells(seeds):
        path = cell_path(results, exp.name, cell.key)
        if path.exists():
            rec = json.loads(path.read_text())
            if "error" not in rec:
                out[cell.key] = rec
    return out


def cost(records: Iterable[dict]) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, cells) summed over records."""
    records = list(records)
    cpu = sum(r.get("cpu_s", 0.0) for r in records)
    wall = sum(r.get("wall_s", 0.0) for r in records)
    return cpu, wall, len(records)
