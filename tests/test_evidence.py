"""The evidence report's cell cache, resume and render, on a fake experiment."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from _evidence_cells import (  # noqa: E402
    Cell,
    Experiment,
    Summary,
    cell_path,
    load_results,
    run_experiment,
)
from _evidence_render import render  # noqa: E402
from _evidence_stats import by_seed, fmt, values, verdict_from_counts  # noqa: E402


def _fake(calls: list, fail_key: str | None = None) -> Experiment:
    def cells(seeds):
        return [
            Cell(f"{v}/seed={s}", {"v": v, "s": s}) for v in "ab" for s in range(seeds)
        ]

    def run(p):
        key = f"{p['v']}/seed={p['s']}"
        calls.append(key)
        if key == fail_key:
            raise ValueError("boom")
        return {"value": {"a": 1.0, "b": 2.0}[p["v"]] + p["s"] / 10}

    def summarize(results, img):
        a, b = values(by_seed(results, "a")), values(by_seed(results, "b"))
        rows = [{"variant": "a", "x": fmt(a)}, {"variant": "b", "x": fmt(b)}]
        hits = int(bool(a and b) and sum(b) / len(b) > sum(a) / len(a))
        verdict = verdict_from_counts(hits, int(bool(a and b)), "b beats a")
        return Summary(rows, ["variant", "x"], verdict)

    return Experiment("fake", 1, "Fake", "claim", "setup", "not quoted", cells, run,
                      summarize)  # fmt: skip


def test_cells_cached_and_resumed(tmp_path):
    calls = []
    exp = _fake(calls, fail_key="b/seed=1")
    assert run_experiment(exp, 2, tmp_path, resume=False, log=lambda m: None) == 4
    rec = json.loads(cell_path(tmp_path, "fake", "a/seed=1").read_text())
    assert rec["result"]["value"] == pytest.approx(1.1)
    assert rec["cpu_s"] >= 0 and rec["wall_s"] >= 0
    assert "error" in json.loads(cell_path(tmp_path, "fake", "b/seed=1").read_text())
    assert sorted(load_results(tmp_path, exp, 2)) == [
        "a/seed=0",
        "a/seed=1",
        "b/seed=0",
    ]
    calls.clear()  # a resumed run skips every cell with a file, the failed one too
    cell_path(tmp_path, "fake", "a/seed=0").unlink()
    run_experiment(exp, 2, tmp_path, resume=True, log=lambda m: None)
    assert calls == ["a/seed=0"]
    run_experiment(exp, 3, tmp_path, resume=True, log=lambda m: None)
    assert calls == ["a/seed=0", "a/seed=2", "b/seed=2"]
    assert not list(tmp_path.rglob("*.tmp"))


def test_render_missing_and_done(tmp_path):
    exp = _fake([])
    page = render([exp], 2, tmp_path / "results", tmp_path / "docs")
    text = page.read_text()
    assert "not run yet" in text and "0 of 4 cells done" in text
    run_experiment(exp, 2, tmp_path / "results", resume=False, log=lambda m: None)
    text = render([exp], 2, tmp_path / "results", tmp_path / "docs").read_text()
    assert "1.0500 ± 0.0707 (n=2)" in text
    assert "**holds**: b beats a (1 of 1)" in text
    assert "4 of 4 cells done" in text
    assert "No experiment is defined for this tip." in text  # tips 2..10


def test_verdict_words():
    assert verdict_from_counts(0, 2, "x").startswith("**does not hold here**")
    assert verdict_from_counts(1, 2, "x").startswith("**holds partly**")
    assert verdict_from_counts(0, 0, "x").startswith("not run yet")
