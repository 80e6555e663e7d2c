"""Tabular benchmark: tabtext's EmbeddingModel against gradient boosting, fastai and
RealMLP.

Four real datasets from ../shared/data, each with one split and one feature set shared
by every peer. The validation rows are where the metrics are measured; every peer also
uses them to keep its best epoch (networks) or to stop boosting (GBDTs).

- rossmann: last 6 weeks of train.parquet by Date, closed days (Sales == 0) dropped,
  RMSPE (Kaggle's metric). Features: store metadata, calendar parts, competition age,
  days since / until each store's last / next holiday, promo and closed day.
- adult: stratified 20% of train; accuracy and ROC AUC of ``income == ">50K"``.
- bike: dteday >= 2012-07-01 (last 3 months); RMSLE of ``cnt`` (no casual/registered).
- amazon: stratified 20%; ROC AUC of ACTION; the 9 ID codes are all categorical.

Peers: ``tabtext`` (``EmbeddingRegressor`` / ``EmbeddingClassifier`` with their
default parameters: the headline row), ``tabtext-tuned`` (one config per dataset
below), scikit-learn's ``HistGradientBoosting*`` with native categorical support and
early stopping, and in subprocesses of their own environments LightGBM and CatBoost
(``--gbdt-python``), fastai's ``tabular_learner`` (``--fastai-python``) and
pytabkit's RealMLP-TD (``--pytabkit-python``); a peer whose interpreter is not given
is skipped. Regression peers all fit log1p(y). Fit time runs from raw frames to a
trained model (preprocessing and per-epoch validation included); training rows/s is
rows x epochs (x passes per epoch, where tabtext repeats a small table's rows to make
200 steps) / fit time for the networks, rows / fit time for the GBDTs. The networks
run ``--seeds`` times (Rossmann and RealMLP once), the peers taking turns seed by seed,
and metrics show mean ± std.

Time it with nothing else running, under OpenMP's default wait policy (waiting
threads spin briefly), as a user's script runs: on this 2-core machine an Adult
training step of tabtext takes ~4 ms, and 9-10 ms under ``OMP_WAIT_POLICY=PASSIVE``.
On a machine busy with other work, set ``OMP_WAIT_POLICY=PASSIVE`` before running it
(every peer's subprocess inherits it), or 2 threads can run 5-15x slower than 1.

    python benchmarks/tabular.py --gbdt-python /work/gbdt-venv/bin/python \
        --fastai-python /work/fastai-venv/bin/python \
        --pytabkit-python /work/pytabkit-venv/bin/python
    python benchmarks/tabular.py --quick --datasets adult bike --models tabtext hgb

``--tune N`` is the tuned mode (:mod:`_tabular_tuned`): ``tabtext`` with its
defaults, ``tabtext-optuna`` and ``lightgbm-optuna`` each tuned with N trials of the
same seeded TPE sampler on the validation rows, and ``catboost`` with its defaults;
the searches once, the defaults as usual (``--seeds``), with the time of each
tuning run and the best parameters found:

    python benchmarks/tabular.py --tune 30 --gbdt-python /work/gbdt-venv/bin/python
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.ensemble import HistGradientBoostingClassifier as HGBClassifier
from sklearn.ensemble import HistGradientBoostingRegressor as HGBRegressor
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Timer, data_dir, markdown_table, peer_python, run_peer  # noqa: E402
from _tabular_tuned import (  # noqa: E402
    LGBM_TUNE_SCRIPT,
    TUNED_COLUMNS,
    lightgbm_optuna_args,
    lightgbm_optuna_report,
    run_tabtext_optuna,
)

from tabtext.tabular import EmbeddingClassifier, EmbeddingRegressor  # noqa: E402

COLUMNS = [
    "dataset", "model", "RMSPE", "RMSLE", "accuracy", "AUC", "fit s", "predict s",
    "train rows/s", "epochs/iters", "batch size", "seeds",
]  # fmt: skip
METRICS = ("RMSPE", "RMSLE", "accuracy", "AUC")

# "tabtext" is the estimator with its defaults; "tabtext-tuned" adds one config per
# dataset (every epoch run, the best kept). FASTAI_Y_RANGE: a sigmoid onto (0, 1.2 x
# the largest training log-target), the y_range of fastai's Rossmann lesson.
FASTAI_Y_RANGE = "fastai"
TABTEXT = {
    "rossmann": dict(
        emb_sizes={"DayOfWeek": 4}, layers=(200, 100), ps=(0.0, 0.0), emb_drop=0.1,
        weight_decay=0.2, epochs=8, lr=1e-2, batch_size=2048, n_iter_no_change=None,
    ),
    "adult": dict(
        ps=(0.1, 0.1), emb_drop=0.1, weight_decay=0.1, epochs=5, lr=1e-2,
        batch_size=512, n_iter_no_change=None,
    ),
    "bike": dict(
        y_range=FASTAI_Y_RANGE, emb_drop=0.1, epochs=20, lr=1e-3, batch_size=64,
        n_iter_no_change=None,
    ),
    "amazon": dict(ps=(0.3, 0.3), emb_drop=0.3, epochs=5, lr=1e-2, batch_size=256,
                   n_iter_no_change=None),
}  # fmt: skip
HGB = {  # more leaves for Rossmann's 770k rows; scikit-learn's defaults otherwise
    "rossmann": dict(max_iter=1000, max_leaf_nodes=127),
    "adult": dict(max_iter=1000),
    "bike": dict(max_iter=1000),
    "amazon": dict(max_iter=1000),
}
# tabular_learner's defaults (layers [200, 100], bs 64, lr 1e-3, wd 0.01, no dropout),
# y_range=FASTAI_Y_RANGE for regression; SaveModelCallback keeps the best epoch.
FASTAI = {
    "rossmann": dict(epochs=3, lr=1e-3, bs=64),
    "adult": dict(epochs=5, lr=1e-3, bs=64),
    "bike": dict(epochs=20, lr=1e-3, bs=64),
    "amazon": dict(epochs=5, lr=1e-3, bs=64),
}
# LightGBM and CatBoost: the packages' defaults, early-stopped on the validation rows
# after 100 rounds without progress; LightGBM's 100 rounds are raised to 2,000 (its
# default is meant for no early stopping), CatBoost keeps its 1,000 (its automatic
# learning rate is set for that many). Rossmann: 127 leaves, as for HGB.
GBDT = {
    "lightgbm": {
        "rossmann": dict(n_estimators=2000, params=dict(num_leaves=127)),
        "adult": dict(n_estimators=2000, params={}),
        "bike": dict(n_estimators=2000, params={}),
        "amazon": dict(n_estimators=2000, params={}),
    },
    "catboost": {name: dict(n_estimators=1000, params={}) for name in TABTEXT},
}
GBDT_PATIENCE = 100
# RealMLP-TD (pytabkit): its defaults (256 epochs, best epoch on the validation rows);
# Rossmann's 770k rows x 256 epochs would take many hours on 2 cores: 8 epochs there.
REALMLP = {"rossmann": dict(n_epochs=8)}
REALMLP_EPOCHS = 256
PEER_VENV = {"fastai": "fastai", "lightgbm": "gbdt", "catboost": "gbdt",
             "realmlp": "pytabkit", "lightgbm-optuna": "gbdt"}  # fmt: skip
OPTUNA_MODELS = ("tabtext-optuna", "lightgbm-optuna")  # searched with --tune N trials
MODELS = ["tabtext", "tabtext-tuned", "hgb", "lightgbm", "catboost", "fastai",
          "realmlp", *OPTUNA_MODELS]  # fmt: skip
TUNE_MODELS = ["tabtext", "tabtext-optuna", "lightgbm-optuna", "catboost"]  # --tune
QUICK = {"tabtext": {"epochs": 2}, "hgb": {"max_iter": 50}, "fastai": {"epochs": 1},
         "lightgbm": {"n_estimators": 50}, "catboost": {"n_estimators": 50},
         "realmlp": {"n_epochs": 2}}  # fmt: skip
MAX_SEEDS = {"rossmann": 1}  # one fastai run on Rossmann takes ~10 minutes
MODEL_MAX_SEEDS = {"realmlp": 1}  # 256 epochs: ~10 minutes a fit on 2 cores
HGB_MAX_CATEGORIES = 255  # HGB's native categorical support takes <= 255 categories


# ---- datasets -----------------------------------------------------------------------
def rmspe(y, pred) -> dict:
    """Kaggle's Rossmann metric over rows with y > 0."""
    y, pred = np.asarray(y, float), np.asarray(pred, float)
    keep = y > 0
    return {"RMSPE": float(np.sqrt(np.mean(((y[keep] - pred[keep]) / y[keep]) ** 2)))}


