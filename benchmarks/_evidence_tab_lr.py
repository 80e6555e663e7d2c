"""Tips 1 and 2 on tables: the LR range test, and LR schedules (tabular cells)."""

from __future__ import annotations

import math
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
from _evidence_tabular import METRIC, fit, schedule

LR_GRID = [10 ** (-4 + k / 2) for k in range(7)]  # 1e-4 .. 1e-1, half a decade apart
LR_DATASETS = ("adult", "bike")
SCHEDULES = ("constant", "step", "cosine", "sgdr", "one_cycle")
SCHED_DATASETS = ("adult", "amazon", "bike", "rossmann")
SCHED_EPOCHS = 7  # SGDR with cycle_len=1, cycle_mult=2: 1 + 2 + 4
SCHED_LR = 1e-2  # the estimator's default LR, the same base for every schedule


# ---- tip 1: LR range test ------------------------------------------------------------
def lr_cells(seeds: int) -> list[Cell]:
    cells = []
    for ds in LR_DATASETS:
        for s in range(seeds):
            cells.append(
                Cell(f"{ds}/suggested/seed={s}", {"ds": ds, "lr": "auto", "seed": s})
            )
            for lr in LR_GRID:
                cells.append(
                    Cell(f"{ds}/lr={lr:.1e}/seed={s}", {"ds": ds, "lr": lr, "seed": s})
                )
    return cells


def lr_run(p: dict) -> dict:
    rec, _ = fit(p["ds"], p["seed"], {"lr": p["lr"]})
    return rec


def _lr_dataset(results: dict, ds: str) -> tuple[list[dict], bool | None, dict]:
    """Table rows, whether the suggestion is among the grid's best two, and data for
    the plot."""
    _, higher = METRIC[ds]
    grid = {lr: values(by_seed(results, f"{ds}/lr={lr:.1e}")) for lr in LR_GRID}
    sugg = by_seed(results, f"{ds}/suggested")
    rows = [
        {"dataset": ds, "LR": f"{lr:.1e}", METRIC[ds][0]: fmt(v)}
        for lr, v in grid.items()
    ]
    lrs = [r["result"]["lr"] for r in sugg]
    lr_txt = f"{math.exp(np.mean(np.log(lrs))):.1e} (geo. mean)" if lrs else MISSING
    rows.append(
        {"dataset": ds, "LR": f"suggested: {lr_txt}", METRIC[ds][0]: fmt(values(sugg))}
    )
    means = {lr: mean_std(v)[0] for lr, v in grid.items() if v}
    ok = None
    if sugg and len(means) == len(LR_GRID):
        s = mean_std(values(sugg))[0]
        ranked = sorted(means.values(), reverse=higher)
        ok = s >= ranked[1] if higher else s <= ranked[1]
    return rows, ok, {"grid": grid, "sugg": sugg}


def lr_summary(results: dict, img: Path) -> Summary:
    rows, hits, total, panels = [], 0, 0, []
    for ds in LR_DATASETS:
        r, ok, data = _lr_dataset(results, ds)
        rows += r
        panels.append((ds, data))
        if ok is not None:
            total, hits = total + 1, hits + ok
    verdict = verdict_from_counts(
        hits,
        total,
        "the suggested LR scores at least as well as the grid's second best LR",
    )
    fig, axes = figure(2 * len(panels))
    for i, (ds, data) in enumerate(panels):
        ax, ax2 = axes[2 * i], axes[2 * i + 1]
        pts = [(lr, *mean_std(v)) for lr, v in data["grid"].items() if v]
        if pts:
            x, m, s = zip(*pts)
            ax.errorbar(x, m, yerr=s, marker="o", label="7-LR grid")
        for r in data["sugg"]:
            ax.plot(r["result"]["lr"], r["result"]["value"], "r*", markersize=10)
        ax.set(
            xscale="log", xlabel="LR", ylabel=METRIC[ds][0], title=f"{ds}: final metric"
        )
        if data["sugg"] and "finder" in data["sugg"][0]["result"]:
            f = data["sugg"][0]["result"]["finder"]
            ax2.plot(f["lrs"], f["losses"])
            for name, lr in f["suggestions"].items():
                ax2.axvline(lr, ls=":", color="gray")
                ax2.text(lr, max(f["losses"]), name, rotation=90, fontsize=7, va="top")
        ax2.set(
            xscale="log",
            xlabel="LR",
            ylabel="smoothed loss",
            title=f"{ds}: range test (seed 0)",
        )
    plots = [save(fig, img, "lr_range_tabular.png")]
    return Summary(rows, ["dataset", "LR", "AUC", "RMSLE"], verdict, plots)


LR_TABULAR = Experiment(
    name="lr_range_tabular", tip=1, title="LR range test (tables)",
    claim="Run the LR range test (train briefly while the LR grows exponentially, "
    "watch the loss) and pick the LR where the loss still falls steeply: no grid "
    "search needed.",
    setup=f"EmbeddingClassifier/Regressor with its defaults (one-cycle, 5 epochs), "
    f"`lr=\"auto\"` (the core's `lr_find`, 'valley' suggestion) against a grid of 7 LRs "
    f"{', '.join(f'{x:.1e}' for x in LR_GRID)}; Adult (AUC) and bike sharing "
    f"(RMSLE, `log_target`), `tabular.py`'s validation rows, final-epoch model.",
    published="Smith 2015 proposes the range test and reads the bounds of a cyclical "
    "LR off it; no figure of a suggested LR against a grid is quoted here.",
    cells=lr_cells, run=lr_run, summarize=lr_summary,
)  # fmt: skip


