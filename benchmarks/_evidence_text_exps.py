"""The text experiments of the evidence report (tips 1, 3, 4, 6, 7, 8, 9): their
cells (finetune flags per variant) and how each is summarised."""

from __future__ import annotations

import functools
from pathlib import Path

import _evidence_text as T
from _evidence_cells import Cell, Experiment, Summary
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

SHARED = T.SHARED_LM_FLAGS
CLAS_LRS = [10 ** (-3 + k / 3) for k in range(7)]  # 1e-3 .. 1e-1
LABELS = (100, 300, 1000, 3000, 10000, 22500)
SCRATCH = ["--no-pretrained", "--lm-ft-epochs", "0"]  # imdb.py's from-scratch quick row
NOT_IN_CLI = ("chain-thaw and cosine annealing instead of STLR are not reachable "
              "through the finetune CLI (it always trains with STLR): not measured")  # fmt: skip


def variant_rows(results: dict, variants, seeds_key=lambda v: v) -> list[dict]:
    rows = []
    for v in variants:
        xs = values(by_seed(results, seeds_key(v)))
        m, s = mean_std(xs)
        rows.append(
            {"variant": v, "accuracy": fmt(xs), "_m": m if xs else None, "_s": s}
        )
    return rows


def _table_summary(name: str, title: str, variants, verdict_fn):
    def summarize(results: dict, img: Path) -> Summary:
        rows = variant_rows(results, variants)
        verdict, notes = verdict_fn(results, rows)
        plots = T.bar_plot(rows, img, f"{name}.png", title)
        return Summary(rows, ["variant", "accuracy"], verdict, plots, notes)

    return summarize


def _vals(results, v):
    return values(by_seed(results, v))


# ---- tip 1: classifier LR grid ------------------------------------------------------
LR_VARIANTS = {
    f"clas-lr {lr:.1e}": [*SHARED, "--clas-lr", f"{lr:.3g}"] for lr in CLAS_LRS
}


def _lr_verdict(results, rows):
    done = [r for r in rows if r["_m"] is not None]
    if not done:
        return f"{MISSING}: no finished cells", []
    best = max(done, key=lambda r: r["_m"])
    return (f"**not testable through the CLI**: finetune exposes no range test for the "
            f"classifier; the grid's best is {best['variant']} "
            f"({best['_m']:.4f})", [])  # fmt: skip


# ---- tip 3: ULMFiT's classifier fine-tuning ablation --------------------------------
ULMFIT = "gradual unfreezing + discriminative + STLR (ULMFiT)"
ABLATION = {
    "full, one LR": [*SHARED, "--unfreeze", "--lr-decay", "1", "--clas-epochs", "4"],
    "full + discriminative": [*SHARED, "--unfreeze", "--lr-decay", "2.6",
                              "--clas-epochs", "4"],
    "last layer only": [*SHARED, "--unfreeze", "1", "--clas-epochs", "0"],
    "gradual unfreezing, one LR": [*SHARED, "--unfreeze", "1", "2", "3", "--lr-decay", "1"],
    ULMFIT: [*SHARED, "--unfreeze", "1", "2", "3", "--lr-decay", "2.6"],
}  # fmt: skip


def _ablation_verdict(results, rows):
    u = _vals(results, ULMFIT)
    others = [v for v in ABLATION if v != ULMFIT and _vals(results, v)]
    if not u or not others:
        return f"{MISSING}: no finished cells", [NOT_IN_CLI]
    hits = sum(not clearly_better(_vals(results, v), u, True) for v in others)
    return verdict_from_counts(hits, len(others), "ULMFiT's recipe is at least as "
                               "accurate as each other variant (within a std)"), [NOT_IN_CLI]  # fmt: skip


# ---- tip 4: transfer and the learning curve ----------------------------------------
TRANSFER = {
    "shipped LM, fine-tuned 1 epoch": [],
    "no pretraining (LM on IMDB alone)": ["--no-pretrained"],
    "shipped LM, no LM fine-tuning": ["--lm-ft-epochs", "0"],
    "shared LM (fine-tuned on all IMDB texts)": [*SHARED],
}
CURVE = {"ULMFiT (shared LM)": SHARED, "no pretraining": SCRATCH}


def curve_cells(seeds: int) -> list[Cell]:
    cells = variant_cells_for(TRANSFER, seeds)
    for name, flags in CURVE.items():
        cells += [Cell(f"{name} N={n}/seed={s}", {"v": f"{name} N={n}", "seed": s,
                       "flags": [*flags, "--max-labels", str(n)]})
                  for n in LABELS for s in range(seeds)]  # fmt: skip
    for kind in ("tfidf", "nb"):
        cells += [Cell(f"{kind} N={n}/seed={s}", {"linear": kind, "n": n, "seed": s})
                  for n in LABELS for s in range(seeds)]  # fmt: skip
    return cells


def variant_cells_for(variants, seeds):
    return [Cell(f"{v}/seed={s}", {"v": v, "flags": f, "seed": s})
            for v, f in variants.items() for s in range(seeds)]  # fmt: skip


