"""Save/load a fitted EmbeddingModel as safetensors weights + JSON (never pickle)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.io import CheckpointError, read_model_dir, save_model_dir
from .model import TabularConfig, TabularModel
from .preprocessing import TabularPreprocessor
from .target_stats import TargetStatistics
from .tasks import TargetEncoder

KIND = "tabtext.EmbeddingModel"


def save_estimator(est, path: str | Path) -> Path:
    state = {
        "class": type(est).__name__,
        "params": _jsonable_params(est.get_params()),
        "task": est.task_,
        "target_column": getattr(est, "target_column_", None),
        "input_columns": est.input_columns_,
        "feature_names_in": (
            list(est.feature_names_in_) if hasattr(est, "feature_names_in_") else None
        ),
        "n_features_in": int(est.n_features_in_),
        "lr": est.lr_,
        "preprocessor": est.preprocessor_.to_dict(),
        "target": est.target_.to_dict(),
        "target_stats": None
        if est.target_stats_ is None
        else est.target_stats_.to_dict(),
        "model": est.config_.to_dict(),
        "history": est.history_.to_dict(orient="list"),
    }
    return save_model_dir(path, KIND, est.model_, {"estimator.json": state})


def _jsonable_params(params: dict) -> dict:
    """The parameters as JSON; one that JSON cannot hold (a callable
    ``eval_metric``, ``callbacks``) is left out, so a loaded estimator has its
    default: they steer training only, never prediction."""
    out = {}
    for k, v in params.items():
        if isinstance(v, tuple):
            v = list(v)
        if isinstance(v, np.random.RandomState):
            v = None
        if isinstance(v, Path):  # checkpoint_dir
            v = str(v)
        try:
            json.dumps(v)
        except (TypeError, ValueError):
            continue
        out[k] = v
    return out


def load_estimator(path: str | Path):
    from . import estimator as est_mod

    path = Path(path)
    model_dir = read_model_dir(path, KIND, required=("estimator.json",))
    state = model_dir.json("estimator.json")
    if not isinstance(state, dict) or not isinstance(state.get("params"), dict):
        raise CheckpointError(
            f"{path}/estimator.json is invalid: expected an object with a 'params' "
            "object; re-save the estimator"
        )
    classes = {c: getattr(est_mod, c) for c in est_mod.__all__}
    if state.get("class") not in classes:
        raise CheckpointError(f"{path}: unknown estimator class {state.get('class')!r}")
    params = dict(state["params"])
    for k in ("layers", "ps", "y_range"):
        if isinstance(params.get(k), list):
            params[k] = tuple(params[k])
    try:
        est = classes[state["class"]](**params)
        est.task_ = state["task"]
        est.target_column_ = state.get("target_column")  # absent before it was saved
        est.input_columns_ = state["input_columns"]
        if state["feature_names_in"] is not None:
            est.feature_names_in_ = np.asarray(state["feature_names_in"], dtype=object)
        est.n_features_in_ = state["n_features_in"]
        est.lr_ = state["lr"]
        est.preprocessor_ = TabularPreprocessor.from_dict(state["preprocessor"])
        est.target_ = TargetEncoder.from_dict(state["target"])
        if est.task_ == "classification":
            est.classes_ = est.target_.classes
        stats = state.get("target_stats")
        est.target_stats_ = None if stats is None else TargetStatistics.from_dict(stats)
        est.config_ = TabularConfig.from_dict(state["model"])
        est.history_ = pd.DataFrame(state["history"])
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CheckpointError(
            f"{path}/estimator.json is incomplete or invalid: {e}"
        ) from None
    est.model_ = TabularModel(est.config_)
    model_dir.load_weights(est.model_)
    est.model_.eval()
    return est