def rmsle(y, pred) -> dict:
    pred = np.clip(np.asarray(pred, float), 0, None)
    return {"RMSLE": float(np.sqrt(np.mean((np.log1p(pred) - np.log1p(y)) ** 2)))}


def binary(y, proba) -> dict:
    return {"accuracy": accuracy_score(y, proba > 0.5), "AUC": roc_auc_score(y, proba)}


@dataclass
class Data:
    X_train: pd.DataFrame
    y_train: np.ndarray
    X_valid: pd.DataFrame
    y_valid: np.ndarray
    cats: list[str]
    conts: list[str]
    metric: Callable[[np.ndarray, np.ndarray], dict]  # (y, prediction or P(1)) -> {}

    @property
    def regression(self) -> bool:
        """Regression targets here are counts: every peer fits log1p(y)."""
        return self.metric is not binary


def _split(train: pd.DataFrame, valid: pd.DataFrame, target, cats, conts, metric):
    cols = cats + conts
    y_train, y_valid = train[target].to_numpy(), valid[target].to_numpy()
    return Data(train[cols], y_train, valid[cols], y_valid, cats, conts, metric)


def fastai_y_range(d: Data) -> list[float] | None:
    """fastai's Rossmann recipe: a sigmoid onto (0, 1.2 x the largest log-target)."""
    return [0.0, 1.2 * float(np.log1p(d.y_train.max()))] if d.regression else None


