"""The tuned mode of ``tabular.py`` (``--tune N``): tabtext and LightGBM each tuned
with N trials of Optuna's TPE sampler, seeded alike, on the same validation rows.

Both searches minimise the validation loss (log loss for the binary tasks, mean
squared error of log1p(y) for the regressions: tabtext's loss is that of the
standardised log-target, which ranks trials alike), and both keep the best
iteration (LightGBM: early stopping after 100 rounds without progress) or epoch
(tabtext: its best epoch) on those rows. tabtext searches
``tabtext.tabular.tune``'s documented default space and refits the best trial;
LightGBM searches the space in ``LGBM_SPACE`` below and keeps the best trial's
model. A tuning run's time is the whole study (tabtext's includes its refit).
"""

from __future__ import annotations

import numpy as np

from tabtext.tabular import EmbeddingClassifier, EmbeddingRegressor, tune

TUNED_COLUMNS = [
    "dataset", "model", "RMSPE", "RMSLE", "accuracy", "AUC", "tune s", "fit s",
    "trials", "best parameters",  # "fit s": the one fit of a model with defaults
]  # fmt: skip

# LightGBM's search: the parameters its docs name for tuning accuracy, in the ranges
# of Optuna's LightGBMTuner; rounds by early stopping (at most 2,000)
LGBM_TUNE_SCRIPT = r"""
import json, os, time, warnings
import numpy as np, pandas as pd
import lightgbm as lgb
import optuna
warnings.filterwarnings("ignore")
optuna.logging.set_verbosity(optuna.logging.WARNING)
a = json.loads(os.environ["PEER_ARGS"])
train, valid = pd.read_parquet(a["train"]), pd.read_parquet(a["valid"])
y_tr, y_va = train.pop("target").to_numpy(), valid.pop("target").to_numpy()
for c in a["cats"]:  # pandas categories from the training rows: native splits
    dtype = pd.CategoricalDtype(pd.Index(train[c].dropna().unique()).sort_values())
    train[c], valid[c] = train[c].astype(dtype), valid[c].astype(dtype)
cls = lgb.LGBMRegressor if a["regression"] else lgb.LGBMClassifier
best = {}

def objective(trial):
    params = dict(
        learning_rate=trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        num_leaves=trial.suggest_int("num_leaves", 8, 256, log=True),
        min_child_samples=trial.suggest_int("min_child_samples", 5, 200, log=True),
        colsample_bytree=trial.suggest_float("colsample_bytree", 0.4, 1.0),
        subsample=trial.suggest_float("subsample", 0.4, 1.0),
        reg_alpha=trial.suggest_float("reg_alpha", 1e-8, 10.0, log=True),
        reg_lambda=trial.suggest_float("reg_lambda", 1e-8, 10.0, log=True),
    )
    est = cls(n_estimators=a["n_estimators"], n_jobs=a["threads"], random_state=0,
              subsample_freq=1, verbose=-1, **params)
    est.fit(train, y_tr, eval_set=[(valid, y_va)],
            callbacks=[lgb.early_stopping(a["patience"], verbose=False)])
    score = float(next(iter(est.best_score_["valid_0"].values())))
    if not best or score < best["score"]:
        best.update(score=score, est=est)
    return score

t0 = time.perf_counter()
study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=a["seed"]))
study.optimize(objective, n_trials=a["n_trials"], timeout=a["timeout"])
tune_s = time.perf_counter() - t0
est = best["est"]
t1 = time.perf_counter()
pred = est.predict(valid) if a["regression"] else est.predict_proba(valid)[:, 1]
pred_s = time.perf_counter() - t1
np.save(a["out"], np.asarray(pred, dtype=np.float64))
print(json.dumps({"tune_s": tune_s, "predict_s": pred_s, "trials": len(study.trials),
                  "iters": int(est.best_iteration_ or a["n_estimators"]),
                  "best": study.best_params}))
"""


def brief(params: dict) -> str:
    """``{"lr": 0.012345, "n_layers": 2}`` -> ``"lr=0.0123 n_layers=2"``."""
    return " ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in params.items()
    )


def run_tabtext_optuna(d, n_trials: int, timeout: float | None, timer) -> dict:
    """tabtext tuned by ``tabtext.tabular.tune`` on ``d``'s validation rows."""
    cls = EmbeddingRegressor if d.regression else EmbeddingClassifier
    base = cls(cat_cols=d.cats, cont_cols=d.conts, log_target=d.regression,
               random_state=0, device="cpu")  # fmt: skip
    with timer() as t:
        est, study = tune(d.X_train, d.y_train, estimator=base, n_trials=n_trials,
                          timeout=timeout, eval_set=(d.X_valid, d.y_valid), seed=0)  # fmt: skip
    if d.regression:
        pred = est.predict(d.X_valid)
    else:
        pred = est.predict_proba(d.X_valid)[:, 1]
    states = [t.state.name for t in study.trials]
    trials = f"{len(states)} ({states.count('PRUNED')} pruned)"
    return {
        **d.metric(d.y_valid, pred),
        "tune s": t.seconds,
        "trials": trials,
        "best parameters": brief(study.best_params),
    }


def lightgbm_optuna_args(n_trials: int, timeout: float | None, threads: int) -> dict:
    """The arguments of ``LGBM_TUNE_SCRIPT`` (run by ``tabular.run_in_peer``)."""
    return dict(n_trials=n_trials, timeout=timeout, threads=threads, seed=0,
                n_estimators=2000, patience=100)  # fmt: skip


def lightgbm_optuna_report(d, res: dict, pred: np.ndarray) -> dict:
    return {
        **d.metric(d.y_valid, pred),
        "tune s": res["tune_s"],
        "trials": str(res["trials"]),
        "best parameters": brief(res["best"]),
    }
