"""ONNX export of a fitted EmbeddingModel's network, for prediction without torch.

The graph takes what :meth:`TabularPreprocessor.transform` gives (the preprocessing
itself stays in the model directory's ``estimator.json``) and returns what
``predict`` / ``predict_proba`` return:

- inputs ``cats`` int64 ``(batch, n_cat)`` and ``conts`` float32 ``(batch, n_cont)``
  (either may have zero columns; feed a ``(batch, 0)`` array then);
- classification: ``probabilities`` float32 ``(batch, n_classes)`` and
  ``class_index`` int64 ``(batch,)``, an index into ``classes`` (the first of tied
  maxima, as numpy's argmax);
- multi-label: ``probabilities`` float32 ``(batch, n_labels)``; a label is on when
  its probability is above 0.5;
- regression: ``prediction`` float64 ``(batch, n_targets)`` in the units of y (the
  target scaling and ``log_target``'s ``expm1`` are inside the graph); with
  ``loss="quantile"`` the median ``(batch, 1)`` and ``quantiles`` float64
  ``(batch, n_quantiles)``, sorted along each row as ``predict_quantiles``.

``metadata_props["tabtext"]`` holds a JSON object with the task, the classes, the
input column names in order (``cat_names``, ``cont_names``), the outputs and the
quantiles (None without them).

The CLI ``python -m tabtext.tabular.export MODEL_DIR OUT.onnx`` exports a saved estimator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ..core.onnx_export import export_module
from .model import TabularModel
from .tasks import TargetEncoder

__all__ = ["export_onnx"]


class _Predictor(nn.Module):
    """The network followed by the target decoding of ``TargetEncoder``."""

    def __init__(self, model: TabularModel, target: TargetEncoder):
        super().__init__()
        self.model, self.task = model, target.task
        self.binary = target.task == "classification" and target.n_out == 1
        if target.task == "regression":
            self.register_buffer(
                "mean", torch.as_tensor(target.mean, dtype=torch.float64)
            )
            self.register_buffer(
                "std", torch.as_tensor(target.std, dtype=torch.float64)
            )
        self.log_target = target.log_target
        q = target.quantiles
        self.median = None if not q else q.index(0.5)

    def forward(self, cats: torch.Tensor, conts: torch.Tensor):
        out = self.model(cats, conts).float()  # (batch, n_out)
        if self.task == "regression":
            y = out.double() * self.std + self.mean
            if self.log_target:
                y = torch.expm1(y)
            big = float(np.finfo(np.float64).max)  # as decode: saturate, never inf
            y = y.clamp(-big, big)
            if self.median is None:
                return y
            y = torch.sort(y, dim=1).values  # quantiles never cross
            return y[:, self.median : self.median + 1], y
        if self.task == "multilabel":
            return torch.sigmoid(out)
        if self.binary:
            p = torch.sigmoid(out)
            proba = torch.cat([1 - p, p], 1)
        else:
            proba = torch.softmax(out, 1)
        return proba, proba.argmax(1)


def export_onnx(est, path: str | Path) -> Path:
    """Write the fitted network of ``est`` with its target decoding as ONNX.

    Parameters
    ----------
    est : fitted EmbeddingModel (or EmbeddingClassifier / EmbeddingRegressor)
    path : str or Path
        The ``.onnx`` file to write (atomically; weights inside).

    Returns
    -------
    Path

    Examples
    --------
    >>> est.export_onnx("model.onnx")  # doctest: +SKIP
    >>> import onnxruntime as ort  # doctest: +SKIP
    >>> cats, conts = est.preprocessor_.transform(X)  # doctest: +SKIP
    >>> sess = ort.InferenceSession("model.onnx")  # doctest: +SKIP
    >>> proba, idx = sess.run(None, {"cats": cats, "conts": conts})  # doctest: +SKIP
    """
    check_is_fitted(est, "model_")
    pre = est.preprocessor_
    model = TabularModel(est.config_)  # a float32 copy: the export leaves est alone
    model.load_state_dict(est.model_.state_dict())
    predictor = _Predictor(model.float().eval(), est.target_).eval()
    n = 2  # a batch of 2: BatchNorm layers accept it in any mode
    example = (
        torch.zeros(n, len(pre.cat_names_), dtype=torch.long),
        torch.zeros(n, len(pre.cont_names_), dtype=torch.float32),
    )
    outputs = {
        "classification": ["probabilities", "class_index"],
        "multilabel": ["probabilities"],
        "regression": ["prediction"],
    }[est.task_]
    if est.target_.quantiles:
        outputs = ["prediction", "quantiles"]
    classes = getattr(est, "classes_", None)
    metadata = {
        "kind": "tabtext.EmbeddingModel",
        "task": est.task_,
        "classes": None if classes is None else [_json(c) for c in classes],
        "cat_names": list(pre.cat_names_),
        "cont_names": list(pre.cont_names_),
        "inputs": ["cats", "conts"],
        "outputs": outputs,
        "quantiles": None if not est.target_.quantiles else list(est.target_.quantiles),
    }
    return export_module(
        predictor,
        example,
        path,
        ["cats", "conts"],
        outputs,
        [{0: "batch"}, {0: "batch"}],
        metadata,
    )


def _json(value):
    return value.item() if isinstance(value, np.generic) else value
