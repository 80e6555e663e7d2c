"""``benchmarks/imdb.py --rating``: IMDB's star ratings (1-4 and 7-10) as 8 classes and
as a number, tabtext's ULMFiT against linear models on one split.

The split is finetune's for ``--label-col rating``: the stratified, seeded 10% of
``train.parquet`` over the 8 ratings (``--task regression`` stratifies a target with
at most 20 distinct values on the values, so both ULMFiT runs and the linear models
share it; each run's ``valid_labels.npy`` is checked against it).

- (a) 8-class classification: accuracy, and the MAE / RMSE of the predicted class
  read as a number of stars; ``E[stars]``: the MAE of the probability-weighted mean
  rating instead of the arg-max.
  TF-IDF (the 1-2 gram features of the sentiment rows) + multinomial
  LogisticRegression (saga), C by 3-fold CV (accuracy) from ``C_GRID``; ULMFiT
  ``finetune --preset P --label-col rating --task classification``.
- (b) regression: MAE and RMSE. TF-IDF + Ridge, alpha by 3-fold CV (MSE) from
  ``ALPHA_GRID``; ULMFiT ``finetune --task regression``, starting from the LM that
  run (a) fine-tuned (``--pretrained OUT/lm --lm-ft-epochs 0``): one LM fine-tuning
  serves both.
- Constant predictions (the training part's majority class and mean) for scale.

    python benchmarks/imdb.py --rating                      # ULMFiT quick: ~25 min
    python benchmarks/imdb.py --rating --linear-only        # the linear rows
    python benchmarks/imdb.py --rating --quick-smoke        # end to end, tiny
"""

from __future__ import annotations

import os
import shlex
import sys
import tempfile
from pathlib import Path

import imdb as bench
import numpy as np
import pandas as pd
from _common import Timer, data_dir, markdown_table
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold

from tabtext.nlp.text.reading import load_texts
from tabtext.nlp.text.splits import stratified_split

C_GRID = (1, 3, 10)  # all 22,500 reviews chose 3 from (3, 10, 30); a fit takes minutes
ALPHA_GRID = (0.03, 0.1, 0.3, 1, 3, 10)  # CV takes seconds
COLUMNS = [
    "model", "task", "accuracy", "MAE", "RMSE", "MAE of E[stars]", "wall s", "notes",
]  # fmt: skip


def load_ratings(data: str | None, limit: int | None, seed: int, tmp: Path):
    """The parquet file finetune reads (a stratified subset under ``tmp`` with
    ``limit``), its texts and the rating class codes, and the 8 ratings."""
    path = Path(data) if data else data_dir() / "imdb" / "train.parquet"
    path = path / "train.parquet" if path.is_dir() else path
    if not path.is_file():
        raise SystemExit(f"{path}: not found; pass --data PATH/TO/imdb/train.parquet")
    ds = load_texts(path, label_col="rating")
    texts, codes, stars = ds.texts, ds.labels, np.asarray(ds.classes, np.float64)
    if limit and limit < len(texts):
        _, keep = stratified_split(codes, limit / len(texts), seed)
        texts, codes = [texts[i] for i in keep], codes[keep]
        path = tmp / "train.parquet"
        frame = pd.DataFrame({"text": texts, "rating": stars[codes].astype(np.int64)})
        frame.to_parquet(path)
    return path, texts, codes, stars


def scores(pred_stars: np.ndarray, true_stars: np.ndarray) -> dict:
    err = np.asarray(pred_stars, np.float64) - true_stars
    return {"MAE": float(np.abs(err).mean()), "RMSE": float(np.sqrt((err**2).mean()))}


def linear_rows(s, stars: np.ndarray, C: float | None, seed: int) -> list[dict]:
    """Constant predictions, TF-IDF + LR (8 classes) and TF-IDF + Ridge."""
    y_tr, truth = stars[s.y_train], stars[s.y_valid]
    majority = np.bincount(s.y_train).argmax()
    rows = [
        {"model": "majority class", "task": "classification",
         "accuracy": float((s.y_valid == majority).mean()),
         **scores(np.full(len(truth), stars[majority]), truth), "wall s": 0.0,
         "notes": f"{stars[majority]:g} stars"},
        {"model": "training mean", "task": "regression",
         **scores(np.full(len(truth), y_tr.mean()), truth), "wall s": 0.0,
         "notes": f"{y_tr.mean():.2f} stars"},
    ]  # fmt: skip
    with Timer() as vec:
        v = bench._vectorizer("tfidf")
        X = v.fit_transform([bench._clean(t) for t in s.train_texts])
        X_valid = v.transform([bench._clean(t) for t in s.valid_texts])
    feats = f"{X.shape[1]:,} features, vectorize {vec.seconds:.0f} s"
    # saga: 141 s against lbfgs' 204 s for one fit on the 22,500 reviews (C=10,
    # loaded machine), the same accuracy (0.453 / 0.452)
    lr = LogisticRegression(solver="saga", max_iter=1000)
    est, fit_s, tune = _fit(lr, "C", C, C_GRID, X, s.y_train, seed, classify=True)
    proba = est.predict_proba(X_valid)
    rows.append({
        "model": "TF-IDF 1-2g + LR", "task": "classification",
        "accuracy": float((proba.argmax(1) == s.y_valid).mean()),
        **scores(stars[proba.argmax(1)], truth),
        "MAE of E[stars]": scores(proba @ stars, truth)["MAE"],
        "wall s": vec.seconds + fit_s, "notes": f"C={est.C:g} ({tune}); {feats}",
    })  # fmt: skip
    print(rows[-1], file=sys.stderr)
    est, fit_s, tune = _fit(Ridge(), "alpha", None, ALPHA_GRID, X, y_tr, seed, False)
    rows.append({
        "model": "TF-IDF 1-2g + Ridge", "task": "regression",
        **scores(est.predict(X_valid), truth), "wall s": vec.seconds + fit_s,
        "notes": f"alpha={est.alpha:g} ({tune}); {feats}",
    })  # fmt: skip
    print(rows[-1], file=sys.stderr)
    return rows


