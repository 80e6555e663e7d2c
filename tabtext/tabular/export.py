"""Export a saved EmbeddingModel directory's network as ONNX:
``python -m tabtext.tabular.export MODEL_DIR OUT.onnx`` (see :mod:`tabtext.tabular.onnx_export`
for the graph's inputs and outputs; needs the ``onnx`` extra).
"""

from __future__ import annotations

import os

# before torch loads OpenMP: its waiting threads sleep (tabtext._cli.PASSIVE_WAIT)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import argparse
from pathlib import Path

from .._cli import HelpFormatter


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        formatter_class=HelpFormatter,
        prog="python -m tabtext.tabular.export",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("model_dir", help="directory written by EmbeddingModel.save")
    p.add_argument("out", help="the .onnx file to write")
    return p


def main(argv: list[str] | None = None) -> Path:
    args = build_parser().parse_args(argv)
    from ..core import CheckpointError
    from .onnx_export import export_onnx
    from .persistence import load_estimator

    try:
        out = export_onnx(load_estimator(args.model_dir), args.out)
    except (CheckpointError, ImportError) as e:  # not a model dir, no onnx extra
        raise SystemExit(f"python -m tabtext.tabular.export: error: {e}") from None
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    main()
