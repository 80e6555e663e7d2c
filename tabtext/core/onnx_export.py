"""Write a torch module as one ONNX file with ``torch.onnx.export`` (the torch.export
based exporter, which builds the graph with onnxscript).

Shared by the tabular and text exports: it checks that the optional ``onnx`` extra
is installed, exports in eval mode with a dynamic batch axis (and whatever other
axes the caller names), stores a JSON description of the inputs and outputs in the
model's ``metadata_props`` under ``"tabtext"``, and writes the file atomically, the
weights inside it (no external-data file).
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from .io import atomic_write_bytes

__all__ = ["METADATA_KEY", "export_module", "require_onnx"]

METADATA_KEY = "tabtext"


def require_onnx() -> None:
    """Raise an ImportError naming the extra to install when onnx is missing."""
    missing = []
    for name in ("onnx", "onnxscript"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ImportError(
            f"ONNX export needs {' and '.join(missing)}, which are not installed: "
            "pip install 'tabtext[onnx]' (onnx, onnxscript, onnxruntime)"
        )


def export_module(
    module: torch.nn.Module,
    example: tuple[torch.Tensor, ...],
    path: str | Path,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: Sequence[dict[int, str]],
    metadata: dict[str, Any],
    translations: dict[Callable, Callable] | None = None,
) -> Path:
    """Export ``module(*example)`` to ``path``; returns the path.

    Parameters
    ----------
    module : nn.Module
        Put in eval mode first; its outputs are the graph outputs, in order.
    example : tuple of Tensor
        Example inputs: their dtypes and the sizes of the static axes are baked in.
    input_names, output_names : names of the graph's inputs and outputs.
    dynamic_axes : one ``{axis: name}`` dict per input; the same name means the same
        size (``"batch"`` on every input).
    metadata : JSON-serialisable description stored under ``metadata_props["tabtext"]``.
    translations : optional ``custom_translation_table`` for ops the exporter does
        not translate as needed (the text model's LSTM layers).
    """
    require_onnx()
    import onnx

    dims: dict[str, torch.export.Dim] = {}
    shapes = tuple(
        {
            axis: dims.setdefault(name, torch.export.Dim(name))
            for axis, name in d.items()
        }
        for d in dynamic_axes
    )
    module.eval()
    with warnings.catch_warnings(), _quiet_exporter():
        # the exporter's progress lines and deprecation notes from torch internals
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module,
            example,
            dynamo=True,
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_shapes=shapes,
            custom_translation_table=translations,
            external_data=False,
            verbose=False,
        )
    proto = program.model_proto
    onnx.helper.set_model_props(proto, {METADATA_KEY: json.dumps(metadata)})
    path = Path(path)
    atomic_write_bytes(path, proto.SerializeToString())
    return path


class _quiet_exporter:
    """Silence the exporter's INFO/WARNING log lines (torchvision ops it skips ...)."""

    names = ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")

    def __enter__(self):
        self.levels = {}
        for name in self.names:
            log = logging.getLogger(name)
            self.levels[name] = log.level
            log.setLevel(logging.ERROR)
        return self

    def __exit__(self, *exc):
        for name, level in self.levels.items():
            logging.getLogger(name).setLevel(level)
        return False
