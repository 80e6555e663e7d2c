"""General-domain language-model pretraining at corpus scale (ULMFiT stage 1).

Howard & Ruder (2018) pretrain an AWD-LSTM (Merity et al. 2017) once on a large
general corpus (WikiText-103), then fine-tune it on each target corpus. This module
runs that first stage on a laptop-sized budget:

- the corpus is tokenized in parallel through the on-disk cache and held as an int32
  memory map (:func:`~tabtext.nlp.text.corpus.numericalize_corpus`);
- the last ``valid_pct`` of the documents, in file order, are held out: training
  never sees them, and their perplexity is reported;
- the length of the run is fixed up front from ``epochs``, ``max_tokens`` or
  ``budget_min`` (a short timing of real training steps turns minutes into batches),
  and one 1cycle schedule spans it;
- the run is cut into segments of about ``ckpt_min`` minutes (:class:`LMStream`):
  after each one it validates, logs a line and checkpoints the whole learner, so a
  killed run resumes (``resume=True``) exactly where the last segment ended, also in
  another session.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from ...core import Callback, distributed
from ...core.io import atomic_write_text
from ...core.metrics import perplexity_from_loss
from ...core.precision import use_bf16
from ...core.rng import seeded
from ..models.awd_lstm import LanguageModel
from ..models.sizes import sized_preset
from ..text.corpus import numericalize_corpus
from ..text.loaders import LMLoader, LMStream, lm_valid_loader
from ..text.tokenize import Tokenizer
from ..text.vocab import Vocab
from .callbacks import SegmentReporter
from .learners import lm_learner_from_loaders
from .phase_plan import Phase, run_phase
from .run_dir import Run
from .segment_plan import load_or_make_plan

log = logging.getLogger(__name__)
Precision = Literal["auto", "bf16", "fp32"]


@dataclass(frozen=True)
class PretrainConfig:
    """Settings of one pretraining run (each is a ``--flag`` of ``pretrain``).

    The run's length: ``max_tokens`` training tokens, or ``budget_min`` minutes of
    training, or ``epochs`` passes over the corpus (default one pass); with several,
    the shortest wins. ``init``: continue from a pretrained LM (a shipped name or a
    directory), which then fixes the vocabulary, sizes and dropouts (``max_vocab``,
    ``min_freq``, the size flags and ``drop_mult`` are not used).
    """

    model: Literal["small", "paper"] = "small"
    emb_sz: int | None = None
    n_hid: int | None = None
    n_layers: int | None = None
    max_vocab: int = 30000
    min_freq: int = 3
    adaptive_softmax: bool = True
    bs: int = 64
    bptt: int = 70
    lr: float = 1e-2
    drop_mult: float = 0.2
    wd: float = 0.1
    clip: float = 0.25
    seed: int = 0
    valid_pct: float = 0.01
    max_docs: int | None = None
    epochs: float | None = None
    max_tokens: int | None = None
    budget_min: float | None = None
    ckpt_min: float = 10.0
    valid_tokens: int | None = 200_000
    precision: Precision = "auto"
    backwards: bool = False
    init: str | None = None

    def __post_init__(self) -> None:
        if not 0 < self.valid_pct < 1:
            raise ValueError(f"valid_pct must be in (0, 1), got {self.valid_pct}")
        for name in ("bs", "bptt", "max_vocab", "min_freq"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("epochs", "max_tokens", "budget_min", "ckpt_min", "valid_tokens"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0 or unset, got {value}")
        if self.precision not in ("auto", "bf16", "fp32"):
            raise ValueError(
                f"precision must be auto, bf16 or fp32, got {self.precision!r}"
            )


def lm_model(cfg: PretrainConfig, vocab_size: int) -> LanguageModel:
    return LanguageModel(sized_preset(cfg, vocab_size, drop_mult=cfg.drop_mult))


def holdout_split(n_docs: int, valid_pct: float) -> tuple[np.ndarray, np.ndarray]:
    """``(train, valid)`` document indices: the last ``valid_pct`` are held out."""
    n_valid = max(1, int(round(n_docs * valid_pct)))
    if n_valid >= n_docs:
        raise ValueError(f"{n_docs} documents leave none to train on; give more text")
    return np.arange(n_docs - n_valid), np.arange(n_docs - n_valid, n_docs)


def pretrain(
    texts: list[str],
    cfg: PretrainConfig,
    out: str | Path,
    resume: bool = False,
    device: str | None = None,
    cache_dir: str | Path | None = None,
    on_segment: Callable[[dict], None] | None = None,
    progress: bool | str | None = None,
    callbacks: Sequence[Callback] = (),
) -> dict:
    """Pretrain a language model on ``texts``; returns what ``metrics.json`` holds.

    ``progress``: the learner's progress setting (:class:`~tabtext.core.Learner`);
    False is silent. ``callbacks`` join the fit (e.g. an experiment tracker, which
    sees one epoch per segment).

    Writes into ``out``: ``model/`` (what ``finetune --pretrained`` and
    :func:`~tabtext.nlp.models.lm_dir.load_lm` read), ``plan.json``, ``log_lm.csv`` (one
    row per segment), ``lm_loss.png``, ``lm_lr.png``, ``metrics.json`` and the
    resumable checkpoint ``ckpt/lm``.
    """
    from ..models.lm_dir import save_lm

    t_start = time.perf_counter()
    run = Run(out, resume)
    main = distributed.is_main()
    if cfg.max_docs is not None and cfg.max_docs < len(texts):
        texts = texts[: cfg.max_docs]
    train_idx, valid_idx = holdout_split(len(texts), cfg.valid_pct)
    tok = Tokenizer()
    start, vocab, init = _init_model(cfg.init, tok) if cfg.init else (None,) * 3
    if init and init.get("n_valid_docs", len(valid_idx)) != len(valid_idx):
        log.warning(
            "%s held out %d documents, this run %d: if this is its corpus, part of "
            "the held-out text was trained on",
            cfg.init, init["n_valid_docs"], len(valid_idx),
        )  # fmt: skip
    t0 = time.perf_counter()
    corpus = numericalize_corpus(
        texts[: len(train_idx)],
        tok,
        vocab=vocab,
        min_freq=cfg.min_freq,
        max_vocab=cfg.max_vocab,
        cache_dir=cache_dir,
    )
    held = numericalize_corpus(
        texts[len(train_idx) :], tok, vocab=corpus.vocab, cache_dir=cache_dir
    )
    tokenize_s = time.perf_counter() - t0
    del texts
    if start is not None:
        model = start.train()
    else:
        with seeded(cfg.seed):
            model = lm_model(cfg, len(corpus.vocab))
    dev = distributed.device(device)
    # bf16 wherever "auto" finds it: on a CPU with AVX512-BF16 it trains faster at
    # a lower held-out perplexity (benchmarks/RESULTS.md)
    bf16 = use_bf16(cfg.precision, dev)
    valid = held
    stream = LMStream(
        corpus.ids,
        corpus.offsets,
        cfg.bs,
        cfg.bptt,
        seed=cfg.seed,
        rank=distributed.rank(),
        world_size=distributed.world_size(),
        backwards=cfg.backwards,
    )
    plan = load_or_make_plan(run, cfg, stream, valid, model, corpus.ids, dev, bf16)
    # a resumed run keeps its precision; plans without it are from when "auto" meant
    # fp32 on CPU
    bf16 = plan.get("bf16", bf16 if cfg.precision != "auto" else dev.type == "cuda")
    stream.segment_batches = plan["segment_batches"]
    bf16 = use_bf16("bf16" if bf16 else "fp32", dev)  # a CPU without bf16: refused
    valid_dl = lm_valid_loader(
        valid.head(cfg.valid_tokens), cfg.bs, cfg.bptt, cfg.backwards
    )
    learn = lm_learner_from_loaders(
        model,
        stream,
        valid_dl,
        cfg,
        mixed_precision=bf16,
        device=dev,
        progress=progress,
    )
    # the CLI prints each segment's row (on_segment); the bar or lines show the rest
    learn.progress.show_epochs, learn.progress.epoch_word = False, "segment"
    phase = Phase(
        "lm", plan["segments"], cfg.lr, None, discriminative=False, schedule="one_cycle"
    )
    reporter = SegmentReporter(stream, plan, on_segment)
    res = run_phase(
        learn, phase, run, cfg.seed, resume, extra_cbs=[reporter, *callbacks]
    )
    valid_loss = evaluate_lm(
        model, lm_valid_loader(valid, cfg.bs, cfg.bptt, cfg.backwards), dev, bf16
    )
    if main:
        save_lm(model, corpus.vocab, tok, run.out / "model", backwards=cfg.backwards)
        learn.plot_loss(run.out / "lm_loss.png")
        learn.plot_lr(run.out / "lm_lr.png")
    hist = learn.history
    metrics = {
        "config": asdict(cfg),
        "plan": plan,
        "precision": "bf16" if bf16 else "fp32",
        "n_train_docs": len(corpus),
        "n_valid_docs": len(held),
        "train_corpus_tokens": int(corpus.offsets[-1]),
        "valid_tokens": int(held.offsets[-1]),
        "vocab_size": len(corpus.vocab),
        "unk_share_valid": float(np.mean(np.asarray(held.ids) == 0)),
        "tokens_seen": stream.tokens_before(plan["segments"] * plan["segment_batches"]),
        "train_s": round(float(hist["time"].sum()), 1) if len(hist) else 0.0,
        "tokens_per_s": _mean_rate(hist) if len(hist) else res["tokens_per_s"],
        "valid_loss": valid_loss,
        "valid_perplexity": perplexity_from_loss(valid_loss),
        "tokenize_s": round(tokenize_s, 1),
        "wall_s_this_process": round(time.perf_counter() - t_start, 1),
        "segments": hist.to_dict(orient="records"),
    }
    if init:
        metrics["init"] = init
    if main:
        atomic_write_text(run.out / "metrics.json", json.dumps(metrics, indent=1))
    return metrics


def _mean_rate(hist) -> float:
    """Training tokens/s over every segment of the run, resumed ones included (a
    resumed process's own counter only saw the segments it ran itself)."""
    seen = hist["tokens_seen"].to_numpy(dtype=np.float64)
    tokens = np.diff(seen, prepend=0.0)
    return round(float(tokens.sum() / (tokens / hist["tokens_per_s"]).sum()), 1)


def _init_model(spec: str, tok: Tokenizer) -> tuple[LanguageModel, Vocab, dict]:
    """The LM a run continues from, its vocabulary, and what its card says of its
    own training (``tokens_seen`` and ``train_s`` summed over every run before)."""
    from ...core.io import read_model_dir
    from ..models.lm_dir import JSON_FILES, LM_KIND, lm_from_dir, model_subdir
    from ..pretrained import resolve_pretrained

    path = resolve_pretrained(spec)
    if path is None:
        raise ValueError(f"init {spec!r}: name a pretrained LM to continue from")
    d = read_model_dir(model_subdir(path), LM_KIND, JSON_FILES)
    config = d.json("config.json")
    if config.get("tokenizer") != asdict(tok):
        raise ValueError(
            f"{path}: its tokenizer settings differ from pretrain's; continue only "
            "from an LM that tabtext.nlp.pretrain made"
        )
    card = config.get("pretraining", {})
    keep = ("tokens_seen", "train_s", "valid_perplexity", "n_valid_docs")
    init = {"from": str(spec), **{k: card[k] for k in keep if k in card}}
    if "init" in card:  # tokens and time of every run before it, summed
        for k in ("tokens_seen", "train_s"):
            init[k] = init.get(k, 0) + card["init"].get(k, 0)
    return *lm_from_dir(d), init


@torch.no_grad()
def evaluate_lm(
    model: LanguageModel, loader: LMLoader, device=None, bf16: bool = False
) -> float:
    """Mean next-token cross-entropy of ``model`` over ``loader`` (eval mode)."""
    dev = distributed.device(device)
    model.to(dev).eval()
    model.reset()
    loss_fn, total, count = model.loss_fn(), 0.0, 0
    with torch.autocast(dev.type, torch.bfloat16, enabled=bf16):
        for x, y in loader:
            loss = loss_fn(model(x.to(dev)), y.to(dev))
            total, count = total + float(loss) * y.numel(), count + y.numel()
    model.reset()
    return total / max(count, 1)


def export_lm(
    run_dir: str | Path, dest: str | Path, metrics: dict | None = None
) -> Path:
    """Write ``run_dir``'s model in fp16 (the form tabtext ships), with a card.

    The card (``config.json``'s ``"pretraining"`` entry) records the settings, tokens
    seen, held-out perplexity and training time from ``metrics``.
    """
    from ...core.io import (
        bytes_to_tensors,
        dumps_json,
        read_model_dir,
        tensors_to_bytes,
        write_dir,
    )
    from ..models.lm_dir import JSON_FILES, LM_KIND, model_subdir

    d = read_model_dir(model_subdir(run_dir), LM_KIND, JSON_FILES)
    weights = d.files["model.safetensors"]
    state = bytes_to_tensors(weights, str(d.path / "model.safetensors"))
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    config = d.json("config.json")
    if metrics is not None:
        keep = (
            "config",
            "precision",
            "n_train_docs",
            "n_valid_docs",
            "tokens_seen",
            "train_corpus_tokens",
            "valid_tokens",
            "valid_perplexity",
            "train_s",
            "tokens_per_s",
            "vocab_size",
            "unk_share_valid",
            "init",
        )
        config["pretraining"] = {k: metrics[k] for k in keep if k in metrics}
    out = {
        "model.safetensors": tensors_to_bytes(half),
        "config.json": dumps_json(config),
        "vocab.json": d.files["vocab.json"],
    }
    return write_dir(dest, out, LM_KIND)
