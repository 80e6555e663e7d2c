"""Tips 5, 6, 8 and 9 on tables: entity embeddings, dropout, TTA, time to a GBDT's
score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _evidence_cells import Cell, Experiment, Summary, grid
from _evidence_stats import (
    MISSING,
    by_seed,
    clearly_better,
    figure,
    fmt,
    mean_std,
    save,
    values,
    verdict_from_counts,
)
from _evidence_tabular import METRIC, capped, embedded, fit, hgb, load, one_hot
from tabular import FASTAI_Y_RANGE, TABTEXT, fastai_y_range

EMB_DATASETS = ("rossmann", "amazon")
CAP = 100  # one-hot and embedding variants: each column's 100 commonest categories
# the same MLP for every variant: continuous columns batch-normed as they are (PLR on
# 0/1 one-hot columns would be no like-for-like), all categories kept (min_freq=1)
SAME_MLP = {"num_embedding": "none", "min_freq": 1}
EMB_VARIANTS = ("one-hot", "embeddings", "embeddings, all categories")
DROPOUT = {"off": {"ps": (0.0, 0.0), "emb_drop": 0.0},
           "on (defaults: ps 0.1)": {},
           "strong (ps 0.3, emb_drop 0.1)": {"ps": (0.3, 0.3), "emb_drop": 0.1}}  # fmt: skip
ALL = ("adult", "amazon", "bike", "rossmann")


# ---- tip 5: entity embeddings ------------------------------------------------------
def emb_cells(seeds: int) -> list[Cell]:
    cells = []
    for ds in EMB_DATASETS:
        for s in range(seeds):
            cells.append(
                Cell(f"{ds}/hgb raw/seed={s}", {"ds": ds, "v": "hgb raw", "seed": s})
            )
            for v in EMB_VARIANTS:
                cells.append(Cell(f"{ds}/{v}/seed={s}", {"ds": ds, "v": v, "seed": s}))
    return cells


def emb_run(p: dict) -> dict:
    ds, v, seed = p["ds"], p["v"], p["seed"]
    d = load(ds)
    if v == "hgb raw":
        return hgb(d, ds, seed)
    if v == "one-hot":
        rec, _ = fit(ds, seed, SAME_MLP, d=one_hot(capped(d, CAP)))
        return rec
    if v == "embeddings":
        rec, _ = fit(ds, seed, SAME_MLP, d=capped(d, CAP))
        return rec
    sizes = {"DayOfWeek": 4} if ds == "rossmann" else None  # the paper's 4-d weekday
    rec, est = fit(ds, seed, {**SAME_MLP, "emb_sizes": sizes}, d=d)
    rec["hgb on embeddings"] = hgb(embedded(est, d), ds, seed)
    col = "DayOfWeek" if ds == "rossmann" else "ROLE_FAMILY"
    emb = est.embeddings_[col]
    rec["embedding"] = {"column": col, "labels": [str(x) for x in emb.index],
                        "weights": emb.to_numpy().tolist()}  # fmt: skip
    rec.pop("epochs")
    return rec


def emb_summary(results: dict, img: Path) -> Summary:
    rows, hits_oh, hits_gb, n_oh, n_gb = [], 0, 0, 0, 0
    for ds in EMB_DATASETS:
        metric, higher = METRIC[ds]
        v = {
            x: values(by_seed(results, f"{ds}/{x}")) for x in (*EMB_VARIANTS, "hgb raw")
        }
        full = by_seed(results, f"{ds}/embeddings, all categories")
        v["hgb on learned embeddings"] = [
            r["result"]["hgb on embeddings"]["value"] for r in full
        ]
        for name, xs in v.items():
            rows.append({"dataset": ds, "model": name, metric: fmt(xs)})
        if v["one-hot"] and v["embeddings"]:
            n_oh += 1
            hits_oh += clearly_better(v["embeddings"], v["one-hot"], higher)
        if v["hgb raw"] and v["hgb on learned embeddings"]:
            n_gb += 1
            hits_gb += clearly_better(
                v["hgb on learned embeddings"], v["hgb raw"], higher
            )
    verdict = verdict_from_counts(
        hits_oh + hits_gb, n_oh + n_gb,
        "embeddings beat one-hot for the same MLP, and GBDT gains from the learned "
        f"embeddings, by more than a std (MLP {hits_oh} of {n_oh}, GBDT {hits_gb} of {n_gb})",
    )  # fmt: skip
    plots = []
    maps = [by_seed(results, f"{ds}/embeddings, all categories") for ds in EMB_DATASETS]
    maps = [m[0]["result"]["embedding"] for m in maps if m]
    if maps:
        fig, axes = figure(len(maps), 4.2, 4.0)
        for ax, e in zip(axes, maps):
            w = np.asarray(e["weights"])[1:]  # row 0: the unknown/missing code
            w = w - w.mean(0)
            xy = w @ np.linalg.svd(w, full_matrices=False)[2][:2].T
            ax.scatter(xy[:, 0], xy[:, 1], s=12)
            for (x, y), lab in list(zip(xy, e["labels"][1:]))[:40]:
                ax.annotate(lab, (x, y), fontsize=7)
            ax.set(
                title=f"{e['column']} embedding, 2 PCs", xlabel="PC 1", ylabel="PC 2"
            )
        plots.append(save(fig, img, "embeddings_map.png"))
    notes = [f"one-hot and embeddings: each categorical column cut to its {CAP} most "
             "frequent training categories (others: one 'other'), so that Amazon's "
             "~15k categories fit in memory as dense one-hot; same MLP (200, 100), "
             "continuous columns without PLR. The third row keeps every category "
             "(Rossmann: DayOfWeek in 4 dimensions); its `transform` feeds the GBDT."]  # fmt: skip
    return Summary(rows, ["dataset", "model", "RMSPE", "AUC"], verdict, plots, notes)


EMB_TABULAR = Experiment(
    name="embeddings_tabular", tip=5, title="Entity embeddings",
    claim="Embed categorical columns (a day of the week in 4 dimensions) instead of "
    "one-hot encoding them; the learned embeddings also help other models and can be "
    "drawn as maps.",
    setup="Same MLP (the estimator's (200, 100), 5 epochs one-cycle) on one-hot 0/1 "
    "columns vs embedded columns; HistGradientBoosting (as in `tabular.py`, "
    "early-stopped on the validation rows) on raw columns vs on the network's "
    "`transform`; Rossmann every 10th store (RMSPE), Amazon (AUC).",
    published="Guo & Berkhahn 2016 report entity embeddings improving every model "
    "they tried on Rossmann (their tables) and a map of Germany's states; the exact "
    "figures are not quoted here.",
    cells=emb_cells, run=emb_run, summarize=emb_summary,
)  # fmt: skip


# ---- tip 6: dropout -----------------------------------------------------------------
def drop_cells(seeds: int) -> list[Cell]:
    return grid(seeds, ds=ALL, v=DROPOUT)


def drop_run(p: dict) -> dict:
    rec, _ = fit(p["ds"], p["seed"], DROPOUT[p["v"]])
    return rec


def drop_summary(results: dict, img: Path) -> Summary:
    rows, hits, total = [], 0, 0
    fig, axes = figure(len(ALL), 3.2, 3.0)
    for ax, ds in zip(axes, ALL):
        metric, higher = METRIC[ds]
        v = {x: values(by_seed(results, f"{ds}/{x}")) for x in DROPOUT}
        for i, (name, xs) in enumerate(v.items()):
            rows.append({"dataset": ds, "dropout": name, metric: fmt(xs)})
            if xs:
                ax.errorbar([i], [mean_std(xs)[0]], yerr=[mean_std(xs)[1]], marker="o")
        ax.set(xticks=range(len(DROPOUT)), xticklabels=["off", "on", "strong"],
               ylabel=metric, title=ds)  # fmt: skip
        on = [xs for name, xs in v.items() if name != "off" and xs]
        if v["off"] and len(on) == len(DROPOUT) - 1:
            total += 1
            hits += any(clearly_better(xs, v["off"], higher) for xs in on)
    verdict = verdict_from_counts(
        hits, total, "some dropout beats none by more than a std"
    )
    cols = ["dataset", "dropout", "AUC", "RMSLE", "RMSPE"]
    return Summary(rows, cols, verdict, [save(fig, img, "dropout_tabular.png")])


DROPOUT_TABULAR = Experiment(
    name="dropout_tabular", tip=6, title="Dropout (tables)",
    claim="Regularise with dropout rather than by making the network smaller.",
    setup="The estimator's defaults (5 epochs one-cycle, final epoch) with dropout "
    "off, at its defaults (ps 0.1, 0.1) and strong (ps 0.3, 0.3, emb_drop 0.1); four "
    "tables (Rossmann every 10th store).",
    published="not quoted",
    cells=drop_cells, run=drop_run, summarize=drop_summary,
)  # fmt: skip


# ---- tip 8: TTA on tables -----------------------------------------------------------
def _no_tta(results: dict, img: Path) -> Summary:
    return Summary([], [], "not measured: the tabular estimators offer no test-time "
                   "augmentation (the core's `Learner.tta` needs an augmentation of the "
                   "inputs, and tables have no standard one)")  # fmt: skip


TTA_TABULAR = Experiment(
    name="tta_tabular", tip=8, title="Test-time augmentation (tables)",
    claim="Average predictions over augmented copies of the input.",
    setup="EmbeddingClassifier / EmbeddingRegressor expose no TTA.",
    published="not quoted", cells=lambda seeds: [], run=lambda p: {},
    summarize=_no_tta,
)  # fmt: skip


# ---- tip 9: time to HistGradientBoosting's score -----------------------------------
def time_cells(seeds: int) -> list[Cell]:
    cells = [Cell(f"{ds}/hgb/seed=0", {"ds": ds, "v": "hgb", "seed": 0}) for ds in ALL]
    for v in ("defaults", "tabular.py config"):
        cells += grid(seeds, ds=ALL, v=[v])
    return cells


def time_run(p: dict) -> dict:
    ds, d = p["ds"], load(p["ds"])
    if p["v"] == "hgb":
        return hgb(d, ds, p["seed"])
    cfg = {} if p["v"] == "defaults" else dict(TABTEXT[ds])
    cfg.pop("n_iter_no_change", None)
    if cfg.get("y_range") == FASTAI_Y_RANGE:
        cfg["y_range"] = tuple(fastai_y_range(d))
    rec, _ = fit(ds, p["seed"], cfg)
    return rec


def time_summary(results: dict, img: Path) -> Summary:
    rows, hits, total = [], 0, 0
    fig, axes = figure(len(ALL), 3.4, 3.0)
    for ax, ds in zip(axes, ALL):
        metric, higher = METRIC[ds]
        gb = by_seed(results, f"{ds}/hgb")
        target = gb[0]["result"]["value"] if gb else None
        if gb:
            r = gb[0]["result"]
            rows.append({"dataset": ds, "model": "HistGradientBoosting", metric: f"{target:.4f}",
                         "minutes to HGB's score": f"{r['wall_s'] / 60:.2f} (its fit)"})  # fmt: skip
            ax.axhline(target, color="k", ls="--", label="HGB")
        for v in ("defaults", "tabular.py config"):
            recs = by_seed(results, f"{ds}/{v}")
            reached = []
            for r in recs:
                ep = r["result"]["epochs"]
                ax.plot([e["train_wall_s"] / 60 for e in ep], [e[metric] for e in ep],
                        color="C0" if v == "defaults" else "C1", alpha=0.7)  # fmt: skip
                if target is not None:
                    hit = [e["train_wall_s"] / 60 for e in ep
                           if (e[metric] >= target if higher else e[metric] <= target)]  # fmt: skip
                    reached.append(hit[0] if hit else None)
            got = [x for x in reached if x is not None]
            when = (MISSING if not recs or target is None else
                    f"{np.mean(got):.2f} ({len(got)} of {len(reached)} seeds)" if got
                    else f"not reached (0 of {len(reached)} seeds)")  # fmt: skip
            rows.append({"dataset": ds, "model": f"EmbeddingModel, {v}",
                         metric: fmt(values(recs)), "minutes to HGB's score": when})  # fmt: skip
            if v == "defaults" and recs and target is not None:
                total += 1
                hits += len(got) == len(reached)
        ax.set(xlabel="training minutes (1 thread)", ylabel=metric, title=ds)
    verdict = verdict_from_counts(hits, total, "the default network reaches "
                                  "HistGradientBoosting's validation score in every seed")  # fmt: skip
    cols = ["dataset", "model", "AUC", "RMSLE", "RMSPE", "minutes to HGB's score"]
    notes = ["Minutes: the network's training time (per-epoch scoring left out) at the "
             "first epoch whose validation metric reaches HGB's; HGB's own fit time "
             "beside it; one thread each, on a shared machine (`nice`)."]  # fmt: skip
    return Summary(rows, cols, verdict, [save(fig, img, "time_to_hgb.png")], notes)


TIME_TABULAR = Experiment(
    name="time_to_hgb", tip=9, title="Time to a gradient-boosting score (tables)",
    claim="Win on time and cost (DAWNBench): measure minutes to a target, not only the "
    "final score.",
    setup="HistGradientBoosting (`tabular.py`'s settings) once per table; the "
    "estimator with its defaults and with `tabular.py`'s per-dataset config, scored "
    "every epoch; Rossmann every 10th store.",
    published="not quoted",
    cells=time_cells, run=time_run, summarize=time_summary,
)  # fmt: skip
