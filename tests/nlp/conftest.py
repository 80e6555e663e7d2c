"""Shared helpers of the text tests: a tiny synthetic sentiment corpus and the CLI
flags of a run that trains in seconds on a CPU."""

import numpy as np
import pytest

from tabtext.nlp.stages import cpu_has_bf16

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
