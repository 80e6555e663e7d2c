"""A trained text model's predictions as a table, and its scores on a labeled file
(what ``python -m tabtext.nlp.predict`` writes and prints)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..text.reading import TextDataset
from .persistence import TextModel


def predictions_frame(tm: TextModel, outputs: np.ndarray) -> pd.DataFrame:
    """One row per text: ``predicted`` and ``proba_<class>`` per class
    (classification); ``predicted`` (the labels joined with the model's separator)
    and ``proba_<label>`` per label (multilabel); ``predicted`` on the label's scale
    (regression)."""
    kind, classes = tm.task.kind, np.asarray(tm.classes, dtype=object)
    if kind == "regression":
        return pd.DataFrame({"predicted": outputs})
    if kind == "multilabel":
        on = tm.task.predict(outputs).astype(bool)
        sep = tm.task.label_sep
        pred = [sep.join(str(c) for c in classes[row]) for row in on]
    else:
        pred = classes[outputs.argmax(1)]
    frame = pd.DataFrame({"predicted": pred})
    for j, c in enumerate(classes):
        frame[f"proba_{c}"] = outputs[:, j]
    return frame


def file_scores(
    tm: TextModel, outputs: np.ndarray, data: TextDataset
) -> dict[str, float]:
    """The task's metrics against the file's labels, in the model's classes."""
    kind = tm.task.kind
    if kind == "regression":
        return tm.task.score(outputs, data.labels)
    if kind == "classification":
        classes = np.asarray(tm.classes, dtype=object)
        pred = classes[outputs.argmax(1)]
        truth = np.asarray(data.classes, dtype=object)[data.labels]
        return {"accuracy": float(np.mean(pred.astype(str) == truth.astype(str)))}
    # multilabel: the file's labels as columns of the model's, plus any the model
    # never learned (never predicted: each of their labels counts as a miss)
    names = [str(c) for c in tm.classes]
    extra = [str(c) for c in data.classes if str(c) not in names]
    cols = {c: j for j, c in enumerate(names + extra)}
    truth = np.zeros((len(data.labels), len(cols)), np.float32)
    for j, c in enumerate(data.classes):
        truth[:, cols[str(c)]] = data.labels[:, j]
    padded = np.hstack([outputs, np.zeros((len(outputs), len(extra)))])
    return tm.task.score(padded, truth)
