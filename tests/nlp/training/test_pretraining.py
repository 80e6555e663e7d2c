"""Corpus-scale pretraining: the segmented stream, exact resume after a kill,
the held-out split, fp16 export and shipped-LM names (vocabulary transfer: see
test_transfer.py)."""

import numpy as np
import pandas as pd
import pytest
import torch

from tabtext.core import callbacks
from tabtext.core.precision import use_bf16
from tabtext.nlp import (
    LanguageModel,
    LMLoader,
    PretrainConfig,
    Vocab,
    load_lm,
    load_texts,
)
from tabtext.nlp.models.vocab_transfer import pretrained_lm_state
from tabtext.nlp.pretrained import available, resolve_pretrained
from tabtext.nlp.text.loaders import LMStream
from tabtext.nlp.training import pretraining, segment_plan
from tabtext.nlp.training.pretraining import holdout_split


def _corpus(n_docs=40, seed=0, vocab=30):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(5, 40, n_docs)
    ids = rng.integers(2, vocab, int(lengths.sum())).astype(np.int32)
    return ids, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def test_stream_segments_run_on_across_passes_and_rebuild_from_the_index():
    ids, offsets = _corpus()
    stream = LMStream(ids, offsets, batch_size=4, bptt=6, segment_batches=10, seed=3)
    per_pass = stream.batches_per_pass(0)
    batches = [b for _ in range(4) for b in stream]  # 40 batches: more than one pass
    assert per_pass < 40 and len(stream) == 10 and stream.segment == 4
    # a fresh stream set to segment 2 gives the very same batches
    other = LMStream(ids, offsets, batch_size=4, bptt=6, segment_batches=10, seed=3)
    other.load_state_dict({"segment": 2})
    for (x, y), (x2, y2) in zip(batches[20:30], other, strict=True):
        assert torch.equal(x, x2) and torch.equal(y, y2)
    # targets are the inputs shifted by one; tokens_before counts the targets
    x, y = batches[0]
    assert torch.equal(x[:, 1:], y[:, :-1])
    assert stream.tokens_before(3) == sum(b[1].numel() for b in batches[:3])
    # each pass is a permutation of whole documents: every token once per pass
    first_pass = torch.cat([x for x, _ in batches[:per_pass]], 1)
    assert first_pass.numel() <= len(ids)
    assert stream.locate(per_pass) == (1, 0)


def test_holdout_is_the_last_documents():
    train, valid = holdout_split(200, 0.01)
    assert list(valid) == [198, 199] and list(train) == list(range(198))
    with pytest.raises(ValueError, match="none to train on"):
        holdout_split(1, 0.5)


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(40)]
    texts = [
        " ".join(rng.choice(words[: 10 + i % 30], size=int(rng.integers(20, 60))))
        for i in range(60)
    ]
    path = tmp_path_factory.mktemp("corpus") / "corpus.parquet"
    pd.DataFrame({"text": texts}).to_parquet(path)
    return path, texts


TINY_LM = dict(
    emb_sz=8, n_hid=12, n_layers=2, bs=4, bptt=8, min_freq=1, valid_pct=0.1,
    ckpt_min=4 / 60, max_tokens=1500, valid_tokens=None,
)  # fmt: skip


def test_a_killed_run_resumes_exactly(corpus_file, tmp_path, monkeypatch):
    _, texts = corpus_file
    monkeypatch.setattr(segment_plan, "seconds_per_batch", lambda *a: 1.0)
    cfg = PretrainConfig(**TINY_LM)
    cache = tmp_path / "cache"
    ref = pretraining.pretrain(texts, cfg, tmp_path / "ref", cache_dir=cache)
    assert ref["plan"]["segments"] >= 3 and ref["plan"]["segment_batches"] == 4
    real = callbacks.Checkpoint.after_epoch

    def kill_after_segment_2(self, learn):
        real(self, learn)
        if learn.epoch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(callbacks.Checkpoint, "after_epoch", kill_after_segment_2)
    with pytest.raises(KeyboardInterrupt):
        pretraining.pretrain(texts, cfg, tmp_path / "run", cache_dir=cache)
    monkeypatch.setattr(callbacks.Checkpoint, "after_epoch", real)
    lines = []
    res = pretraining.pretrain(
        texts, cfg, tmp_path / "run", resume=True, cache_dir=cache,
        on_segment=lines.append,
    )  # fmt: skip
    assert [row["segment"] for row in lines] == list(
        range(3, ref["plan"]["segments"] + 1)
    )
    a, _ = load_lm(tmp_path / "ref")
    b, _ = load_lm(tmp_path / "run")
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k
    assert res["valid_loss"] == ref["valid_loss"]
    assert res["tokens_seen"] == ref["tokens_seen"] > 0
    # the run's rate covers the segments before the kill too
    rows = pd.DataFrame(res["segments"])
    assert len(rows) == ref["plan"]["segments"]
    seconds = (
        rows["tokens_seen"].diff().fillna(rows["tokens_seen"]) / rows["tokens_per_s"]
    ).sum()
    assert res["tokens_per_s"] == pytest.approx(res["tokens_seen"] / seconds, rel=1e-3)
    with pytest.raises(ValueError, match="other settings"):
        other = PretrainConfig(**{**TINY_LM, "lr": 0.5})
        pretraining.pretrain(
            texts, other, tmp_path / "run", resume=True, cache_dir=cache
        )