@functools.cache
def _linear_data(kind: str, seed: int):
    from imdb import Split, _clean, _vectorizer, load_imdb

    path, texts, y = load_imdb(str(T.imdb_data()), None, seed, T.RESULTS)
    s = Split(texts, y, 0.1, seed)
    v = _vectorizer(kind)
    return s, v.fit_transform([_clean(t) for t in s.train_texts]), v.transform(
        [_clean(t) for t in s.valid_texts])  # fmt: skip


def curve_run(p: dict) -> dict:
    if "linear" not in p:
        return T.run_finetune(
            "transfer_text", f"{p['v']}/seed={p['seed']}", p["flags"], p["seed"]
        )
    from imdb import fit_linear

    from tabtext.nlp.training.sampling import balanced_subset

    s, X, X_valid = _linear_data(p["linear"], p["seed"])
    n = min(p["n"], T.SMOKE_MAX_LABELS) if T.SMOKE else p["n"]
    rows = balanced_subset(s.y_train, n, p["seed"])
    res = fit_linear(
        p["linear"], X, rows, s.y_train[rows], X_valid, s.y_valid, None, p["seed"]
    )
    return {"value": res["accuracy"], **res}


CURVE_METHODS = {"ULMFiT (shared LM)": "ULMFiT (shared LM)", "no pretraining":
                 "no pretraining", "TF-IDF + LR": "tfidf", "NB-LR": "nb"}  # fmt: skip


def curve_summary(results: dict, img: Path) -> Summary:
    rows = variant_rows(results, TRANSFER)
    fig, (ax,) = figure(1, 5.5, 3.8)
    curves = {}
    for label, prefix in CURVE_METHODS.items():
        pts = [(n, values(by_seed(results, f"{prefix} N={n}"))) for n in LABELS]
        for n, xs in pts:
            rows.append({"variant": f"{label}, {n:,} labels", "accuracy": fmt(xs)})
        pts = [(n, *mean_std(xs)) for n, xs in pts if xs]
        curves[label] = {n: m for n, m, _ in pts}
        if pts:
            n, m, s = zip(*pts)
            ax.errorbar(n, m, yerr=s, marker="o", label=label)
    ax.set(xscale="log", xlabel="labeled reviews", ylabel="validation accuracy",
           title="IMDB learning curve")  # fmt: skip
    if any(curves.values()):
        ax.legend(fontsize=7)
    plots = [save(fig, img, "transfer_curve.png")]
    checks = [
        (_vals(results, "shipped LM, fine-tuned 1 epoch"),
         _vals(results, "no pretraining (LM on IMDB alone)")),
        (_vals(results, "shared LM (fine-tuned on all IMDB texts)"),
         _vals(results, "shipped LM, no LM fine-tuning")),
    ]  # fmt: skip
    done = [(a, b) for a, b in checks if a and b]
    hits = sum(not clearly_better(b, a, True) and mean_std(a)[0] > mean_std(b)[0]
               for a, b in done)  # fmt: skip
    u, scratch = curves.get("ULMFiT (shared LM)", {}), curves.get("no pretraining", {})
    if 100 in u and 10000 in scratch:
        done.append(None)
        hits += u[100] >= scratch[10000]
    verdict = verdict_from_counts(hits, len(done), "pretraining beats none, LM "
                                  "fine-tuning beats none, and 100 labels with ULMFiT "
                                  "match 10,000 without pretraining")  # fmt: skip
    return Summary(rows, ["variant", "accuracy"], verdict, plots)


# ---- tip 6, 8, 9 ---------------------------------------------------------------------
DROP = {f"clas-drop-mult {m}": [*SHARED, "--clas-drop-mult", str(m)]
        for m in (0, 0.3, 0.5, 1.0)}  # fmt: skip


def _drop_verdict(results, rows):
    base = _vals(results, "clas-drop-mult 0")
    others = [_vals(results, v) for v in DROP if v != "clas-drop-mult 0"]
    others = [o for o in others if o]
    if not base or not others:
        return f"{MISSING}: no finished cells", []
    hit = any(clearly_better(o, base, True) for o in others)
    return verdict_from_counts(
        int(hit), 1, "some drop_mult > 0 beats none by more than a std"
    ), []


ENSEMBLE = {"forward + backward (--ensemble)": ["--ensemble"]}


def ensemble_summary(results: dict, img: Path) -> Summary:
    recs = by_seed(results, "forward + backward (--ensemble)")
    parts = {"forward": [r["result"]["metrics"]["forward"]["valid_accuracy"] for r in recs],
             "backward": [r["result"]["metrics"]["backward"]["valid_accuracy"] for r in recs],
             "ensemble": values(recs)}  # fmt: skip
    rows = [{"variant": k, "accuracy": fmt(v), "_m": mean_std(v)[0] if v else None,
             "_s": mean_std(v)[1]} for k, v in parts.items()]  # fmt: skip
    hits = sum(e > f for e, f in zip(parts["ensemble"], parts["forward"]))
    verdict = verdict_from_counts(
        hits, len(recs), "the ensemble beats the forward model"
    )
    plots = T.bar_plot(rows, img, "ensemble_text.png", "forward + backward")
    return Summary(rows, ["variant", "accuracy"], verdict, plots)


