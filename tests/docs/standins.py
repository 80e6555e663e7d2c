"""Tiny stand-ins for what the code blocks of README.md and docs/ work on.

The blocks are written for real data and real sizes (IMDB, Rossmann, the shipped LM,
the ``quick`` preset); the docs tests run them on a few hundred synthetic rows and a
language model of a few thousand weights, so that every block runs in seconds:

- a workspace folder with the files the blocks name (``reviews.csv``, ``new_rows.parquet``,
  ``runs/quick``, ``model_dir``, ``../shared/data/imdb/...``);
- the Python names the blocks use without defining them (``X_train``, ``texts``,
  ``model``, ``train_dl`` ...);
- the presets shrunk and ``TextClassifier``/``TextRegressor`` starting from a tiny LM
  instead of the shipped one (:func:`shrink_text_defaults`);
- tiny flags appended to each ``python -m tabtext...`` command (:data:`CLI_FLAGS`).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pandas as pd
import torch

#: the LM and classifier schedule of every preset, shrunk (sizes come from the tiny LM)
TINY_SCHEDULE = dict(
    max_vocab=300,
    min_freq=1,
    lm_docs=None,
    clas_docs=None,
    max_tokens=40,
    max_len=40,
    bptt=10,
    lm_bs=8,
    clas_bs=16,
    lm_epochs=1,
    lm_ft_epochs=1,
    clas_epochs=1,
    unfreeze=(),
    clas_min_steps=0,
    clas_lr_full_at=0,
)
TINY_SIZES = {"--emb-sz": ["8"], "--n-hid": ["16"], "--n-layers": ["2"]}

#: per CLI of a block marked ``tiny``: flags replaced (or dropped, for None) on its
#: lines, then flags added where the line does not give them
CLI_FLAGS = {
    "tabtext.nlp.finetune": {
        "force": {
            "--device": ["cpu"],
            "--max-vocab": ["300"],
            "--min-freq": ["1"],
            "--lm-docs": ["all"],
            "--clas-docs": ["all"],
            "--max-tokens": ["40"],
            "--max-len": ["40"],
            "--bptt": ["10"],
            "--lm-bs": ["8"],
            "--clas-bs": ["16"],
            "--clas-min-steps": ["0"],
            "--clas-lr-full-at": ["0"],
            "--unfreeze": [],
            "--clas-epochs": ["1"],
            "--self-train-pool": ["80"],
        },
        "default": {"--lm-ft-epochs": ["1"], "--quiet": []},
    },
    "tabtext.nlp.pretrain": {
        "force": {
            "--device": ["cpu"],
            "--budget-min": None,
            "--epochs": None,
            "--max-tokens": ["3000"],
            "--max-vocab": ["300"],
            "--min-freq": ["1"],
            "--bptt": ["10"],
            "--bs": ["8"],
        },
        "default": {"--quiet": []},
    },
}


def tiny_argv(module: str, argv: list[str], tiny_lm: Path) -> list[str]:
    """``argv`` of ``python -m module`` with :data:`CLI_FLAGS` applied."""
    rules = CLI_FLAGS.get(module)
    if rules is None:
        return argv
    out, i = [], 0
    while i < len(argv):  # drop the forced flags with their values
        if argv[i] in rules["force"]:
            i += 1
            while i < len(argv) and not argv[i].startswith("--"):
                i += 1
            continue
        out.append(argv[i])
        i += 1
    for flag, values in rules["force"].items():
        out += [] if values is None else [flag, *values]
    extra = dict(rules["default"])
    if module.endswith("finetune") and "--pretrained" not in argv:
        extra.update(TINY_SIZES if "--no-pretrained" in argv else {})
        if "--no-pretrained" not in argv:
            extra["--pretrained"] = [str(tiny_lm)]
    if module.endswith("pretrain") and "--init" not in argv:
        extra.update(TINY_SIZES)
    for flag, values in extra.items():
        out += [] if flag in argv else [flag, *values]
    return out


WORDS = {
    "pos": "great wonderful superb loved amazing brilliant".split(),
    "neg": "awful terrible boring hated bad dull".split(),
}
FILLER = "the movie film was a and it this of plot actor story scene".split()


def make_reviews(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """Short synthetic reviews: ``text``, ``label`` (pos/neg) and ``rating`` (1-10)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        words = [*rng.choice(FILLER, 10), *rng.choice(WORDS[label], 3)]
        rng.shuffle(words)
        rating = int(rng.integers(7, 11) if label == "pos" else rng.integers(1, 5))
        rows.append((" ".join(words).capitalize() + ".", label, rating))
    return pd.DataFrame(rows, columns=["text", "label", "rating"])


