"""Export a trained text classifier directory as ONNX:
``python -m tabtext.nlp.export MODEL_DIR OUT.onnx`` (see :mod:`tabtext.nlp.api.onnx_export`
for the graph's inputs and outputs; needs the ``onnx`` extra).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .._cli import HelpFormatter


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        formatter_class=HelpFormatter,
        prog="python -m tabtext.nlp.export",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("model_dir", help="output directory of finetune (or its model/)")
    p.add_argument("out", help="the .onnx file to write")
    return p


def main(argv: list[str] | None = None) -> Path:
    args = build_parser().parse_args(argv)
    from ..core import CheckpointError
    from .api.onnx_export import export_onnx

    try:
        out = export_onnx(args.model_dir, args.out)
    except (CheckpointError, ImportError, ValueError) as e:  # bad dir, no onnx extra
        raise SystemExit(f"python -m tabtext.nlp.export: error: {e}") from None
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    main()
