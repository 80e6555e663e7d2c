"""Shared helpers of the text tests: a tiny synthetic sentiment corpus and the CLI
flags of a run that trains in seconds on a CPU."""

import numpy as np
import pandas as pd
import pytest

from tabtext.core.precision import cpu_has_bf16

#: bf16 autocast of an LSTM on a CPU needs AVX512-BF16 (oneDNN has no other form)
needs_cpu_bf16 = pytest.mark.skipif(
    not cpu_has_bf16(), reason="this CPU has no AVX512-BF16 (no bf16 LSTM in oneDNN)"
)

TINY = [
    "--no-pretrained",
    "--clas-min-steps",
    "0",
    "--emb-sz",
    "16",
    "--n-hid",
    "24",
    "--n-layers",
    "2",
    "--bptt",
    "12",
    "--lm-bs",
    "8",
    "--clas-bs",
    "16",
    "--max-vocab",
    "200",
    "--min-freq",
    "1",
    "--lm-docs",
    "all",
    "--clas-docs",
    "all",
    "--max-tokens",
    "all",
    "--max-len",
    "48",
    "--lm-epochs",
    "1",
    "--lm-ft-epochs",
    "1",
    "--unfreeze",
    "1",
    "2",
    "--clas-epochs",
    "3",
    "--clas-lr",
    "0.05",
    "--clas-final-lr",
    "0.03",
    "--lm-drop-mult",
    "0",
    "--clas-drop-mult",
    "0",
    "--lr-decay",
    "1",
    "--clas-lr-full-at",  # the toy sets are small but not passed over many times:
    "0",  # their LRs above are the ones that train them
]


def make_texts(n=240, seed=0):
    rng = np.random.default_rng(seed)
    pos = "great wonderful superb loved amazing brilliant".split()
    neg = "awful terrible boring hated bad dull".split()
    filler = "the movie film was a and it this of plot actor story scene".split()
    texts, labels = [], []
    for i in range(n):
        lab = i % 2
        words = list(rng.choice(filler, 14)) + list(rng.choice(pos if lab else neg, 3))
        rng.shuffle(words)
        texts.append(" ".join(words).capitalize() + ".")
        labels.append("pos" if lab else "neg")
    return texts, labels


FILLER = "the movie film was a and it this of plot actor story scene".split()
GENRES = {
    "action": "explosion chase fight gun".split(),
    "comedy": "funny laugh joke silly".split(),
    "romance": "love kiss heart wedding".split(),
}


def make_multilabel_texts(n=240, seed=0):
    """Texts with 0-3 genres each (independently, p=0.45); 3 words of each genre
    present. Returns texts and a list of genre lists (some empty)."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        present = [g for g in GENRES if rng.random() < 0.45]
        words = list(rng.choice(FILLER, 12))
        for g in present:
            words += list(rng.choice(GENRES[g], 3))
        rng.shuffle(words)
        texts.append(" ".join(words).capitalize() + ".")
        labels.append(present)
    return texts, labels


def make_rated_texts(n=240, seed=0):
    """Star ratings 1-3 (negative words) and 8-10 (positive words)."""
    texts, labels = make_texts(n, seed)
    rng = np.random.default_rng(seed + 1)
    stars = [
        int(rng.integers(8, 11)) if lab == "pos" else int(rng.integers(1, 4))
        for lab in labels
    ]
    return texts, stars


def make_imbalanced_texts(n=240, seed=0):
    """Three classes in shares 6:3:1 ("a", "b", "c"), each with its own words."""
    rng = np.random.default_rng(seed)
    words_of = {
        "a": "great wonderful superb loved".split(),
        "b": "awful terrible boring hated".split(),
        "c": "strange weird odd bizarre".split(),
    }
    texts, labels = [], []
    for i in range(n):
        lab = "a" if i % 10 < 6 else "b" if i % 10 < 9 else "c"
        words = list(rng.choice(FILLER, 12)) + list(rng.choice(words_of[lab], 3))
        rng.shuffle(words)
        texts.append(" ".join(words).capitalize() + ".")
        labels.append(lab)
    return texts, labels


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    """:func:`make_texts` as a parquet file (text, label), once per test module."""
    path = tmp_path_factory.mktemp("data") / "toy.parquet"
    texts, labels = make_texts()
    pd.DataFrame({"text": texts, "label": labels}).to_parquet(path)
    return path