def test_export_is_fp16_and_transfers(corpus_file, tmp_path):
    _, texts = corpus_file
    cfg = PretrainConfig(**TINY_LM)
    metrics = pretraining.pretrain(texts, cfg, tmp_path / "run", cache_dir=tmp_path)
    if cfg.precision == "auto":  # bf16 on CUDA and on CPUs with AVX512-BF16
        assert metrics["precision"] == ("bf16" if use_bf16("auto") else "fp32")
    dest = pretraining.export_lm(tmp_path / "run", tmp_path / "ship", metrics)
    from safetensors.torch import load_file

    weights = load_file(dest / "model.safetensors")
    assert all(v.dtype == torch.float16 for v in weights.values())
    assert resolve_pretrained(dest) == dest
    model, vocab = load_lm(tmp_path / "run")
    new = LanguageModel(model.config)
    state = pretrained_lm_state(dest, new, vocab)  # the same vocabulary
    for k, v in model.state_dict().items():
        assert torch.allclose(state[k], v, atol=2e-3), k


def test_resolve_pretrained():
    assert resolve_pretrained(None) is None and resolve_pretrained("none") is None
    auto = resolve_pretrained("auto")
    assert (auto is None) == ("en_wiki_small" not in available())
    with pytest.raises(ValueError, match="not a shipped model"):
        resolve_pretrained("no_such_model")


def test_folder_of_parquet_shards_and_of_text_files(tmp_path):
    for i in range(3):
        pd.DataFrame({"text": [f"doc {i} a", f"doc {i} b"]}).to_parquet(
            tmp_path / f"train-{i:02d}.parquet"
        )
    ds = load_texts(tmp_path, label_col=None)
    assert ds.texts == [f"doc {i} {c}" for i in range(3) for c in "ab"]
    txt = tmp_path / "txt"
    txt.mkdir()
    for i in range(3):
        (txt / f"{i}.txt").write_text(f"text {i}")
    assert load_texts(txt, label_col=None).texts == ["text 0", "text 1", "text 2"]


def test_learner_bf16_on_cpu_when_asked():
    from tabtext.core import Callback, Learner, TensorLoader

    seen = []

    class Dtype(Callback):
        def after_pred(self, learn):
            seen.append(learn.pred.dtype)

    x, y = torch.randn(32, 4), torch.randn(32, 1)
    dl = TensorLoader(x, y, batch_size=16)
    for mp in (None, True):
        learn = Learner(
            torch.nn.Linear(4, 1), dl, loss_fn=torch.nn.functional.mse_loss,
            mixed_precision=mp, callbacks=[Dtype()], device="cpu",
        )  # fmt: skip
        learn.fit_one_cycle(1, 1e-2)
    assert seen[0] == torch.float32 and seen[-1] == torch.bfloat16


def test_vocab_and_loader_types_are_compact():
    ids, offsets = _corpus()
    assert ids.dtype == np.int32
    LMLoader(ids, offsets, 4, 6)  # takes the int32 memory-map layout as is
    assert Vocab(["xxunk", "xxpad", "a"]).numericalize(["a", "zz"]).tolist() == [2, 0]


def test_a_run_continues_from_a_pretrained_lm(corpus_file, tmp_path):
    _, texts = corpus_file
    first = pretraining.pretrain(
        texts, PretrainConfig(**TINY_LM), tmp_path / "a", cache_dir=tmp_path
    )
    ship = pretraining.export_lm(tmp_path / "a", tmp_path / "ship", first)
    # at a vanishing LR the second run keeps the weights it started from
    cont = {**TINY_LM, "init": str(ship), "max_vocab": 5, "seed": 1, "lr": 1e-9}
    second = pretraining.pretrain(
        texts, PretrainConfig(**cont), tmp_path / "b", cache_dir=tmp_path
    )
    a, vocab_a = load_lm(tmp_path / "a")
    b, vocab_b = load_lm(tmp_path / "b")
    # the vocabulary and sizes are the first LM's (max_vocab is not used)
    assert vocab_b.itos == vocab_a.itos and b.config == a.config
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.allclose(va, vb, atol=2e-3), k
    assert abs(second["valid_loss"] - first["valid_loss"]) < 1e-2
    assert second["init"]["tokens_seen"] == first["tokens_seen"]
    third = pretraining.export_lm(tmp_path / "b", tmp_path / "ship2", second)
    cfg3 = PretrainConfig(**{**TINY_LM, "init": str(third), "max_tokens": 200})
    res = pretraining.pretrain(texts, cfg3, tmp_path / "c", cache_dir=tmp_path)
    assert res["init"]["tokens_seen"] == first["tokens_seen"] + second["tokens_seen"]
    with pytest.raises(ValueError, match="no such directory"):
        bad = PretrainConfig(**{**TINY_LM, "init": str(tmp_path / "nowhere")})
        pretraining.pretrain(texts, bad, tmp_path / "d", cache_dir=tmp_path)
