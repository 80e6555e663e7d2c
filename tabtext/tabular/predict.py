"""Predict a table with a saved EmbeddingModel:
``python -m tabtext.tabular.predict MODEL_DIR FILE [--out preds.parquet]``.

FILE is a parquet file, a directory of parquet files or a CSV file; it must have the
model's input columns (others are ignored). ``--out`` writes one row per input row,
in FILE's order: ``prediction`` (or ``prediction_0, ...`` for several targets) and,
for a classifier, each class' probability ``proba_<class>``; as parquet, or as CSV
when the name ends in ``.csv``. When FILE has the target column (the one the model
was fitted on, or ``--target``), prints the score: accuracy and ROC AUC for
classification, RMSE and MAE for regression (``--json``: one JSON line).
"""

from __future__ import annotations

import os

# before torch loads OpenMP: its waiting threads sleep (tabtext._cli.PASSIVE_WAIT)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import argparse
import io
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

PROG = "python -m tabtext.tabular.predict"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("model_dir", help="directory written by EmbeddingModel.save")
    p.add_argument("file", help="parquet file or directory, or CSV file (.csv)")
    p.add_argument(
        "--out", default=None, help="write predictions here (.parquet, or .csv)"
    )
    p.add_argument(
        "--target",
        default=None,
        help="target column to score against (default: the one saved with the model)",
    )
    p.add_argument("--json", action="store_true", help="print metrics as one JSON line")
    return p


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    est = _load_model(args.model_dir)
    target = args.target or getattr(est, "target_column_", None)
    targets = [] if target is None else [target] if isinstance(target, str) else target
    frame = read_table(Path(args.file), list(est.input_columns_), targets)
    if args.target and args.target not in frame.columns:
        raise _fail(f"FILE {args.file} has no target column {args.target!r}")
    X = frame[list(est.input_columns_)]
    if not hasattr(est, "feature_names_in_"):  # fitted on an array: columns x0, x1 ...
        X = X.to_numpy()
    t0 = time.perf_counter()
    pred, proba = _predict(est, X)
    seconds = time.perf_counter() - t0
    metrics = {
        "n": len(frame),
        "seconds": round(seconds, 3),
        "rows_per_s": round(len(frame) / max(seconds, 1e-9), 1),
    }
    if targets and all(t in frame.columns for t in targets):
        y = frame[targets[0]] if len(targets) == 1 else frame[targets]
        metrics.update(score(est, y.to_numpy(), pred, proba))
    if args.out:
        write_predictions(Path(args.out), _table(est, pred, proba))
        metrics["out"] = args.out
    print(json.dumps(metrics) if args.json else _summary(metrics))
    return metrics


def _fail(message: str) -> SystemExit:
    return SystemExit(f"{PROG}: error: {message}")


def _load_model(path: str):
    from ..core import CheckpointError
    from .persistence import load_estimator

    if not Path(path).is_dir():
        raise _fail(f"MODEL_DIR {path}: no such directory")
    try:
        return load_estimator(path)
    except CheckpointError as e:
        raise _fail(f"MODEL_DIR {path} is not a saved EmbeddingModel: {e}") from None


def read_table(path: Path, columns: list[str], optional: list[str]) -> pd.DataFrame:
    """The ``columns`` of a parquet file/directory or CSV file (all of them must be
    there) and those of ``optional`` it has; clear errors otherwise."""
    if not path.exists():
        raise _fail(f"FILE {path}: no such file or directory")
    is_csv = path.suffix.lower() == ".csv"
    try:
        if is_csv:
            names = list(pd.read_csv(path, nrows=0).columns)
        else:
            data = pads.dataset(path, format="parquet")
            names = list(data.schema.names)
    except (ValueError, OSError, pa.ArrowException, UnicodeDecodeError) as e:
        kind = "CSV" if is_csv else "parquet (name a CSV file *.csv)"
        raise _fail(f"FILE {path} cannot be read as {kind}: {e}") from None
    missing = [c for c in columns if c not in names]
    if missing:
        raise _fail(
            f"FILE {path} lacks the model's input columns {missing}; its columns are "
            f"{names}"
        )
    wanted = columns + [c for c in optional if c in names and c not in columns]
    try:
        if is_csv:
            return pd.read_csv(path, usecols=wanted)[wanted]
        return data.to_table(columns=wanted).to_pandas()
    except (ValueError, OSError, pa.ArrowException, UnicodeDecodeError) as e:
        raise _fail(f"FILE {path} cannot be read: {e}") from None


