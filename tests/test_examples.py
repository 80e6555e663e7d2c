"""Each script in examples/ runs end to end with --quick on the real data sets.

The examples read ../shared/data (next to the repository); without it they are
skipped. Each runs in a subprocess, as a user runs it, writing into a temporary folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

#: script -> (data set it reads, files it must write under --out)
EXAMPLES = {
    "adult.py": ("adult", ["adult_education.png"]),
    "rossmann.py": ("rossmann", ["rossmann_dayofweek.png"]),
    "text_classifier.py": (
        "imdb",
        ["predictions.csv", "why.html", "model/manifest.json"],
    ),
    "few_labels.py": ("imdb", ["metrics.json", "model/manifest.json"]),
    "training_core.py": ("bike_sharing", ["lr_find.png", "lr.png", "loss.png"]),
}


def test_every_example_is_listed():
    assert sorted(p.name for p in (ROOT / "examples").glob("*.py")) == sorted(EXAMPLES)


@pytest.mark.parametrize("script", sorted(EXAMPLES))
def test_example_runs_quick(script, tmp_path):
    data, outputs = EXAMPLES[script]
    if not (DATA / data).is_dir():
        pytest.skip(f"needs {DATA / data}")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    env["TABTEXT_CACHE"] = str(tmp_path / "cache")
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), "--quick", "--out", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, f"{script} --quick failed:\n{done.stderr[-3000:]}"
    for name in outputs:
        assert (tmp_path / name).is_file(), f"{script} did not write {name}"