def _fit(est, name, value, grid, X, y, seed, classify: bool):
    """``est`` with ``name`` fixed to ``value`` or chosen by 3-fold CV from
    ``grid``, refitted on all of X; its fit seconds and how it was tuned."""
    tune = "fixed"
    if value is None:
        cv = (StratifiedKFold if classify else KFold)(
            3, shuffle=True, random_state=seed
        )
        score = None if classify else "neg_mean_squared_error"
        with Timer() as t:
            search = GridSearchCV(est, {name: list(grid)}, cv=cv, scoring=score)
            value = float(search.fit(X, y).best_params_[name])
        edge = " at the grid's edge" if value in (min(grid), max(grid)) else ""
        tune = f"CV {t.seconds:.0f} s{edge}"
    est.set_params(**{name: value})
    with Timer() as fit:
        est.fit(X, y)
    return est, fit.seconds, tune


def ulmfit_rows(data: Path, work: Path, s, stars, preset: str, extra) -> list[dict]:
    """finetune on the ratings as 8 classes, then as a number from the LM the first
    run fine-tuned."""
    rows = []
    clas_flags = ["--preset", preset, "--label-col", "rating", "--task",
                  "classification", *extra]  # fmt: skip
    name = f"rating {preset} classification"
    m = bench.run_finetune(name, data, work, clas_flags)
    lm_dir = work / bench._dirname(name) / "lm"
    if m is not None:
        run = work / bench._dirname(name)
        proba = np.load(run / "valid_outputs.npy")
        rows.append({
            "model": f"tabtext `{preset}`", "task": "classification",
            "accuracy": m["valid_accuracy"], **scores(stars[proba.argmax(1)],
                                                       stars[s.y_valid]),
            "MAE of E[stars]": scores(proba @ stars, stars[s.y_valid])["MAE"],
            "wall s": m["wall_s"], "notes": _notes(m, run, s.y_valid),
        })  # fmt: skip
    reg_flags = ["--preset", preset, "--label-col", "rating", "--task", "regression",
                 *extra]  # fmt: skip
    shared = lm_dir.is_dir()
    if shared:
        reg_flags += ["--pretrained", str(lm_dir), "--lm-ft-epochs", "0"]
    name = f"rating {preset} regression"
    m = bench.run_finetune(name, data, work, reg_flags)
    if m is not None:
        run = work / bench._dirname(name)
        lm = "the LM of the classification run" if shared else "its own LM stages"
        rows.append({
            "model": f"tabtext `{preset}`", "task": "regression",
            "MAE": m["valid_mae"], "RMSE": m["valid_rmse"], "wall s": m["wall_s"],
            "notes": f"{lm}; " + _notes(m, run, stars[s.y_valid]),
        })  # fmt: skip
    return rows


def _notes(m: dict, run: Path, expected: np.ndarray) -> str:
    labels = np.load(run / "valid_labels.npy")
    same = len(labels) == len(expected) and np.array_equal(labels, expected)
    stages = ", ".join(f"{k} {v['wall_s']:.0f} s" for k, v in m["phases"].items())
    split = "same split" if same else "SPLIT DIFFERS from the linear rows'"
    return f"{split}; tokenize {m['tokenize_s']:.0f} s, {stages}"


def main(args) -> None:
    extra = shlex.split(args.extra_args)
    cfg = bench.finetune_config(["--preset", args.rating_preset, *extra])
    with tempfile.TemporaryDirectory(prefix="tabtext-imdb-rating-") as tmp:
        work = Path(args.runs_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        data, texts, codes, stars = load_ratings(args.data, args.limit, cfg.seed, work)
        s = bench.Split(texts, codes, cfg.valid_pct, cfg.seed)
        print(f"{data}: {len(s.tr):,} train / {len(s.va):,} valid", file=sys.stderr)
        rows = linear_rows(s, stars, args.C, cfg.seed)
        if not args.linear_only:
            rows += ulmfit_rows(data, work, s, stars, args.rating_preset, extra)
    head = (
        f"IMDB star ratings `{data}` ({', '.join(f'{x:g}' for x in stars)}): "
        f"{len(s.tr):,} training / {len(s.va):,} validation reviews (finetune's "
        f"split, stratified on the rating); load average {os.getloadavg()[0]:.1f}"
        + (" — smoke test, not a measurement" if args.quick_smoke else "")
    )
    text = head + "\n\n" + markdown_table(rows, COLUMNS)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
