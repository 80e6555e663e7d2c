"""Tabular fits for the evidence report, through the public estimator.

Every fit is ``EmbeddingClassifier`` / ``EmbeddingRegressor`` on a split of
``tabular.py`` (same features and validation rows; Rossmann reduced to every 10th
store, as ``tabular.py --quick`` does, to keep cells short), trained on the training
rows alone (no ``eval_set``: no best-epoch pick, no early stopping) and scored on the
validation rows after every epoch by a callback that calls the estimator's own
``predict``.

The estimator trains with one-cycle only. The other schedules of the core
(:mod:`tabtext.core.schedules`) are reached by replacing ``Learner.fit_one_cycle``
for the duration of one ``fit`` by a call of the core's ``Learner.fit_schedule`` with
that schedule: the estimator's preprocessing, model, optimizer and data stay its own.
The LR range test's curve is read by wrapping ``Learner.lr_find`` (``lr="auto"``).
"""

from __future__ import annotations

import functools
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tabular import DATASETS, Data, run_hgb  # noqa: E402

from tabtext.core import schedules as S  # noqa: E402
from tabtext.core.hooks import Callback  # noqa: E402
from tabtext.core.learner import Learner  # noqa: E402
from tabtext.tabular import EmbeddingClassifier, EmbeddingRegressor  # noqa: E402

# main metric per dataset and whether higher is better
METRIC = {"adult": ("AUC", True), "amazon": ("AUC", True),
          "bike": ("RMSLE", False), "rossmann": ("RMSPE", False)}  # fmt: skip
THREADS = 1  # a shared 2-core machine: one thread per fit, every fit alike


def schedule(name: str, n_epochs: int) -> tuple[S.Schedule, S.Schedule | None]:
    """(LR multiplier, momentum or None) of a named schedule over ``n_epochs``."""
    if name == "constant":
        return (lambda pos: 1.0), None
    if name == "step":  # /10 at half and at three quarters of the epochs
        return S.combine(
            [2, 1, 1], [lambda p: 1.0, lambda p: 0.1, lambda p: 0.01]
        ), None
    if name == "cosine":
        return S.sched_cos(1.0, 0.0), None
    if name == "sgdr":  # cycle_len=1, cycle_mult=2: 1 + 2 + 4 epochs
        lens = S.sgdr_epochs(3, 1, 2)
        if sum(lens) != n_epochs:
            raise ValueError(f"SGDR 1+2+4 needs {sum(lens)} epochs, got {n_epochs}")
        return S.sgdr(3, 1, 2), None
    if name == "one_cycle":
        return S.one_cycle_lr(), S.one_cycle_mom()
    raise ValueError(f"unknown schedule {name!r}")


@functools.cache
def load(name: str) -> Data:
    """A ``tabular.py`` split (Rossmann: every 10th store)."""
    return DATASETS[name](quick=name == "rossmann")


def predict(est, X: pd.DataFrame, d: Data) -> np.ndarray:
    return est.predict(X) if d.regression else est.predict_proba(X)[:, 1]


class EpochScores(Callback):
    """After each epoch: the validation metrics by the estimator's ``predict``, and
    the training time so far (wall and CPU, the scoring itself left out)."""

    def __init__(self, est, d: Data):
        self.est, self.d, self.rows = est, d, []

    def before_fit(self, learn) -> None:
        self.wall0, self.cpu0, self.spent_wall, self.spent_cpu = (
            time.perf_counter(), time.process_time(), 0.0, 0.0)  # fmt: skip

    def after_epoch(self, learn) -> None:
        w, c = time.perf_counter(), time.process_time()
        # fit sets ``model_`` only when training returns: score the network in training
        self.est.model_ = learn.model
        scores = self.d.metric(
            self.d.y_valid, predict(self.est, self.d.X_valid, self.d)
        )
        train_wall, train_cpu = (
            w - self.wall0 - self.spent_wall,
            c - self.cpu0 - self.spent_cpu,
        )
        self.rows.append({"epoch": len(self.rows) + 1, **scores,
                          "train_wall_s": train_wall, "train_cpu_s": train_cpu})  # fmt: skip
        self.spent_wall += time.perf_counter() - w
        self.spent_cpu += time.process_time() - c


def _fit_with(name: str, scores: EpochScores):
    """A stand-in for ``Learner.fit_one_cycle`` that trains with schedule ``name``
    and the epoch scorer added."""

    def fit(learn, n_epochs, lr_max, *args, start_epoch=0, **kwargs):
        lr_sched, mom_sched = schedule(name, n_epochs)
        with learn.added_cbs([scores]):
            learn.fit_schedule(n_epochs, lr_max, lr_sched, mom_sched, start_epoch)

    return fit


