"""ULMFiT's loaders under DDP, and ``torchrun -m tabtext.nlp.finetune`` on 2 CPU
processes (slow: pass --runslow)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from tabtext.nlp import ClassifierLoader, LMLoader, finetune

from ..core.test_distributed import launch
from .conftest import TINY, make_texts


def corpus(n_docs: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(5, 30, n_docs)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return np.arange(offsets[-1], dtype=np.int32), offsets


@pytest.mark.parametrize("backwards", [False, True])
def test_lm_ranks_read_contiguous_slices_of_one_stream(backwards):
    """Rank r's rows are rows r*bs .. (r+1)*bs-1 of one process at 2 x bs: the same
    shuffled stream cut into contiguous slices, never a sampler over windows."""
    ids, offsets = corpus()
    kw = dict(bptt=6, seed=3, backwards=backwards)
    one = list(LMLoader(ids, offsets, batch_size=8, **kw))
    ranks = [
        list(LMLoader(ids, offsets, batch_size=4, rank=r, world_size=2, **kw))
        for r in (0, 1)
    ]
    assert len(ranks[0]) == len(ranks[1]) == len(one) > 1
    for (x, y), (x0, y0), (x1, y1) in zip(one, *ranks):
        assert torch.equal(x, torch.cat([x0, x1])) and torch.equal(
            y, torch.cat([y0, y1])
        )


def test_classifier_batches_are_sharded():
    rng = np.random.default_rng(0)
    docs = [np.arange(int(n)) + 2 for n in rng.integers(1, 40, 37)]
    labels = np.arange(37) % 2
    kw = dict(batch_size=4, seed=5)
    train = [
        ClassifierLoader(docs, labels, shuffle=True, rank=r, world_size=3, **kw)
        for r in range(3)
    ]
    assert len({len(t) for t in train}) == 1 == len({len(list(t)) for t in train})
    assert len(train[0]) == 4  # ceil(ceil(37 / 4) / 3): the last rank repeats one
    valid = [
        ClassifierLoader(docs, labels, rank=r, world_size=3, **kw) for r in range(3)
    ]
    rows = sum(len(x) for v in valid for x, _ in v)
    assert rows == 37 and [len(v) for v in valid] == [4, 3, 3]
    with pytest.raises(ValueError, match="outside world_size"):
        ClassifierLoader(docs, labels, rank=3, world_size=3)


def _half_batches(args: list[str]) -> list[str]:
    out = list(args)
    for flag in ("--lm-bs", "--clas-bs"):
        i = out.index(flag)
        out[i + 1] = str(int(out[i + 1]) // 2)
    return out


@pytest.mark.slow  # ~50 s on 2 cores: two interpreters, spaCy, tokenization, 5 phases
def test_finetune_under_torchrun(tmp_path):
    """2 ranks at half the batch sizes against one process: the LM stages see the very
    same batches (identical perplexity), the classifier the same quality."""
    data = tmp_path / "toy.parquet"
    texts, labels = make_texts()
    pd.DataFrame({"text": texts, "label": labels}).to_parquet(data)
    common = ["--data", str(data), "--cache-dir", str(tmp_path / "cache")]
    one = finetune.main([*common, "--out", str(tmp_path / "one"), *TINY])
    out = tmp_path / "ddp"
    args = [
        "-m",
        "tabtext.nlp.finetune",
        *common,
        "--out",
        str(out),
        *_half_batches(TINY),
    ]
    proc = launch(2, args, timeout=300)
    assert proc.stdout.count("validation accuracy") == 1  # rank 0 reports
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["valid_accuracy"] >= 0.8
    assert metrics["valid_accuracy"] >= one["valid_accuracy"] - 0.1
    for phase in ("lm", "lm_ft"):
        assert metrics["phases"][phase]["valid_loss"] == pytest.approx(
            one["phases"][phase]["valid_loss"], rel=1e-3
        )
    assert (out / "model" / "model.safetensors").is_file()
    assert (out / "ckpt" / "clas_all" / "manifest.json").is_file()
