"""Helpers shared by the benchmarks: peer interpreters, timing, markdown tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def data_dir() -> Path:
    """Real datasets: $TABTEXT_DATA, else ../shared/data beside the checkout."""
    return Path(os.environ.get("TABTEXT_DATA", SHARED_DATA))


def peer_python(path: str | None) -> str | None:
    """The peer's interpreter if it exists, else None (the peer is then skipped)."""
    if not path:
        return None
    if not Path(path).exists():
        print(f"(peer python {path} not found: skipping the peer)", file=sys.stderr)
        return None
    return path


def run_peer(python: str, script: str, args: dict, timeout: int = 3600) -> dict | None:
    """Run ``script`` (Python source) under the peer's interpreter; it prints one JSON line."""
    env = dict(os.environ, PEER_ARGS=json.dumps(args))
    proc = subprocess.run(
        [python, "-c", script], capture_output=True, text=True, timeout=timeout, env=env
    )
    if proc.returncode != 0:
        print(f"(peer failed: {proc.stderr[-2000:]})", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