# ---- tip 2: schedules --------------------------------------------------------------
def sched_cells(seeds: int) -> list[Cell]:
    return grid(seeds, ds=SCHED_DATASETS, sched=SCHEDULES)


def sched_run(p: dict) -> dict:
    params = {"lr": SCHED_LR, "epochs": SCHED_EPOCHS}
    rec, _ = fit(p["ds"], p["seed"], params, sched=p["sched"])
    return rec


def _curve(recs: list[dict], metric: str) -> np.ndarray:
    """Mean metric per epoch over seeds."""
    return np.mean([[e[metric] for e in r["result"]["epochs"]] for r in recs], axis=0)


def sched_summary(results: dict, img: Path) -> Summary:
    rows, annealed_hits, sgdr_hits, total = [], 0, 0, 0
    fig, axes = figure(1 + len(SCHED_DATASETS))
    for name in SCHEDULES:
        pos = np.linspace(0, 1, 700, endpoint=False)
        axes[0].plot(
            pos * SCHED_EPOCHS,
            [schedule(name, SCHED_EPOCHS)[0](p) for p in pos],
            label=name,
        )
    axes[0].set(xlabel="epoch", ylabel="LR / base LR", title="schedules")
    axes[0].legend(fontsize=7)
    for ax, ds in zip(axes[1:], SCHED_DATASETS):
        metric, higher = METRIC[ds]
        recs = {n: by_seed(results, f"{ds}/{n}") for n in SCHEDULES}
        vals = {n: values(r) for n, r in recs.items()}
        done = {n: r for n, r in recs.items() if r}
        target = None
        if len(done) == len(SCHEDULES):  # the level every schedule reaches at the end
            finals = [mean_std(v)[0] for v in vals.values()]
            target = min(finals) if higher else max(finals)
        for n in SCHEDULES:
            first = MISSING
            if n in done:
                c = _curve(done[n], metric)
                ax.plot(range(1, len(c) + 1), c, marker=".", label=n)
                if target is not None:
                    hit = np.nonzero(c >= target if higher else c <= target)[0]
                    first = int(hit[0]) + 1 if len(hit) else "never"
            rows.append({"dataset": ds, "schedule": n, "final " + metric: fmt(vals[n]),
                         "first epoch at target": first,
                         "target": f"{target:.4f}" if target is not None else MISSING})  # fmt: skip
        ax.set(xlabel="epoch", ylabel=metric, title=ds)
        if target is not None:
            total += 1
            best = max(("cosine", "sgdr", "one_cycle"),
                       key=lambda n: mean_std(vals[n])[0] * (1 if higher else -1))  # fmt: skip
            annealed_hits += clearly_better(vals[best], vals["constant"], higher)
            sgdr_hits += clearly_better(vals["sgdr"], vals["cosine"], higher)
    cols = ["dataset", "schedule", "final AUC", "final RMSLE", "final RMSPE",
            "first epoch at target", "target"]  # fmt: skip
    verdict = verdict_from_counts(
        annealed_hits,
        total,
        "the best annealed schedule (cosine, SGDR or one-cycle) "
        "beats a constant LR by more than a std",
    )
    if total:
        verdict += (
            f"; SGDR beats a single cosine by more than a std on {sgdr_hits} of {total}"
        )
    notes = ["Target: the worst schedule's mean final metric on that dataset (a level "
             "every schedule reaches by its last epoch); the epoch is that of the "
             "mean curve over seeds."]  # fmt: skip
    return Summary(
        rows, cols, verdict, [save(fig, img, "schedules_tabular.png")], notes
    )


SCHED_TABULAR = Experiment(
    name="schedules_tabular", tip=2, title="LR schedules (tables)",
    claim="Anneal the LR (cosine), restart it (SGDR, `cycle_len=1, cycle_mult=2`), or "
    "use one cycle: better and faster than a constant LR or step decay.",
    setup=f"The estimator's defaults but {SCHED_EPOCHS} epochs at base LR {SCHED_LR:g} "
    "under each schedule (constant; step decay /10 at 1/2 and 3/4; cosine to 0; SGDR "
    "1+2+4 epochs; one-cycle with its momentum cycle, the estimator's own), swapped in "
    "for `Learner.fit_one_cycle` through the core's `fit_schedule`; Adult, Amazon "
    "(AUC), bike (RMSLE), Rossmann every 10th store (RMSPE).",
    published="Loshchilov & Hutter 2017 (SGDR) report 3.14% and 16.21% test error on "
    "CIFAR-10 and CIFAR-100 with warm restarts (abstract); no tabular figure.",
    cells=sched_cells, run=sched_run, summarize=sched_summary,
)  # fmt: skip