TIME = {
    f"{e} classifier epoch(s)": [*SHARED, "--clas-epochs", str(e)] for e in (1, 2, 3)
}


def time_summary(results: dict, img: Path) -> Summary:
    rows = []
    for v in TIME:
        recs = by_seed(results, v)
        mins = [r["wall_s"] / 60 for r in recs]
        rows.append({"variant": v, "accuracy": fmt(values(recs)),
                     "classifier minutes": fmt(mins, 1)})  # fmt: skip
    reached = [
        r for v in TIME for r in by_seed(results, v) if r["result"]["value"] >= 0.9
    ]
    total = sum(len(by_seed(results, v)) for v in TIME)
    notes = ["Minutes: the classifier's run alone; the shared LM's fine-tuning on all "
             "IMDB texts comes on top (its run's own log)."]  # fmt: skip
    verdict = verdict_from_counts(
        len(reached), total, "a run reaches 90% validation accuracy"
    )
    if reached:
        fastest = min(r["wall_s"] for r in reached) / 60
        verdict += f"; fastest: {fastest:.1f} classifier minutes"
    return Summary(
        rows, ["variant", "accuracy", "classifier minutes"], verdict, [], notes
    )


def _multilabel(results: dict, img: Path) -> Summary:
    from _common import data_dir

    found = sorted(p.name for p in data_dir().iterdir() if p.is_dir())
    return Summary([], [], "not measured: no real multi-label table or text among the "
                   f"shared data sets ({', '.join(found)}); none is synthesised")  # fmt: skip


P = "Howard & Ruder 2018 (ULMFiT)"
TEXT_EXPERIMENTS = [
    T.text_experiment(
        "lr_grid_text", 1, "LR for the text classifier",
        "Pick the LR from a range test rather than a grid.",
        "Classifier from the shared LM, `--clas-lr` over 7 LRs 1e-3..1e-1.",
        "not quoted", LR_VARIANTS,
        _table_summary("lr_grid_text", "clas-lr grid", LR_VARIANTS, _lr_verdict)),
    T.text_experiment(
        "clas_ablation_text", 3, "ULMFiT's classifier fine-tuning ablation",
        "Gradual unfreezing, discriminative LRs and slanted triangular LRs together "
        "fine-tune the classifier best.",
        "Classifier from the shared LM (quick preset), variants through "
        "`--unfreeze`, `--lr-decay` and `--clas-epochs`: 4 classifier epochs in all "
        "(gradual unfreezing: 3 one-epoch phases + 1 with everything unfrozen; full: "
        "4 epochs unfrozen), but 'last layer only': its one head-only epoch.",
        f"{P} Table 6 (IMDb validation error per variant): not quoted here.",
        ABLATION, _table_summary("clas_ablation_text", "fine-tuning variants",
                                 ABLATION, _ablation_verdict)),
    Experiment("transfer_text", 4, "Transfer and the learning curve",
               "Pretrain a general LM, fine-tune it on the target texts, then the "
               "classifier: far fewer labels for the same accuracy.",
               "quick preset; learning curve with `--max-labels N` (balanced), the "
               "shared LM vs no pretraining, TF-IDF + LR and NB-LR (1-2 grams, C by "
               "3-fold CV) on the same reviews.",
               f"{P}, abstract: 'with only 100 labeled examples, it matches the "
               "performance of training from scratch on 100x more data' (Figure 3); "
               "Tables 4-5 not quoted here.",
               curve_cells, curve_run, curve_summary, kind="text"),
    T.text_experiment(
        "drop_mult_text", 6, "AWD-LSTM dropout (drop_mult)",
        "Keep the AWD-LSTM's dropouts and scale them together with one multiplier.",
        "Classifier from the shared LM, `--clas-drop-mult` 0, 0.3, 0.5, 1.0.",
        "not quoted", DROP,
        _table_summary("drop_mult_text", "drop_mult", DROP, _drop_verdict)),
    Experiment("multilabel", 7, "Softmax against sigmoids on multi-label data",
               "Use per-label sigmoids, not a softmax, when a row may have several labels.",
               "A real multi-label table or text is needed.", "not quoted",
               lambda seeds: [], lambda p: {}, _multilabel, kind="text"),
    T.text_experiment(
        "ensemble_text", 8, "Forward + backward ensemble (text)",
        "Average a forward and a backward model's predictions.",
        "quick preset from the shipped LMs (`--ensemble`).",
        "not quoted",
        ENSEMBLE, ensemble_summary),
    T.text_experiment(
        "time_to_90_text", 9, "Time to 90% on IMDB",
        "Win on time and cost (DAWNBench).",
        "Classifier from the shared LM with 1, 2 and 3 final epochs.",
        "not quoted", TIME, time_summary),
]  # fmt: skip