def _predict(est, X) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions and, for classifiers, probabilities, from one pass of the network
    (labels as ``predict`` gives them: ``TargetEncoder.decode``)."""
    if est.task_ == "regression":
        return est.predict(X), None
    proba = est.predict_proba(X)
    if est.task_ == "classification":
        return est.classes_[proba.argmax(1)], proba
    return (proba > 0.5).astype(np.int64), proba


def score(est, y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None) -> dict:
    """Accuracy and ROC AUC (classification, multi-label: exact match and macro AUC)
    or RMSE and MAE (regression), over the rows whose target is not missing."""
    from sklearn.metrics import roc_auc_score

    known = ~pd.isna(y).reshape(len(y), -1).any(1)
    y, pred = y[known], pred[known]
    out: dict = {"scored_rows": int(known.sum())}
    if not len(y):
        return out
    if est.task_ == "regression":
        err = pred.astype(np.float64) - y.astype(np.float64).reshape(pred.shape)
        out["rmse"] = float(np.sqrt(np.mean(err**2)))
        out["mae"] = float(np.mean(np.abs(err)))
        return out
    proba = proba[known]
    if est.task_ == "multilabel":
        out["accuracy"] = float(np.mean((pred == y).all(1)))
        truth = y.astype(np.int64)
    else:
        out["accuracy"] = float(np.mean(pred == y))
        truth = np.asarray(y)[:, None] == est.classes_[None, :]  # one-hot
    usable = (truth.min(0) == 0) & (truth.max(0) == 1)  # both values seen
    if est.task_ == "classification" and len(est.classes_) == 2:
        if usable.all():
            out["auc"] = float(roc_auc_score(truth[:, 1], proba[:, 1]))
    elif usable.any():  # one-vs-rest, macro over the classes seen both ways
        out["auc"] = float(roc_auc_score(truth[:, usable], proba[:, usable]))
    return out


def _table(est, pred: np.ndarray, proba: np.ndarray | None) -> pd.DataFrame:
    cols = {}
    if pred.ndim == 1:
        cols["prediction"] = pred
    else:
        cols.update({f"prediction_{j}": pred[:, j] for j in range(pred.shape[1])})
    if proba is not None:
        names = est.classes_ if est.task_ == "classification" else range(proba.shape[1])
        cols.update({f"proba_{c}": proba[:, j] for j, c in enumerate(names)})
    return pd.DataFrame(cols)


def write_predictions(path: Path, table: pd.DataFrame) -> None:
    """Write ``table`` atomically: CSV for ``*.csv``, parquet otherwise."""
    from ..core.io import atomic_write_bytes

    if path.suffix.lower() == ".csv":
        atomic_write_bytes(path, table.to_csv(index=False).encode("utf-8"))
        return
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), sink)
    atomic_write_bytes(path, sink.getvalue())


def _summary(m: dict) -> str:
    parts = [f"{k} {m[k]:.4f}" for k in ("accuracy", "auc", "rmse", "mae") if k in m]
    if "scored_rows" in m and m["scored_rows"] < m["n"]:
        parts.append(f"(scored on {m['scored_rows']} rows with a target)")
    parts.append(f"{m['n']} rows in {m['seconds']:.2f}s ({m['rows_per_s']:.0f}/s)")
    if "out" in m:
        parts.append(f"-> {m['out']}")
    return "  ".join(parts)


if __name__ == "__main__":
    main()
