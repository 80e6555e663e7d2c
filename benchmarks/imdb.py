"""IMDB sentiment: tabtext's ULMFiT presets against linear baselines and fastai.

One split for every model: the stratified, seeded 10% validation share of
``train.parquet`` that ``python -m tabtext.nlp.finetune`` holds out
(``tabtext.nlp.text.splits.stratified_split`` with the config's ``valid_pct`` and ``seed``).

- tabtext: ``python -m tabtext.nlp.finetune --preset P`` (``--presets``, default
  ``quick cpu``; ``--extra-args`` adds flags to every run), each in its own process
  with a fresh tokenization cache (cold); accuracy, wall time per stage and tokens/s
  come from its ``metrics.json``.
- TF-IDF (1-2 grams, sublinear tf) + LogisticRegression, and NB-LR (Wang & Manning
  2012: binarized 1-2 gram features scaled by the log-count ratio r, then logistic
  regression). C is chosen by 3-fold stratified CV on the training part only, from
  ``C_GRIDS`` (``--C`` fixes it instead). Vocabulary and IDF come from the training
  part's texts (never the validation texts).
- fastai 2.8's ULMFiT recipe (``--fastai-python``): AWD-LSTM at ``quick``'s size
  (the small config: emb 200, hidden 400, 2 layers), no pretrained weights, on
  ``quick``'s LM and classifier subsets (the same reviews), vocabulary size, batch
  sizes, bptt and document clipping; an LM from scratch (fastai's
  ``fit_one_cycle``, full softmax), then the classifier with fastai's tutorial
  schedule of gradual unfreezing. The whole run, tokenization included, gets
  ``--fastai-budget-min`` (default 10, ``quick``'s budget): the LM half of what
  tokenization leaves, the classifier stages the rest by epochs; a callback stops
  each stage at its deadline, and the table says how many batches each finished.
- tabtext with the shipped LM (the default) and, for ``--scratch-presets`` (default
  ``quick``), from scratch (``--no-pretrained`` and the LM stages the preset had
  before the shipped LM, see ``SCRATCH``), side by side.
- Few labels (``--few-labels``, default 100 and 1,000): ``finetune --preset quick
  --max-labels N --unlabeled imdb/unsup.parquet``. The largest N's run fine-tunes the
  shipped LM one epoch on every text (``--lm-docs all``: the 22,500 training-part and
  50,000 unlabeled reviews, never a validation text) and writes it to ``OUT/lm``; the
  other counts start from that LM (``--pretrained OUT/lm --lm-ft-epochs 0``, the same
  vocabulary). The recipe sizes the classifier in steps (``clas_min_steps``). Against
  TF-IDF + LR and NB-LR fitted on the same N reviews (``balanced_subset``, finetune's
  selection); the vectorizers see all training-part texts without labels. Each N
  again with self-training (``--self-train``, default ``SELF_TRAIN``), from the same
  LM.

- Star ratings (``--rating``, ``benchmarks/_imdb_rating.py``): the ``rating``
  column as 8 classes and as a number, ULMFiT (``--rating-preset``) against TF-IDF +
  LR and TF-IDF + Ridge on finetune's split for that column.

    python benchmarks/imdb.py --fastai-python /tmp/fastai-venv/bin/python --out imdb.md
    python benchmarks/imdb.py --linear-only            # the linear rows, ~2 min
    python benchmarks/imdb.py --quick-smoke --fastai-python /tmp/fastai-venv/bin/python
    python benchmarks/imdb.py --rating [--linear-only | --quick-smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    REPO,
    Timer,
    data_dir,
    markdown_table,
    peer_python,
    run_peer,
)

from tabtext.nlp.cli import config_from_args  # noqa: E402
from tabtext.nlp.finetune import build_parser  # noqa: E402
from tabtext.nlp.text.reading import load_texts  # noqa: E402
from tabtext.nlp.text.splits import stratified_split  # noqa: E402
from tabtext.nlp.training.config import (  # noqa: E402
    PRESETS,
    ULMFiTConfig,
    lm_config,  # noqa: E402
)
from tabtext.nlp.training.sampling import balanced_subset, subset  # noqa: E402

PARTS = ("baselines", "tabtext", "fastai", "fewlabel")
# from-scratch rows: no pretrained LM, the preset's LM stages as they were before the
# shipped LM (quick trained its LM one epoch and did not fine-tune it)
SCRATCH = {
    "quick": ["--no-pretrained", "--lm-ft-epochs", "0"],
    "cpu": ["--no-pretrained"],
}
# C grids (3-fold CV on the training part): TF-IDF rows are L2-normalized, so LR
# wants a large C; NB-LR's r-scaled binary features a small one
C_GRIDS = {"tfidf": (1, 3, 10, 30, 100, 300, 1000), "nb": (0.01, 0.03, 0.1, 0.3, 1, 3)}
FEW_LABELS = (100, 1000)
# the few-label counts again with self-training (pseudo-labels from the unlabeled texts)
SELF_TRAIN = "--self-train 2000 --self-train-rounds 2"


COLUMNS = [
    "model", "labels", "accuracy", "wall s", "tokenize s", "LM s", "LM ft s",
    "classifier s", "LM tokens/s", "clas tokens/s", "notes",
]  # fmt: skip
STAGE_COLUMNS = ["run", "stage", "done", "s", "tokens/s", "result"]
# --quick-smoke: 2,000 reviews and these overrides on every tabtext run (a tiny model)
SMOKE_LIMIT = 2000
SMOKE_FLAGS = (
    "--lm-docs 300 --clas-docs 300 --max-vocab 2000 --emb-sz 32 --n-hid 64 "
    "--bptt 32 --max-tokens 64 --max-len 64"
)

# --rating --quick-smoke: the shipped LM's sizes (no size flags), few steps
RATING_SMOKE_FLAGS = (
    "--lm-docs 300 --clas-docs 300 --max-vocab 2000 --bptt 32 --max-tokens 64 "
    "--max-len 64 --clas-min-steps 20"
)

# -- data -------------------------------------------------------------------------


def load_imdb(data: str | None, limit: int | None, seed: int, tmp: Path):
    """Texts, labels and the parquet file every run reads (a stratified subset when
    ``limit``, written under ``tmp`` so that finetune and fastai read it too)."""
    path = Path(data) if data else data_dir() / "imdb" / "train.parquet"
    path = path / "train.parquet" if path.is_dir() else path
    if not path.is_file():
        raise SystemExit(f"{path}: not found; pass --data PATH/TO/imdb/train.parquet")
    ds = load_texts(path)
    texts, y = ds.texts, ds.labels
    if limit and limit < len(texts):
        _, keep = stratified_split(y, limit / len(texts), seed)
        texts, y = [texts[i] for i in keep], y[keep]
        path = tmp / "train.parquet"
        labels = np.asarray(ds.classes)[y]
        pd.DataFrame({"text": texts, "label": labels}).to_parquet(path)
    return path, texts, y


class Split:
    """finetune's split: ``tr``/``va`` index the file's rows, like ``make_split``."""

    def __init__(self, texts: list[str], y: np.ndarray, valid_pct: float, seed: int):
        self.tr, self.va = stratified_split(y, valid_pct, seed)
        self.train_texts = [texts[i] for i in self.tr]
        self.valid_texts = [texts[i] for i in self.va]
        self.y_train, self.y_valid = y[self.tr], y[self.va]


# -- linear baselines -------------------------------------------------------------


def _clean(text: str) -> str:
    return text.replace("<br />", " ")


class NBLogisticRegression(ClassifierMixin, BaseEstimator):
    """NB-LR (Wang & Manning 2012, "Baselines and Bigrams"), binary labels.

    ``r = log((p / |p|_1) / (q / |q|_1))`` with ``p, q = alpha + `` the summed binary
    features of the positive and negative documents; a logistic regression on
    ``x * r``. (NB-SVM's interpolation with the mean weight is left out: plain LR.)
    """

    def __init__(self, C: float = 1.0, alpha: float = 1.0):
        self.C = C
        self.alpha = alpha

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        pos = y == self.classes_[1]
        p = self.alpha + np.asarray(X[pos].sum(0)).ravel()
        q = self.alpha + np.asarray(X[~pos].sum(0)).ravel()
        self.r_ = np.log(p / p.sum()) - np.log(q / q.sum())
        self.lr_ = LogisticRegression(C=self.C, solver="liblinear", max_iter=1000)
        self.lr_.fit(self._scale(X), y)
        return self

    def _scale(self, X):
        return sp.csr_matrix(X.multiply(self.r_))

    def predict(self, X):
        return self.lr_.predict(self._scale(X))


def _vectorizer(kind: str):
    if kind == "tfidf":
        return TfidfVectorizer(
            ngram_range=(1, 2), min_df=2, max_df=0.9, sublinear_tf=True
        )
    return CountVectorizer(ngram_range=(1, 2), min_df=2, binary=True)


def _estimator(kind: str, C: float):
    if kind == "tfidf":
        return LogisticRegression(C=C, solver="liblinear", max_iter=1000)
    return NBLogisticRegression(C=C)


def fit_linear(kind: str, X_all, rows, y, X_valid, y_valid, C, seed) -> dict:
    """Choose C by 3-fold CV on ``rows`` (unless given), refit, score on validation."""
    X, tune_s = X_all[rows], 0.0
    if C is None:
        with Timer() as t:
            cv = StratifiedKFold(3, shuffle=True, random_state=seed)
            search = GridSearchCV(
                _estimator(kind, 1.0), {"C": list(C_GRIDS[kind])}, cv=cv
            )
            C = float(search.fit(X, y).best_params_["C"])
        tune_s = t.seconds
    with Timer() as fit:
        est = _estimator(kind, C).fit(X, y)
    acc = float((est.predict(X_valid) == y_valid).mean())
    return {"accuracy": acc, "fit_s": fit.seconds, "tune_s": tune_s, "C": C}


def bench_linear(s: Split, label_sets: dict, C: float | None, seed: int) -> list[dict]:
    """TF-IDF + LR and NB-LR for each ``{name: training-part rows}``."""
    rows = []
    train = [_clean(t) for t in s.train_texts]
    valid = [_clean(t) for t in s.valid_texts]
    for kind, name in (("tfidf", "TF-IDF 1-2g + LR"), ("nb", "NB-LR 1-2g")):
        with Timer() as vec:
            v = _vectorizer(kind)
            X_all, X_valid = v.fit_transform(train), v.transform(valid)
        for labels, idx in label_sets.items():
            res = fit_linear(
                kind, X_all, idx, s.y_train[idx], X_valid, s.y_valid, C, seed
            )
            tuned = f"CV {res['tune_s']:.0f} s" if res["tune_s"] else "fixed"
            rows.append({
                "model": name, "labels": labels, "accuracy": res["accuracy"],
                "wall s": vec.seconds + res["fit_s"],
                "notes": f"C={res['C']:g} ({tuned}); {X_all.shape[1]:,} features, "
                f"vectorize {vec.seconds:.0f} s + fit {res['fit_s']:.1f} s",
            })  # fmt: skip
            print(rows[-1], file=sys.stderr)
    return rows


# -- tabtext ----------------------------------------------------------------------


def run_finetune(name: str, data: Path, work: Path, flags: list[str]) -> dict | None:
    """``python -m tabtext.nlp.finetune`` in a fresh process, cache and output dir."""
    out = work / _dirname(name)
    cmd = [sys.executable, "-m", "tabtext.nlp.finetune", "--data", str(data),
           "--out", str(out), "--cache-dir", str(out / "cache"), *flags]  # fmt: skip
    print("$ " + shlex.join(cmd), file=sys.stderr)
    with Timer() as t:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"({name} failed: {proc.stderr[-3000:]})", file=sys.stderr)
        return None
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["process_s"] = t.seconds
    metrics["config"] = json.loads((out / "config.json").read_text())
    return metrics


def _dirname(run: str) -> str:
    return run.replace(", ", "-").replace(" ", "-")


def tabtext_row(model: str, m: dict) -> dict:
    ph, cfg = m["phases"], m["config"]
    labels = cfg["max_labels"] or min(cfg["clas_docs"] or m["n_train"], m["n_train"])
    clas = [v for k, v in ph.items() if k.startswith("clas")]
    clas_tokens = sum(v.get("train_tokens") or 0 for v in clas)
    clas_s = sum(v["wall_s"] for v in clas)
    return {
        "model": model, "labels": labels, "accuracy": m["valid_accuracy"],
        "wall s": m["wall_s"], "tokenize s": m["tokenize_s"],
        "LM s": ph.get("lm", {}).get("wall_s"),
        "LM ft s": ph.get("lm_ft", {}).get("wall_s"), "classifier s": clas_s,
        "LM tokens/s": _int(ph.get("lm", ph.get("lm_ft", {})).get("tokens_per_s")),
        "clas tokens/s": _int(clas_tokens / clas_s) if clas_s else None,
        "notes": f"vocab {m['vocab_size']:,}; process {m['process_s']:.0f} s",
    }  # fmt: skip


def _int(x: float | None) -> int | None:
    return None if x is None else round(x)


def tabtext_stages(run: str, m: dict) -> list[dict]:
    rows = [{"run": run, "stage": "tokenize", "s": m["tokenize_s"]}]
    for k, v in m["phases"].items():
        result = (
            f"perplexity {v['valid_perplexity']:.1f}"
            if "valid_perplexity" in v
            else f"accuracy {v['accuracy']:.4f}"
            if "accuracy" in v
            else ""
        )
        rows.append({
            "run": run, "stage": k, "done": f"{v['epochs']} epoch(s)",
            "s": v["wall_s"], "tokens/s": _int(v.get("tokens_per_s")), "result": result,
        })  # fmt: skip
    return rows


# -- fastai -----------------------------------------------------------------------

FASTAI_ULMFIT = r"""
import json, os, time, warnings
from collections import Counter
from functools import partial
import numpy as np, pandas as pd, torch
from fastai.text.all import (AWD_LSTM, CancelFitException, CancelValidException,
    Callback, Categorize, Datasets, LMDataLoader, Numericalize, SortedDL, accuracy,
    awd_lstm_clas_config, awd_lstm_lm_config, language_model_learner, make_vocab,
    pad_input_chunk, set_seed, text_classifier_learner, tokenize_df)
warnings.filterwarnings("ignore")
a = json.loads(os.environ["PEER_ARGS"])
if a["threads"]:
    torch.set_num_threads(a["threads"])
set_seed(a["seed"])
idx = json.load(open(a["index_file"]))
df = pd.read_parquet(a["path"], columns=["text", "label"])
t0 = time.perf_counter()
end = t0 + a["budget_s"]
stages = []

class TimeLimit(Callback):
    "Stops the fit when its deadline passes; counts the training batches done."
    order = 99
    def __init__(self, deadline): self.deadline, self.done, self.total = deadline, 0, 0
    def before_fit(self):
        self.total, self.tokens = self.n_epoch * len(self.dls.train), 0
    def after_batch(self):
        if self.training:
            self.done += 1
            self.tokens += int((self.xb[0] != 1).sum())  # 1: xxpad
        if time.perf_counter() > self.deadline: raise CancelFitException()

class NoValidation(Callback):
    "Validation only once at the end, on the full split (it costs budget time)."
    def before_validate(self): raise CancelValidException()

def stage(name, learn, deadline, fit):
    lim, t = TimeLimit(deadline), time.perf_counter()
    with learn.no_bar(), learn.no_logging():
        fit([lim, NoValidation()])
    s = time.perf_counter() - t
    stages.append({"stage": name, "s": s, "tokens": lim.tokens,
                   "tokens/s": lim.tokens / s, "done": f"{lim.done}/{lim.total} batches"})

def clip(toks, n):
    "tabtext's max_tokens: the first n // 2 and the last n - n // 2 tokens."
    if not n or len(toks) <= n:
        return toks
    return toks[: n // 2] + toks[len(toks) - (n - n // 2):]

# tokenize the union of the subsets, then one vocabulary from the training rows
rows = sorted(set(idx["lm"]) | set(idx["clas"]) | set(idx["valid"]))
tok, _ = tokenize_df(df.iloc[rows], "text", n_workers=a["n_workers"])
tok.index = rows
train_rows = sorted(set(idx["lm"]) | set(idx["clas"]))
counts = Counter(t for toks in tok.loc[train_rows, "text"] for t in toks)
vocab = make_vocab(counts, min_freq=a["min_freq"], max_vocab=a["max_vocab"])
num = Numericalize(vocab=vocab)
stages.append({"stage": "tokenize", "s": time.perf_counter() - t0,
               "done": f"{len(rows)} reviews"})
left = end - time.perf_counter() - a["valid_reserve"] * a["budget_s"]

# language model from scratch on the LM subset (a few held-out docs, never validated)
# (items are row numbers: fastai maps a transform over the parts of a tuple item)
toks = {i: list(tok.at[i, "text"]) for i in rows}
def get_toks(i): return toks[i]
n_va = max(2, len(idx["lm"]) // 50)
splits = [list(range(n_va, len(idx["lm"]))), list(range(n_va))]
dsets = Datasets(idx["lm"], [[get_toks, num]], splits=splits, dl_type=LMDataLoader)
dls = dsets.dataloaders(bs=a["lm_bs"], seq_len=a["bptt"], device=torch.device("cpu"))
cfg = dict(awd_lstm_lm_config, **a["size"])
lm = language_model_learner(dls, AWD_LSTM, config=cfg, pretrained=False,
                            drop_mult=0.3, path=a["dir"], model_dir=".")
deadline = time.perf_counter() + a["lm_share"] * left
stage("lm", lm, deadline, lambda cbs: lm.fit_one_cycle(a["lm_epochs"], 1e-2, cbs=cbs))
lm.save_encoder("enc")

# classifier: fastai's ULMFiT tutorial schedule with gradual unfreezing
items = idx["clas"] + idx["valid"]
def get_clipped(i): return clip(toks[i], a["max_tokens"])
def get_label(i): return int(df.at[i, "label"])
n_tr = len(idx["clas"])
dsets = Datasets(items, [[get_clipped, num], [get_label, Categorize()]],
                 splits=[list(range(n_tr)), list(range(n_tr, len(items)))])
dls = dsets.dataloaders(bs=a["clas_bs"], dl_type=SortedDL, device=torch.device("cpu"),
                        before_batch=partial(pad_input_chunk, seq_len=a["bptt"]))
cfg = dict(awd_lstm_clas_config, **a["size"])
clas = text_classifier_learner(dls, AWD_LSTM, config=cfg, pretrained=False,
                               drop_mult=0.5, seq_len=a["bptt"], max_len=a["max_len"],
                               metrics=accuracy, path=a["dir"], model_dir=".")
clas.load_encoder("enc")
d = 2.6 ** 4
plan = [("clas_head", -1, 2e-2, 1), ("clas_-2", -2, slice(1e-2 / d, 1e-2), 1),
        ("clas_-3", -3, slice(5e-3 / d, 5e-3), 1),
        ("clas_all", None, slice(1e-3 / d, 1e-3), 2)]
clas_end = end - a["valid_reserve"] * a["budget_s"]
for i, (name, k, lr, ep) in enumerate(plan):
    share = ep / sum(p[3] for p in plan[i:])
    deadline = time.perf_counter() + share * max(0.0, clas_end - time.perf_counter())
    clas.freeze_to(k) if k is not None else clas.unfreeze()
    stage(name, clas, deadline,
          lambda cbs: clas.fit_one_cycle(ep, lr, moms=(0.8, 0.7, 0.8), cbs=cbs))
t = time.perf_counter()
with clas.no_bar(), clas.no_logging():
    loss, acc = clas.validate()
stages.append({"stage": "validate", "s": time.perf_counter() - t,
               "done": f"{len(idx['valid'])} reviews"})
print(json.dumps({"accuracy": float(acc), "wall_s": time.perf_counter() - t0,
                  "vocab": len(vocab), "stages": stages}))
"""


def finetune_config(flags: list[str]) -> ULMFiTConfig:
    """The config ``python -m tabtext.nlp.finetune FLAGS`` would run with."""
    parser = build_parser()
    return config_from_args(parser, parser.parse_args(flags))


def bench_fastai(python: str, data: Path, s: Split, q: ULMFiTConfig, args, work):
    """fastai's ULMFiT at ``q``'s model size, subsets and clipping, in a time budget."""
    mc = lm_config(q, 1000)
    index = {  # rows of the parquet file, as finetune picks them
        "lm": s.tr[subset(len(s.tr), q.lm_docs, q.seed)].tolist(),
        "clas": s.tr[subset(len(s.tr), q.clas_docs, q.seed)].tolist(),
        "valid": s.va.tolist(),
    }
    (work / "fastai").mkdir(parents=True, exist_ok=True)
    index_file = work / "fastai" / "index.json"
    index_file.write_text(json.dumps(index))
    peer_args = {
        "path": str(data), "index_file": str(index_file), "dir": str(work / "fastai"),
        "budget_s": args.fastai_budget_min * 60, "lm_share": 0.5, "valid_reserve": 0.05,
        "size": {"emb_sz": mc.emb_sz, "n_hid": mc.n_hid, "n_layers": mc.n_layers},
        "threads": args.threads, "n_workers": args.threads or os.cpu_count(),
        "seed": q.seed, "min_freq": q.min_freq, "max_vocab": q.max_vocab,
        "lm_bs": q.lm_bs, "clas_bs": q.clas_bs, "bptt": q.bptt,
        "lm_epochs": q.lm_epochs, "max_tokens": q.max_tokens, "max_len": q.max_len,
    }  # fmt: skip
    with Timer() as t:
        res = run_peer(python, FASTAI_ULMFIT, peer_args, timeout=4 * 3600)
    if res is None:
        return [], []
    by = {st["stage"]: st for st in res["stages"]}
    clas = [st for st in res["stages"] if st["stage"].startswith("clas")]
    clas_s = sum(st["s"] for st in clas)
    size = "{emb_sz}/{n_hid}/{n_layers}".format(**peer_args["size"])
    row = {
        "model": f"fastai 2.8 ULMFiT ({size}, from scratch)",
        "labels": len(index["clas"]), "accuracy": res["accuracy"],
        "wall s": res["wall_s"], "tokenize s": by["tokenize"]["s"],
        "LM s": by["lm"]["s"], "classifier s": clas_s,
        "LM tokens/s": _int(by["lm"]["tokens/s"]),
        "clas tokens/s": _int(sum(st["tokens"] for st in clas) / clas_s),
        "notes": f"budget {args.fastai_budget_min:g} min; vocab {res['vocab']:,}; "
        f"process {t.seconds:.0f} s",
    }  # fmt: skip
    stages = [
        {"run": "fastai", **st, "tokens/s": _int(st.get("tokens/s"))}
        for st in res["stages"]
    ]
    return [row], stages


# -- main -------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="IMDB train.parquet (default ../shared/data/imdb)")
    p.add_argument("--presets", nargs="+", default=["quick", "cpu"],
                   choices=list(PRESETS), help="tabtext presets to run")  # fmt: skip
    p.add_argument("--extra-args", default="",
                   help="flags added to every finetune run, e.g. '--lm-docs 3000'")  # fmt: skip
    p.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS),
                   help="parts to run (default all)")  # fmt: skip
    p.add_argument(
        "--scratch-presets",
        nargs="*",
        default=["quick"],
        help="presets also run without the pretrained LM",
    )
    p.add_argument(
        "--unlabeled",
        default=None,
        help="unlabeled reviews for the few-label runs' LM stage "
        "(default: imdb/unsup.parquet beside the data)",
    )
    p.add_argument("--few-labels", nargs="+", type=int, default=list(FEW_LABELS))
    p.add_argument(
        "--self-train",
        default=SELF_TRAIN,
        help="finetune flags of the few-label runs' self-training rows "
        f"('' for none; default {SELF_TRAIN!r})",
    )
    p.add_argument("--C", type=float, default=None,
                   help="fix the linear models' C (default: 3-fold CV, C_GRIDS)")  # fmt: skip
    p.add_argument("--fastai-python", help="interpreter of a fastai 2.8 venv")
    p.add_argument("--fastai-budget-min", type=float, default=None,
                   help="fastai's total time budget (default 10; 1 with --quick-smoke)")  # fmt: skip
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads for fastai (default: torch's, like finetune)")  # fmt: skip
    p.add_argument("--limit", type=int, default=None,
                   help="a stratified seeded subset of N reviews")  # fmt: skip
    p.add_argument("--quick-smoke", action="store_true",
                   help=f"smoke test: {SMOKE_LIMIT:,} reviews, tiny tabtext models "
                   f"({SMOKE_FLAGS}), fastai budget 1 min")  # fmt: skip
    p.add_argument("--linear-only", action="store_true",
                   help="only the TF-IDF / NB-LR rows (all and few labels): no network")  # fmt: skip
    p.add_argument("--rating", action="store_true",
                   help="the star ratings as 8 classes and as a number instead "
                   "(see benchmarks/_imdb_rating.py)")  # fmt: skip
    p.add_argument("--rating-preset", default="quick", choices=list(PRESETS),
                   help="the finetune preset of the --rating runs")  # fmt: skip
    p.add_argument("--runs-dir", help="keep the runs here (default: a temporary dir)")
    p.add_argument("--out", help="also write the markdown to this file")
    args = p.parse_args(argv)
    if args.unlabeled is None:
        unsup = Path(args.data).parent if args.data else data_dir() / "imdb"
        if (unsup / "unsup.parquet").exists():
            args.unlabeled = str(unsup / "unsup.parquet")
    if args.quick_smoke:
        args.limit = args.limit or SMOKE_LIMIT
        smoke = RATING_SMOKE_FLAGS if args.rating else SMOKE_FLAGS
        args.extra_args = f"{smoke} {args.extra_args}"
    if args.fastai_budget_min is None:
        args.fastai_budget_min = 1.0 if args.quick_smoke else 10.0
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.rating:
        import _imdb_rating

        return _imdb_rating.main(args)
    extra = shlex.split(args.extra_args)
    # `quick` with the extra flags: finetune's split (valid_pct, seed), few-label
    # selection, and fastai's subsets, sizes and clipping
    cfg = finetune_config(["--preset", "quick", *extra])
    nets = not args.linear_only
    with tempfile.TemporaryDirectory(prefix="tabtext-imdb-") as tmp:
        work = Path(args.runs_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        data, texts, y = load_imdb(args.data, args.limit, cfg.seed, work)
        s = Split(texts, y, cfg.valid_pct, cfg.seed)
        print(f"{data}: {len(s.tr):,} train / {len(s.va):,} valid", file=sys.stderr)
        sets = {}  # labeled training-part rows of each linear fit, by label count
        if "baselines" in args.only:
            sets[len(s.tr)] = np.arange(len(s.tr))
        if "fewlabel" in args.only:  # the reviews finetune --max-labels N trains on
            sets.update(
                {n: balanced_subset(s.y_train, n, cfg.seed) for n in args.few_labels}
            )
        linear = bench_linear(s, sets, args.C, cfg.seed) if sets else []
        full = [r for r in linear if r["labels"] == len(s.tr)]
        few = [r for r in linear if r["labels"] != len(s.tr)]
        stages = []
        runs = []  # (run name, finetune flags, table)
        unsup = ["--unlabeled", str(args.unlabeled)] if args.unlabeled else []
        if nets and "tabtext" in args.only:
            runs += [(p, ["--preset", p], full) for p in args.presets]
            runs += [
                (f"{p}, from scratch", ["--preset", p, *SCRATCH.get(p, [])], full)
                for p in args.scratch_presets
            ]
        if nets and "fewlabel" in args.only:
            # the first run fine-tunes the shipped LM on every text (training part +
            # unlabeled, never validation texts) and writes it to OUT/lm; the others
            # start their classifiers from that LM
            counts = sorted(args.few_labels, reverse=True)
            first = f"quick, {counts[0]} labels"
            lm_dir = work / _dirname(first) / "lm"
            reuse = ["--pretrained", str(lm_dir), "--lm-ft-epochs", "0"]
            self_trained = []  # after every plain run: the first one writes the LM
            for i, n in enumerate(counts):
                flags = ["--preset", "quick", "--max-labels", str(n), *unsup]
                runs.append((f"quick, {n} labels",
                             flags + (["--lm-docs", "all"] if i == 0 else reuse), few))  # fmt: skip
                if args.self_train:
                    st = flags + reuse + shlex.split(args.self_train)
                    self_trained.append((f"quick, {n} labels, self-training", st, few))
            runs += self_trained
        for name, flags, table in runs:
            m = run_finetune(name, data, work, flags + extra)
            if m is not None:
                table.append(tabtext_row(f"tabtext `{name}`", m))
                stages += tabtext_stages(name, m)
        fastai = peer_python(args.fastai_python) if "fastai" in args.only else None
        if nets and fastai:
            rows, st = bench_fastai(fastai, data, s, cfg, args, work)
            full, stages = full + rows, stages + st
    few.sort(key=lambda r: r["labels"])
    print_report(args, data, s, full, few, stages)


def print_report(args, data, s: Split, full, few, stages) -> None:
    head = (
        f"IMDB `{data}`: {len(s.tr):,} training / {len(s.va):,} validation reviews "
        f"(stratified {len(s.va) / (len(s.tr) + len(s.va)):.0%}, finetune's split); "
        f"load average {os.getloadavg()[0]:.1f}"
        + (" — smoke test, not a measurement" if args.quick_smoke else "")
    )
    parts = [head]
    for r in full + few:
        r["labels"] = f"{r['labels']:,}"
    if full:
        parts += ["### All labels", markdown_table(full, COLUMNS)]
    if few:
        parts += ["### Few labels", markdown_table(few, COLUMNS)]
    if stages:
        parts += ["### Stages", markdown_table(stages, STAGE_COLUMNS)]
    text = "\n\n".join(parts)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
