"""Draw the pictures of the docs with tabtext's own plotting, from short real runs.

Reads ../shared/data (bike sharing, Adult, IMDB) and writes small PNGs to docs/img/:

- ``lr_find.png``, ``sgdr.png``, ``loss.png``: a plain MLP on bike sharing with
  ``Learner.lr_find`` then SGDR (3 cycles, ``cycle_mult=2``, discriminative LRs), drawn by
  ``LRFinderResult.plot``, ``Learner.plot_lr`` and ``Learner.plot_loss``;
- ``embedding.png``, ``importance.png``: an ``EmbeddingClassifier`` on Adult, drawn by
  ``plot_embedding`` and ``plot_permutation_importance``;
- ``explain.png``: a classifier on 1,200 IMDB reviews from the shipped LM, its
  explanation page for three reviews, screenshot by headless Chromium.

A few minutes on 2 CPU cores. ``python docs/make_figures.py [--only NAME ...]``
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import torch
from sklearn.model_selection import train_test_split
from torch import nn

HERE = Path(__file__).resolve().parent
IMG = HERE / "img"
DATA = HERE.parents[1] / "shared" / "data"
sys.path.insert(0, str(HERE.parent / "examples"))

from training_core import MLP, loaders  # noqa: E402  (the example's model and data)

from tabtext.core import Learner, rmse  # noqa: E402
from tabtext.tabular import EmbeddingClassifier, plot_permutation_importance  # noqa: E402


def schedules() -> None:
    """LR finder, SGDR schedule and loss curves of an MLP on bike sharing."""
    frame = pd.read_parquet(DATA / "bike_sharing" / "train.parquet")
    train_dl, valid_dl, n_features = loaders(frame, "cnt", batch_size=256)
    torch.manual_seed(0)
    learn = Learner(
        MLP(n_features),
        train_dl,
        valid_dl,
        loss_fn=nn.functional.mse_loss,
        metrics=[rmse],
        progress=False,
    )
    found = learn.lr_find()
    found.plot(IMG / "lr_find.png")
    lr = found.suggestion
    learn.fit(slice(lr / 10, lr), 3, cycle_len=1, cycle_mult=2)
    learn.plot_lr(IMG / "sgdr.png")
    learn.plot_loss(IMG / "loss.png")


def tables() -> None:
    """Embedding map and permutation importance of an Adult classifier."""
    adult = pd.read_parquet(DATA / "adult" / "train.parquet")
    y = adult.pop("income")
    X_tr, X_va, y_tr, y_va = train_test_split(
        adult, y, test_size=0.2, stratify=y, random_state=0
    )
    clf = EmbeddingClassifier(epochs=3, random_state=0, device="cpu").fit(X_tr, y_tr)
    clf.plot_embedding("education", IMG / "embedding.png")
    sample = X_va.sample(2000, random_state=0)
    plot_permutation_importance(
        clf, sample, y_va.loc[sample.index], IMG / "importance.png", n_repeats=3
    )


def explain() -> None:
    """A screenshot of the explanation page of three IMDB reviews."""
    from tabtext.nlp import TextClassifier

    reviews = pd.read_parquet(DATA / "imdb" / "train.parquet").sample(
        1200, random_state=0
    )
    labels = reviews["label"].map({0: "negative", 1: "positive"})
    over = dict(lm_ft_epochs=0, max_tokens=96, max_len=96, clas_min_steps=100)
    clf = TextClassifier("quick", overrides=over).fit(reviews["text"], labels)
    picks = [
        "A wonderful, warm film: the acting is superb and the story never drags.",
        "Dull and far too long. I loved the music, but the plot made no sense at all.",
        "The worst film I have seen this year; even the great cast could not save it.",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "why.html"
        clf.explain(picks, page)
        screenshot(page, IMG / "explain.png", width=900, height=620)


def screenshot(page: Path, png: Path, width: int, height: int) -> None:
    """Headless Chromium's picture of ``page`` (an HTML file)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium not found: apt-get install -y chromium")
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size={width},{height}", f"--screenshot={png}", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


FIGURES = {"schedules": schedules, "tables": tables, "explain": explain}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", choices=sorted(FIGURES), default=None)
    args = ap.parse_args()
    IMG.mkdir(exist_ok=True)
    torch.set_num_threads(2)
    for name in args.only or FIGURES:
        FIGURES[name]()
        print(f"drew {name}")


if __name__ == "__main__":
    main()