def rossmann_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Calendar parts, competition age, and per store the days since the last / until
    the next state holiday, school holiday, promo and closed day (clipped to 30).

    Promos, holidays and opening days are planned ahead (Kaggle's test file has them),
    so looking forward uses no future sales.
    """
    t = frame.sort_values(["Store", "Date"], ignore_index=True)
    date = t["Date"]
    t["Year"], t["Month"], t["Day"] = date.dt.year, date.dt.month, date.dt.day
    t["Week"] = date.dt.isocalendar().week.astype("int64")
    parts = {"year": t["CompetitionOpenSinceYear"], "day": 15}
    parts["month"] = t["CompetitionOpenSinceMonth"]
    since = pd.to_datetime(parts, errors="coerce")
    t["CompetitionMonthsOpen"] = ((date - since).dt.days / 30).clip(-24, 240)
    flags = {
        "StateHoliday": t["StateHoliday"] != "0",
        "SchoolHoliday": t["SchoolHoliday"] == 1,
        "Promo": t["Promo"] == 1,
        "Closed": t["Open"] == 0,
    }
    for event, flag in flags.items():
        hits = date.where(flag).groupby(t["Store"])
        t[f"After{event}"] = (date - hits.ffill()).dt.days.clip(0, 30).fillna(30)
        t[f"Before{event}"] = (hits.bfill() - date).dt.days.clip(0, 30).fillna(30)
    return t


ROSSMANN_CATS = [
    "Store", "DayOfWeek", "StateHoliday", "SchoolHoliday", "Promo", "StoreType",
    "Assortment", "Promo2", "PromoInterval", "CompetitionOpenSinceYear",
    "CompetitionOpenSinceMonth", "Promo2SinceYear", "Promo2SinceWeek", "Year", "Month",
    "Day", "Week",
]  # fmt: skip
ROSSMANN_CONTS = ["CompetitionDistance", "CompetitionMonthsOpen"] + [
    f"{when}{event}"
    for event in ("StateHoliday", "SchoolHoliday", "Promo", "Closed")
    for when in ("After", "Before")
]


def load_rossmann(quick: bool = False) -> Data:
    root = data_dir() / "rossmann"
    frame = pd.read_parquet(root / "train.parquet")
    if quick:  # every 10th store keeps the time structure
        frame = frame[frame["Store"] % 10 == 1]
    frame = frame.merge(pd.read_parquet(root / "store.parquet"), on="Store", how="left")
    t = rossmann_features(frame)
    valid = t["Date"] > t["Date"].max() - pd.Timedelta(weeks=6)
    sold = t["Sales"] > 0  # closed days sell nothing: dropped, and RMSPE skips them
    train, valid = t[~valid & sold], t[valid & sold]
    return _split(train, valid, "Sales", ROSSMANN_CATS, ROSSMANN_CONTS, rmspe)


def _stratified(frame: pd.DataFrame, target: str, cats, conts, quick: bool) -> Data:
    if quick:
        frame = frame.sample(frac=0.3, random_state=0)
    train, valid = train_test_split(
        frame, test_size=0.2, stratify=frame[target], random_state=0
    )
    return _split(train, valid, target, cats, conts, binary)


def load_adult(quick: bool = False) -> Data:
    frame = pd.read_parquet(data_dir() / "adult" / "train.parquet")
    frame["income"] = (frame["income"] == ">50K").astype(np.int64)
    conts = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss"]
    conts.append("hours-per-week")
    cats = [c for c in frame.columns if c not in [*conts, "income"]]
    return _stratified(frame, "income", cats, conts, quick)


def load_amazon(quick: bool = False) -> Data:
    frame = pd.read_parquet(data_dir() / "amazon_employee_access" / "train.parquet")
    cats = [c for c in frame.columns if c != "ACTION"]
    return _stratified(frame, "ACTION", cats, [], quick)


def load_bike(quick: bool = False) -> Data:
    frame = pd.read_parquet(data_dir() / "bike_sharing" / "train.parquet")
    if quick:
        frame = frame[frame["dteday"] >= "2012-01-01"]
    valid = frame["dteday"] >= "2012-07-01"
    cats = ["season", "yr", "mnth", "hr", "holiday", "weekday", "workingday"]
    cats.append("weathersit")
    conts = ["temp", "atemp", "hum", "windspeed"]
    return _split(frame[~valid], frame[valid], "cnt", cats, conts, rmsle)


DATASETS: dict[str, Callable[..., Data]] = {
    "rossmann": load_rossmann,
    "adult": load_adult,
    "bike": load_bike,
    "amazon": load_amazon,
}


# ---- peers ---------------------------------------------------------------------------
def _report(d: Data, pred, fit_s: float, predict_s: float, rows: int, n: int) -> dict:
    """Metrics on the validation rows, times, and rows seen in training per second."""
    return {
        **d.metric(d.y_valid, pred),
        "fit s": fit_s,
        "predict s": predict_s,
        "train rows/s": round(rows / fit_s),
        "epochs/iters": n,
    }


def run_tabtext(d: Data, cfg: dict, seed: int = 0) -> dict:
    if cfg.get("y_range") == FASTAI_Y_RANGE:
        cfg = {**cfg, "y_range": tuple(fastai_y_range(d))}
    cls = EmbeddingRegressor if d.regression else EmbeddingClassifier
    est = cls(cat_cols=d.cats, cont_cols=d.conts, log_target=d.regression,
              random_state=seed, device="cpu", **cfg)  # fmt: skip
    with Timer() as fit:
        est.fit(d.X_train, d.y_train, eval_set=(d.X_valid, d.y_valid))
    with Timer() as predict:
        if d.regression:
            pred = est.predict(d.X_valid)
        else:
            pred = est.predict_proba(d.X_valid)[:, 1]
    epochs = len(est.history_)  # a small table's epoch may pass over its rows again
    rows = len(d.X_train) * epochs * est.passes_per_epoch_
    out = _report(d, pred, fit.seconds, predict.seconds, rows, epochs)
    return {**out, "batch size": getattr(est, "batch_size_", est.batch_size)}


def hgb_dtypes(d: Data) -> dict[str, pd.CategoricalDtype]:
    """Categories of each categorical column, from the training rows.

    A column with more categories than HGB takes keeps its 254 most frequent ones;
    the others become missing, which HGB routes like one more category.
    """
    dtypes = {}
    for c in d.cats:
        keep = d.X_train[c].value_counts().index[: HGB_MAX_CATEGORIES - 1]
        dtypes[c] = pd.CategoricalDtype(keep.sort_values())
    return dtypes


def as_hgb_frame(X: pd.DataFrame, dtypes: dict) -> pd.DataFrame:
    X = X.copy()
    for c, dtype in dtypes.items():
        X[c] = X[c].where(X[c].isin(dtype.categories)).astype(dtype)
    return X


def run_hgb(d: Data, cfg: dict) -> dict:
    est = (HGBRegressor if d.regression else HGBClassifier)(**cfg)
    est.set_params(categorical_features="from_dtype", early_stopping=True)
    est.set_params(random_state=0)
    y_tr, y_va = d.y_train, d.y_valid
    if d.regression:
        y_tr, y_va = np.log1p(y_tr), np.log1p(y_va)
    with Timer() as fit:
        dtypes = hgb_dtypes(d)
        train, valid = as_hgb_frame(d.X_train, dtypes), as_hgb_frame(d.X_valid, dtypes)
        est.fit(train, y_tr, X_val=valid, y_val=y_va)
    with Timer() as predict:
        valid = as_hgb_frame(d.X_valid, dtypes)
        pred = est.predict(valid) if d.regression else est.predict_proba(valid)[:, 1]
    pred = np.expm1(pred) if d.regression else pred
    return _report(d, pred, fit.seconds, predict.seconds, len(train), est.n_iter_)


FASTAI_SCRIPT = r"""
import json, os, time, warnings
import numpy as np, pandas as pd, torch
from fastai.tabular.all import (Categorify, CategoryBlock, FillMissing, Normalize,
    RegressionBlock, SaveModelCallback, TabularPandas, set_seed, tabular_learner)
warnings.filterwarnings("ignore")
a = json.loads(os.environ["PEER_ARGS"])
torch.set_num_threads(a["threads"])
set_seed(a["seed"])
train, valid = pd.read_parquet(a["train"]), pd.read_parquet(a["valid"])
t0 = time.perf_counter()
df = pd.concat([train, valid], ignore_index=True)
splits = (list(range(len(train))), list(range(len(train), len(df))))
block = RegressionBlock() if a["regression"] else CategoryBlock()
to = TabularPandas(df, procs=[Categorify, FillMissing, Normalize], splits=splits,
                   cat_names=a["cats"], cont_names=a["conts"], y_names="target",
                   y_block=block)
dls = to.dataloaders(bs=a["bs"], device=torch.device("cpu"))
learn = tabular_learner(dls, layers=[200, 100], y_range=a["y_range"], path=a["dir"],
                        cbs=[SaveModelCallback(monitor="valid_loss", fname="best")])
with learn.no_bar(), learn.no_logging():
    learn.fit_one_cycle(a["epochs"], a["lr"])
fit = time.perf_counter() - t0
t1 = time.perf_counter()
preds, _ = learn.get_preds(dl=learn.dls.test_dl(valid))
pred_s = time.perf_counter() - t1
preds = preds[:, 0] if a["regression"] else preds[:, 1]
np.save(a["out"], preds.float().numpy())
print(json.dumps({"fit_s": fit, "predict_s": pred_s, "epochs": a["epochs"]}))
"""


GBDT_SCRIPT = r"""
import json, os, time, warnings
import numpy as np, pandas as pd
warnings.filterwarnings("ignore")
a = json.loads(os.environ["PEER_ARGS"])
train, valid = pd.read_parquet(a["train"]), pd.read_parquet(a["valid"])
y_tr, y_va = train.pop("target").to_numpy(), valid.pop("target").to_numpy()
t0 = time.perf_counter()
if a["model"] == "lightgbm":
    import lightgbm as lgb
    for c in a["cats"]:  # pandas categories from the training rows: native splits
        dtype = pd.CategoricalDtype(pd.Index(train[c].dropna().unique()).sort_values())
        train[c], valid[c] = train[c].astype(dtype), valid[c].astype(dtype)
    cls = lgb.LGBMRegressor if a["regression"] else lgb.LGBMClassifier
    est = cls(n_estimators=a["n_estimators"], n_jobs=a["threads"], random_state=0,
              verbose=-1, **a["params"])
    est.fit(train, y_tr, eval_set=[(valid, y_va)],
            callbacks=[lgb.early_stopping(a["patience"], verbose=False)])
    iters = int(est.best_iteration_ or a["n_estimators"])
else:
    from catboost import CatBoostClassifier, CatBoostRegressor
    for c in a["cats"]:  # CatBoost takes str/int categories, no NaN
        for f in (train, valid):
            f[c] = f[c].astype(object).where(f[c].notna(), "nan").astype(str)
    cls = CatBoostRegressor if a["regression"] else CatBoostClassifier
    est = cls(iterations=a["n_estimators"], thread_count=a["threads"], random_seed=0,
              verbose=False, cat_features=a["cats"],
              early_stopping_rounds=a["patience"], **a["params"])
    est.fit(train, y_tr, eval_set=(valid, y_va), use_best_model=True)
    iters = int(est.get_best_iteration()) + 1
fit = time.perf_counter() - t0
t1 = time.perf_counter()
pred = est.predict(valid) if a["regression"] else est.predict_proba(valid)[:, 1]
pred_s = time.perf_counter() - t1
np.save(a["out"], np.asarray(pred, dtype=np.float64))
print(json.dumps({"fit_s": fit, "predict_s": pred_s, "iters": iters}))
"""


REALMLP_SCRIPT = r"""
import json, os, time, warnings
import numpy as np, pandas as pd, torch
from pytabkit import RealMLP_TD_Classifier, RealMLP_TD_Regressor
warnings.filterwarnings("ignore")
a = json.loads(os.environ["PEER_ARGS"])
torch.set_num_threads(a["threads"])
train, valid = pd.read_parquet(a["train"]), pd.read_parquet(a["valid"])
y_tr, y_va = train.pop("target").to_numpy(), valid.pop("target").to_numpy()
for c in a["cats"]:
    for f in (train, valid):
        f[c] = f[c].astype(object).where(f[c].notna(), "nan").astype(str)
t0 = time.perf_counter()
cls = RealMLP_TD_Regressor if a["regression"] else RealMLP_TD_Classifier
est = cls(device="cpu", random_state=a["seed"], n_threads=a["threads"], verbosity=0,
          **a["params"])
est.fit(train, y_tr, X_val=valid, y_val=y_va, cat_col_names=a["cats"])
fit = time.perf_counter() - t0
t1 = time.perf_counter()
pred = est.predict(valid) if a["regression"] else est.predict_proba(valid)[:, 1]
pred_s = time.perf_counter() - t1
np.save(a["out"], np.asarray(pred, dtype=np.float64))
print(json.dumps({"fit_s": fit, "predict_s": pred_s}))
"""


def run_in_peer(d: Data, script: str, python: str, args: dict):
    """Run a peer's script in a subprocess; the frames travel as parquet files in a
    temp dir (regression targets as log1p). Returns (result dict, predictions) or
    None when the peer failed."""
    with tempfile.TemporaryDirectory(prefix="tabtext-bench-") as tmp:
        args = dict(args, cats=d.cats, conts=d.conts, regression=d.regression,
                    dir=tmp, out=str(Path(tmp) / "preds.npy"))  # fmt: skip
        parts = {"train": (d.X_train, d.y_train), "valid": (d.X_valid, d.y_valid)}
        for part, (X, y) in parts.items():
            args[part] = str(Path(tmp) / f"{part}.parquet")
            X.assign(target=np.log1p(y) if d.regression else y).to_parquet(args[part])
        res = run_peer(python, script, args, timeout=7200)
        if res is None:
            return None
        pred = np.load(args["out"]).astype(np.float64)
    return res, np.expm1(pred) if d.regression else pred


def run_fastai(d: Data, cfg: dict, python: str, threads: int, seed: int = 0):
    """fastai's tabular_learner in a subprocess."""
    args = dict(cfg, y_range=fastai_y_range(d), threads=threads, seed=seed)
    got = run_in_peer(d, FASTAI_SCRIPT, python, args)
    if got is None:
        return None
    res, pred = got
    rows = len(d.X_train) * res["epochs"]
    out = _report(d, pred, res["fit_s"], res["predict_s"], rows, res["epochs"])
    return {**out, "batch size": cfg["bs"]}


def run_realmlp(d: Data, cfg: dict, python: str, threads: int, seed: int = 0):
    """pytabkit's RealMLP-TD in a subprocess, its best epoch on the validation rows."""
    args = dict(params=cfg, threads=threads, seed=seed)
    got = run_in_peer(d, REALMLP_SCRIPT, python, args)
    if got is None:
        return None
    res, pred = got
    epochs = cfg.get("n_epochs", REALMLP_EPOCHS)
    rows = len(d.X_train) * epochs
    return _report(d, pred, res["fit_s"], res["predict_s"], rows, epochs)


def run_gbdt(d: Data, model: str, cfg: dict, python: str, threads: int) -> dict | None:
    """LightGBM or CatBoost (``model``) in a subprocess, early-stopped on the
    validation rows."""
    args = dict(cfg, model=model, threads=threads, patience=GBDT_PATIENCE)
    got = run_in_peer(d, GBDT_SCRIPT, python, args)
    if got is None:
        return None
    res, pred = got
    return _report(
        d, pred, res["fit_s"], res["predict_s"], len(d.X_train), res["iters"]
    )


# ---- main -----------------------------------------------------------------------------
def n_runs(model: str, name: str, args) -> int:
    """Seeds a peer runs on a dataset: ``--seeds``, capped; the GBDTs once."""
    if model in ("hgb", *GBDT, *OPTUNA_MODELS):
        return 1
    cap = min(MAX_SEEDS.get(name, args.seeds), MODEL_MAX_SEEDS.get(model, args.seeds))
    return min(args.seeds, cap)


def run_model(
    model: str, name: str, d: Data, args, peers: dict, seed: int
) -> dict | None:
    """One run of a peer on one dataset with that dataset's config (shortened by
    --quick). None when the peer's interpreter is missing or its run failed."""
    configs = {"tabtext": {}, "tabtext-tuned": TABTEXT, "hgb": HGB, "fastai": FASTAI,
               "realmlp": REALMLP, **GBDT}  # fmt: skip
    if model in OPTUNA_MODELS:
        return run_optuna(model, d, args, peers)
    cfg = dict(configs[model].get(name, {}))
    if args.quick:
        cfg.update(QUICK[model.removesuffix("-tuned")])
    if model == "hgb":
        return run_hgb(d, cfg)
    if model in ("tabtext", "tabtext-tuned"):
        return run_tabtext(d, cfg, seed)
    python = peers.get(PEER_VENV[model])
    if python is None:
        return None
    if model in GBDT:
        return run_gbdt(d, model, cfg, python, args.threads)
    if model == "fastai":
        return run_fastai(d, cfg, python, args.threads, seed)
    return run_realmlp(d, cfg, python, args.threads, seed)


def run_optuna(model: str, d: Data, args, peers: dict) -> dict | None:
    """``model`` tuned with ``--tune`` trials (``--tune-timeout`` seconds at most)."""
    if model == "tabtext-optuna":
        return run_tabtext_optuna(d, args.tune, args.tune_timeout, Timer)
    if peers.get("gbdt") is None:
        return None
    tune_args = lightgbm_optuna_args(args.tune, args.tune_timeout, args.threads)
    got = run_in_peer(d, LGBM_TUNE_SCRIPT, peers["gbdt"], tune_args)
    return None if got is None else lightgbm_optuna_report(d, *got)


def limit_rows(d: Data, n: int | None) -> Data:
    """At most ``n`` training rows, drawn at random (seeded); all validation rows."""
    if n is None or len(d.X_train) <= n:
        return d
    keep = np.sort(np.random.default_rng(0).choice(len(d.X_train), n, replace=False))
    return replace(d, X_train=d.X_train.iloc[keep], y_train=d.y_train[keep])


def run_dataset(name: str, d: Data, args, peers: dict) -> dict[str, list[dict]]:
    """Every peer's runs on one dataset, seed by seed: seed 0 of each peer, then
    seed 1 of each, ..., so that a drift in the machine's speed (this shared
    2-core machine's op-bound steps vary by up to ~1.7x over an hour, at the same
    sgemm rate) reaches every peer alike."""
    runs: dict[str, list[dict]] = {model: [] for model in args.models}
    for seed in range(max(n_runs(m, name, args) for m in args.models)):
        for model in args.models:
            if seed >= n_runs(model, name, args):
                continue
            with threadpool_limits(args.threads):
                res = run_model(model, name, d, args, peers, seed)
            print(name, model, seed, res, file=sys.stderr)
            if res is not None:
                runs[model].append(res)
    return runs


def summarize(runs: list[dict]) -> dict:
    """Metrics as mean ± std over seeds, times and rates as means."""
    out = {}
    for key in runs[0]:
        values = [r[key] for r in runs]
        if key in METRICS:
            spread = f" ± {np.std(values):.4f}" if len(runs) > 1 else ""
            out[key] = f"{np.mean(values):.4f}{spread}"
        elif isinstance(values[0], str):  # a tuned run's trials and parameters
            out[key] = values[0]
        else:
            out[key] = type(values[0])(np.mean(values))
    return {**out, "seeds": len(runs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", choices=list(DATASETS),
                    default=list(DATASETS))  # fmt: skip
    ap.add_argument("--models", nargs="+", choices=MODELS, default=None,
                    help=f"default: all but {OPTUNA_MODELS}; with --tune, "
                         f"{TUNE_MODELS}")  # fmt: skip
    ap.add_argument("--tune", type=int, default=None, metavar="N",
                    help="tuned mode: Optuna searches of N trials")  # fmt: skip
    ap.add_argument("--tune-timeout", type=float, default=None, metavar="S",
                    help="cut each tuning run after S seconds")  # fmt: skip
    ap.add_argument("--max-train-rows", type=int, default=None, metavar="N",
                    help="train on at most N rows (a seeded random subset)")  # fmt: skip
    ap.add_argument("--quick", action="store_true", help="small subsets, few epochs")
    ap.add_argument("--seeds", type=int, default=3,
                    help="runs per network (seeds 0..N-1); Rossmann: 1")  # fmt: skip
    ap.add_argument("--threads", type=int, default=2,
                    help="torch and OpenMP threads, for every peer")  # fmt: skip
    for venv in sorted(set(PEER_VENV.values())):
        ap.add_argument(f"--{venv}-python", default=None,
                        help=f"python of a venv with {venv} (else skipped)")  # fmt: skip
    ap.add_argument("--out", default=None, help="also write the table to this file")
    args = ap.parse_args()
    if args.models is None:
        args.models = (
            TUNE_MODELS if args.tune else [m for m in MODELS if m not in OPTUNA_MODELS]
        )
    if args.tune is None and set(args.models) & set(OPTUNA_MODELS):
        ap.error(f"{OPTUNA_MODELS} need --tune N (the number of trials)")
    torch.set_num_threads(args.threads)
    peers = {
        venv: peer_python(getattr(args, f"{venv}_python"))
        for model, venv in PEER_VENV.items()
        if model in args.models
    }
    rows = []
    for name in args.datasets:
        d = limit_rows(DATASETS[name](quick=args.quick), args.max_train_rows)
        sizes = f"{len(d.X_train):,} train / {len(d.X_valid):,} valid rows"
        print(f"{name}: {sizes}, {len(d.cats)} categorical + {len(d.conts)} continuous",
              file=sys.stderr)  # fmt: skip
        for model, runs in run_dataset(name, d, args, peers).items():
            if runs:
                rows.append({"dataset": name, "model": model, **summarize(runs)})
    table = markdown_table(rows, TUNED_COLUMNS if args.tune else COLUMNS)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