def make_sales(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """A Rossmann-like table: store, weekday, promo, holiday, distance, date -> Sales."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "Store": rng.integers(1, 30, n),
            "DayOfWeek": rng.integers(1, 8, n),
            "Promo": rng.integers(0, 2, n),
            "StateHoliday": rng.choice(["0", "a", "b"], n, p=[0.9, 0.05, 0.05]),
            "CompetitionDistance": np.where(
                rng.random(n) < 0.05, np.nan, rng.gamma(2.0, 2000.0, n)
            ),
            "Date": pd.Timestamp("2015-01-01")
            + pd.to_timedelta(np.sort(rng.integers(0, 200, n)), unit="D"),
        }
    )
    y = 5000 + 800 * X["Promo"] - 300 * (X["DayOfWeek"] == 7) + rng.normal(0, 300, n)
    return X, pd.Series(y.round(), name="Sales").astype(float)


def make_adult(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """An Adult-like table: age, workclass, education, hours-per-week -> income."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n)
    education = rng.choice(["HS-grad", "Bachelors", "Masters", "Some-college"], n)
    hours = rng.integers(10, 70, n)
    rich = (age > 35) & (hours > 38) | (education == "Masters")
    return pd.DataFrame(
        {
            "age": age,
            "workclass": rng.choice(["Private", "Self-emp", "State-gov"], n),
            "education": education,
            "hours-per-week": hours,
            "income": np.where(rich, ">50K", "<=50K"),
        }
    )


class TinyNet(torch.nn.Module):
    """Two linear layers with two layer groups, as the docs' ``model``."""

    def __init__(self, n_in: int = 4):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(n_in, 16), torch.nn.ReLU())
        self.head = torch.nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).squeeze(-1)

    def param_groups(self) -> list[list[torch.nn.Parameter]]:
        return [list(self.body.parameters()), list(self.head.parameters())]


def table_names() -> dict:
    """``X_train``, ``y_train``, ``X_valid``, ``y_valid``: a small sales table."""
    X, y = make_sales(600)
    return dict(X_train=X[:480], y_train=y[:480], X_valid=X[480:], y_valid=y[480:])


def text_names() -> dict:
    """``texts``, ``labels`` (pos/neg) and ``stars`` (1-10) of short reviews."""
    reviews = make_reviews(160)
    return dict(
        texts=reviews["text"].tolist(),
        labels=reviews["label"].tolist(),
        stars=reviews["rating"].tolist(),
    )


def core_names() -> dict:
    """``model``, ``train_dl``, ``valid_dl``, ``dl``, ``fn``: a learnable toy regression."""
    from tabtext.core import TensorLoader

    g = torch.Generator().manual_seed(0)
    x = torch.randn(512, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 0.0]) + 0.1 * torch.randn(512, generator=g)
    train_dl = TensorLoader(x[:384], y[:384], batch_size=32, shuffle=True)
    valid_dl = TensorLoader(x[384:], y[384:], batch_size=64)
    return dict(
        model=TinyNet(),
        train_dl=train_dl,
        valid_dl=valid_dl,
        dl=valid_dl,
        fn=lambda xb: xb + 0.01 * torch.randn_like(xb),
    )


def write_data(root: Path) -> None:
    """The files the blocks read, under ``root`` (a page runs in ``root/work``)."""
    reviews = make_reviews(160)
    imdb = root / "shared" / "data" / "imdb"
    imdb.mkdir(parents=True)
    reviews.to_parquet(imdb / "train.parquet")
    make_reviews(40, seed=1)[["text"]].to_parquet(imdb / "unsup.parquet")
    wiki = root / "shared" / "data" / "wikipedia"
    wiki.mkdir(parents=True)
    make_reviews(200, seed=2)[["text"]].to_parquet(wiki / "train-00.parquet")
    adult = root / "shared" / "data" / "adult"
    adult.mkdir(parents=True)
    make_adult(300).to_parquet(adult / "train.parquet")
    work = root / "work"
    (work / "corpus").mkdir(parents=True)
    make_reviews(200, seed=3)[["text"]].to_parquet(work / "corpus" / "part-0.parquet")
    reviews[["text", "label"]].to_csv(work / "reviews.csv", index=False)
    reviews[["text", "label"]].to_csv(work / "my_labeled.csv", index=False)
    make_reviews(12, seed=4).to_csv(work / "new_reviews.csv", index=False)
    genres = reviews[["text"]].assign(
        genres=["drama|war", "comedy", "", "drama"] * (len(reviews) // 4)
    )
    genres.to_csv(work / "genres.csv", index=False)
    X, y = make_sales(200, seed=5)
    X.assign(Sales=y).to_parquet(work / "new_rows.parquet", row_group_size=40)


@contextlib.contextmanager
def shrink_text_defaults(tiny_lm: Path):
    """Shrink every preset's schedule and start text estimators from ``tiny_lm``."""
    from tabtext.nlp import PRESETS, TextClassifier, TextRegressor

    saved = {name: dict(p) for name, p in PRESETS.items()}
    inits = [
        (cls, cls.__init__.__defaults__) for cls in (TextClassifier, TextRegressor)
    ]
    try:
        for p in PRESETS.values():
            p.update(TINY_SCHEDULE)
        for cls, defaults in inits:
            names = cls.__init__.__code__.co_varnames[1 : len(defaults) + 1]
            cls.__init__.__defaults__ = tuple(
                str(tiny_lm) if n == "pretrained" else d
                for n, d in zip(names, defaults)
            )
        yield
    finally:
        for name, p in saved.items():
            PRESETS[name].clear()
            PRESETS[name].update(p)
        for cls, defaults in inits:
            cls.__init__.__defaults__ = defaults