def estimator(d: Data, seed: int, params: dict):
    cls = EmbeddingRegressor if d.regression else EmbeddingClassifier
    return cls(cat_cols=d.cats, cont_cols=d.conts, log_target=d.regression,
               random_state=seed, device="cpu", **params)  # fmt: skip


def fit(dataset: str, seed: int, params: dict, sched: str = "one_cycle",
        d: Data | None = None) -> tuple[dict, object]:  # fmt: skip
    """Fit on ``dataset`` (or the given split) with ``params`` and schedule ``sched``;
    returns (the record, the fitted estimator)."""
    d = load(dataset) if d is None else d
    est = estimator(d, seed, params)
    scores, finders = EpochScores(est, d), []
    real_find = Learner.lr_find

    def spy(learn, *a, **k):
        finders.append(real_find(learn, *a, **k))
        return finders[-1]

    with ExitStack() as stack:
        stack.enter_context(threadpool_limits(THREADS))
        stack.enter_context(
            mock.patch.object(Learner, "fit_one_cycle", _fit_with(sched, scores))
        )
        stack.enter_context(mock.patch.object(Learner, "lr_find", spy))
        t0 = time.perf_counter()
        est.fit(d.X_train, d.y_train)
        fit_s = time.perf_counter() - t0
    metric, _ = METRIC[dataset]
    final = d.metric(d.y_valid, predict(est, d.X_valid, d))
    rec = {"metric": metric, "value": final[metric], "scores": final,
           "epochs": scores.rows, "lr": est.lr_, "fit_s": fit_s,
           "rows": len(d.X_train), "steps": est.n_steps_}  # fmt: skip
    if finders:
        f = finders[-1]
        rec["finder"] = {"lrs": f.lrs, "losses": f.losses, "suggestions": f.suggestions}
    return rec, est


def hgb(d: Data, dataset: str, seed: int) -> dict:
    """HistGradientBoosting as in ``tabular.py`` (early-stopped on the validation
    rows), one thread; returns its metrics and fit time."""
    from tabular import HGB

    with threadpool_limits(THREADS):
        t0, c0 = time.perf_counter(), time.process_time()
        res = run_hgb(d, {**HGB[dataset], "random_state": seed})
        res["wall_s"], res["cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
    metric, _ = METRIC[dataset]
    return {"metric": metric, "value": res[metric], **res}


def capped(d: Data, top: int) -> Data:
    """The split with each categorical column cut to its ``top`` most frequent
    training categories (others: "other"), as strings."""
    out = {}
    for part in ("X_train", "X_valid"):
        out[part] = getattr(d, part).copy()
    for c in d.cats:
        keep = set(d.X_train[c].astype(str).value_counts().index[:top])
        for part in out:
            col = out[part][c].astype(str)
            out[part][c] = col.where(col.isin(keep), "other")
    return Data(out["X_train"], d.y_train, out["X_valid"], d.y_valid,
                d.cats, d.conts, d.metric)  # fmt: skip


def one_hot(d: Data) -> Data:
    """The (capped) split with every categorical column one-hot encoded into 0/1
    continuous columns (the training categories; unseen ones are all zeros)."""
    cats = {c: sorted(d.X_train[c].unique()) for c in d.cats}

    def encode(X: pd.DataFrame) -> pd.DataFrame:
        parts = [X[d.conts].reset_index(drop=True)]
        for c, levels in cats.items():
            codes = pd.Categorical(X[c], categories=levels)
            dummies = pd.get_dummies(codes, prefix=c, dtype=np.float32)
            parts.append(dummies.reset_index(drop=True))
        return pd.concat(parts, axis=1)

    X_train, X_valid = encode(d.X_train), encode(d.X_valid)
    conts = list(X_train.columns)
    return Data(X_train, d.y_train, X_valid, d.y_valid, [], conts, d.metric)


def embedded(est, d: Data) -> Data:
    """The split as the fitted estimator's ``transform`` (learned embeddings and
    processed continuous columns), all continuous."""
    cols = [str(c) for c in est.get_feature_names_out()]
    X_train = pd.DataFrame(est.transform(d.X_train), columns=cols)
    X_valid = pd.DataFrame(est.transform(d.X_valid), columns=cols)
    return Data(X_train, d.y_train, X_valid, d.y_valid, [], cols, d.metric)
