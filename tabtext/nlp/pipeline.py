"""ULMFiT end to end: corpus -> language model -> LM fine-tuning -> classifier.

``run_ulmfit`` is what ``python -m tabtext.nlp.finetune`` and ``TextClassifier.fit``
call. It writes into ``out``: per-phase checkpoints and logs, the LM encoder, the
classifier model directory (``out/model``), plots and ``metrics.json``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..core import distributed
from ..core.checkpoint import load_model_weights
from ..core.io import (
    CheckpointError,
    atomic_write_bytes,
    atomic_write_text,
    bytes_to_tensors,
    loads_json,
    read_dir,
    tensors_to_bytes,
    write_dir,
)
from .awd_lstm import LanguageModel
from .classifier import TextClassifierModel
from .corpus import numericalize_corpus
from .data import TextDataset, stratified_split
from .model_dir import TextModel, model_subdir, save_text_model
from .pretrained import resolve_pretrained
from .recipe import ULMFiTConfig
from .tokenize import Tokenizer
from .ulmfit import (
    Docs,
    Run,
    balanced_subset,
    classifier_learner,
    classifier_phases,
    encoder_state,
    lm_config,
    lm_learner,
    lm_phases,
    predict_docs,
    run_phase,
)
from .vocab import Vocab

log = logging.getLogger(__name__)
LM_KIND = "tabtext.LanguageModel"
LM_FILES = ("model.safetensors", "config.json", "vocab.json")


@dataclass
class Split:
    train_texts: list[str]
    train_labels: np.ndarray
    valid_texts: list[str]
    valid_labels: np.ndarray
    classes: list


def make_split(
    train: TextDataset, valid: TextDataset | None, cfg: ULMFiTConfig
) -> Split:
    """The validation set: ``valid`` if given, else a stratified seeded share of train."""
    if train.labels is None:
        raise ValueError(f"{train.source}: the classifier needs labels, found none")
    if valid is not None:
        if valid.labels is None:
            raise ValueError(f"{valid.source}: the validation file has no labels")
        if list(valid.classes) != list(train.classes):
            raise ValueError(
                f"{valid.source} has classes {valid.classes} but {train.source} has "
                f"{train.classes}; both files need the same label values"
            )
        return Split(
            train.texts, train.labels, valid.texts, valid.labels, train.classes
        )
    tr, va = stratified_split(train.labels, cfg.valid_pct, cfg.seed)
    texts = train.texts
    return Split(
        [texts[i] for i in tr],
        train.labels[tr],
        [texts[i] for i in va],
        train.labels[va],
        train.classes,
    )


def _subset(n_total: int, n: int | None, seed: int) -> np.ndarray:
    if n is None or n >= n_total:
        return np.arange(n_total)
    return np.sort(np.random.default_rng(seed).choice(n_total, n, replace=False))


def run_ulmfit(
    train: TextDataset,
    valid: TextDataset | None,
    cfg: ULMFiTConfig,
    out: str | Path,
    pretrained: str | Path | None = "auto",
    resume: bool = False,
    device: str | None = None,
    cache_dir: str | Path | None = None,
    unlabeled: list[str] | None = None,
) -> dict:
    """Train a ULMFiT classifier; returns the metrics also written to metrics.json.

    ``pretrained``: a shipped LM's name, a directory written by ``pretrain``, "auto"
    (the shipped English LM) or None (an LM trained on the target texts alone).
    ``unlabeled`` texts join the vocabulary and the LM stages only, never the
    classifier; any that equal a validation text are dropped.

    Under torchrun every rank trains (DDP) and ends with the same model and metrics;
    rank 0 alone writes into ``out``.
    """
    t_start = time.perf_counter()
    pretrained = resolve_pretrained(pretrained)
    cfg = fit_to_pretrained(cfg, pretrained)
    run = Run(out, resume)
    main = distributed.is_main()
    if main:
        atomic_write_text(run.out / "config.json", json.dumps(cfg.to_dict(), indent=1))
    split = make_split(train, valid, cfg)
    extra = _without(unlabeled or [], split.valid_texts)
    tok = Tokenizer()
    t0 = time.perf_counter()
    corpus = numericalize_corpus(
        split.train_texts + extra,
        tok,
        min_freq=cfg.min_freq,
        max_vocab=cfg.max_vocab,
        cache_dir=cache_dir,
    )
    valid_corpus = numericalize_corpus(
        split.valid_texts, tok, vocab=corpus.vocab, cache_dir=cache_dir
    )
    t_tok = time.perf_counter() - t0
    vocab = corpus.vocab
    if main:
        vocab.save(run.out / "vocab.json")
    metrics = {
        "preset": cfg.preset,
        "tokenize_s": round(t_tok, 2),
        "vocab_size": len(vocab),
        "n_train": len(split.train_texts),
        "n_unlabeled": len(extra),
        "n_valid": len(split.valid_texts),
        "pretrained": None if pretrained is None else str(pretrained),
        "phases": {},
    }
    encoder = _language_model(
        run, cfg, corpus, valid_corpus, pretrained, resume, device, metrics
    )
    model = _classifier(
        run, cfg, corpus, valid_corpus, split, encoder, resume, device, metrics
    )
    text_model = TextModel(model, vocab, tok, cfg, split.classes)
    if main:
        save_text_model(text_model, run.out / "model")
    probs = predict_docs(
        model,
        Docs(valid_corpus.ids, valid_corpus.offsets).as_list(cfg.backwards),
        cfg.clas_bs * 2,
        cfg.max_tokens,
        device,
    )
    metrics["valid_accuracy"] = float((probs.argmax(1) == split.valid_labels).mean())
    metrics["wall_s"] = round(time.perf_counter() - t_start, 1)
    if main:
        np.save(run.out / "valid_probs.npy", probs, allow_pickle=False)
        np.save(run.out / "valid_labels.npy", split.valid_labels, allow_pickle=False)
        atomic_write_text(run.out / "metrics.json", json.dumps(metrics, indent=1))
    return metrics


def _language_model(
    run: Run,
    cfg: ULMFiTConfig,
    corpus,
    valid_corpus,
    pretrained,
    resume: bool,
    device,
    metrics: dict,
) -> dict[str, torch.Tensor]:
    """Stages 1-2: (pre)train and fine-tune the LM; returns the encoder's weights."""
    enc_path = run.out / "encoder.safetensors"
    phases = lm_phases(cfg, pretrained is not None)
    if resume and enc_path.exists() and all(run.done(p.name) for p in phases):
        metrics["phases"].update({p.name: run.done(p.name) for p in phases})
        return bytes_to_tensors(enc_path.read_bytes(), str(enc_path))
    vocab = corpus.vocab
    with torch.random.fork_rng():
        torch.manual_seed(cfg.seed)
        model = LanguageModel(lm_config(cfg, len(vocab)))
    if pretrained is not None:
        model.load_state_dict(_pretrained_lm_state(pretrained, model, vocab))
    lm_idx = _subset(len(corpus), cfg.lm_docs, cfg.seed)
    n_valid = (
        len(valid_corpus)
        if cfg.lm_docs is None
        else max(50, int(cfg.lm_docs * cfg.valid_pct))
    )
    train = Docs.select(corpus.ids, corpus.offsets, lm_idx)
    valid = Docs.select(
        valid_corpus.ids,
        valid_corpus.offsets,
        _subset(len(valid_corpus), n_valid, cfg.seed),
    )
    learn = lm_learner(model, train, valid, cfg, device)
    for i, phase in enumerate(phases):
        if resume and run.done(phase.name):
            learn.load(run.ckpt(phase.name))  # weights, optimizer, RNG: exact resume
            metrics["phases"][phase.name] = run.done(phase.name)
            continue
        res = run_phase(learn, phase, run, cfg, i, resume)
        res["valid_perplexity"] = float(np.exp(res.get("valid_loss", np.nan)))
        metrics["phases"][phase.name] = res
        log.info("%s: %s", phase.name, res)
    if phases:
        learn.plot_loss(run.out / "lm_loss.png")
        learn.plot_lr(run.out / "lm_lr.png")
    state = encoder_state(model)
    if distributed.is_main():
        atomic_write_bytes(enc_path, tensors_to_bytes(state))
    return state


def _pretrained_lm_state(path, model: LanguageModel, vocab: Vocab) -> dict:
    """A pretrained LM's weights with its vocabulary aligned to ``vocab`` (ULMFiT)."""
    from .awd_lstm import AWDLSTMConfig
    from .transfer import align_lm_state

    path = model_subdir(path)
    files = read_dir(path, LM_KIND, required=LM_FILES)
    state = bytes_to_tensors(
        files["model.safetensors"], str(path / "model.safetensors")
    )
    old_itos = _lm_json(files, path, "vocab.json", "itos")
    old_cfg = AWDLSTMConfig.from_dict(_lm_json(files, path, "config.json", "awd_lstm"))
    try:
        state = align_lm_state(
            state, old_itos, old_cfg.adaptive_softmax, model, vocab.itos
        )
    except (KeyError, ValueError, RuntimeError) as e:
        raise CheckpointError(
            f"{path}: the pretrained weights do not fit its config.json "
            f"({type(e).__name__}: {e})"
        ) from None
    load_model_weights(model, state, str(path / "model.safetensors"))
    return state


def _without(texts: list[str], held_out: list[str]) -> list[str]:
    """``texts`` minus any that equal a held-out text (which must stay unseen)."""
    held = set(held_out)
    kept = [t for t in texts if t not in held]
    if len(kept) < len(texts):
        log.warning(
            "dropped %d unlabeled texts equal to validation texts",
            len(texts) - len(kept),
        )
    return kept


def fit_to_pretrained(cfg: ULMFiTConfig, pretrained: Path | None) -> ULMFiTConfig:
    """``cfg`` with the pretrained LM's sizes; sizes given otherwise are an error."""
    if pretrained is None:
        return cfg
    sizes = pretrained_sizes(pretrained)
    clash = {k: v for k, v in sizes.items() if getattr(cfg, k) not in (None, v)}
    if clash:
        given = ", ".join(f"{k}={getattr(cfg, k)}" for k in clash)
        raise ValueError(
            f"{given} does not fit the pretrained LM {pretrained} ({sizes}); drop the "
            "size flags, or train from scratch with --no-pretrained"
        )
    return dataclasses.replace(cfg, **sizes)


def pretrained_sizes(path) -> dict[str, int]:
    """``emb_sz``, ``n_hid`` and ``n_layers`` of a pretrained LM directory."""
    path = model_subdir(path)
    files = read_dir(path, LM_KIND, required=LM_FILES)
    cfg = _lm_json(files, path, "config.json", "awd_lstm")
    return {k: int(cfg[k]) for k in ("emb_sz", "n_hid", "n_layers")}


def _classifier(
    run: Run,
    cfg: ULMFiTConfig,
    corpus,
    valid_corpus,
    split: Split,
    encoder: dict,
    resume: bool,
    device,
    metrics: dict,
) -> TextClassifierModel:
    """Stage 3: the classifier with gradual unfreezing, discriminative LRs and STLR."""
    n_labeled = len(
        split.train_texts
    )  # the corpus' first documents; the rest unlabeled
    idx = np.arange(n_labeled)
    if cfg.max_labels is not None:
        idx = balanced_subset(split.train_labels, cfg.max_labels, cfg.seed)
    elif cfg.clas_docs is not None:
        idx = _subset(n_labeled, cfg.clas_docs, cfg.seed)
    docs = Docs.select(corpus.ids, corpus.offsets, idx).as_list(cfg.backwards)
    vdocs = Docs(valid_corpus.ids, valid_corpus.offsets).as_list(cfg.backwards)
    config = lm_config(cfg, len(corpus.vocab), task="classifier")
    with torch.random.fork_rng():
        torch.manual_seed(cfg.seed)
        model = TextClassifierModel(config, len(split.classes), cfg.bptt, cfg.max_len)
    model.load_encoder(encoder)
    learn = classifier_learner(
        model, (docs, split.train_labels[idx]), (vdocs, split.valid_labels), cfg, device
    )
    for i, phase in enumerate(classifier_phases(cfg, learn.n_groups)):
        if resume and run.done(phase.name):
            learn.load(run.ckpt(phase.name))  # weights, optimizer, RNG: exact resume
            metrics["phases"][phase.name] = run.done(phase.name)
            continue
        metrics["phases"][phase.name] = run_phase(
            learn, phase, run, cfg, 10 + i, resume
        )
        log.info("%s: %s", phase.name, metrics["phases"][phase.name])
    learn.plot_loss(run.out / "clas_loss.png")
    learn.plot_lr(run.out / "clas_lr.png")
    return model


def ensemble_accuracy(*dirs: str | Path) -> float:
    """Validation accuracy of the average of several runs' probabilities."""
    probs = [np.load(Path(d) / "valid_probs.npy", allow_pickle=False) for d in dirs]
    labels = np.load(Path(dirs[0]) / "valid_labels.npy", allow_pickle=False)
    return float((np.mean(probs, 0).argmax(1) == labels).mean())


def save_lm(
    model: LanguageModel, vocab: Vocab, tok: Tokenizer, path: str | Path
) -> Path:
    """A language-model directory: weights, vocabulary, AWD-LSTM and tokenizer config."""
    config = {"awd_lstm": model.config.to_dict(), "tokenizer": dataclasses.asdict(tok)}
    files = {
        "model.safetensors": tensors_to_bytes(model.state_dict()),
        "config.json": json.dumps(config, indent=1).encode(),
        "vocab.json": json.dumps({"itos": vocab.itos}, ensure_ascii=False).encode(),
    }
    return write_dir(path, files, LM_KIND)


def load_lm(path: str | Path) -> tuple[LanguageModel, Vocab]:
    """Load what :func:`save_lm` wrote (for ``generate`` or inspection)."""
    from .awd_lstm import AWDLSTMConfig

    path = model_subdir(path)
    files = read_dir(path, LM_KIND, required=LM_FILES)
    try:
        config = AWDLSTMConfig.from_dict(
            _lm_json(files, path, "config.json", "awd_lstm")
        )
        model = LanguageModel(config)
        vocab = Vocab(_lm_json(files, path, "vocab.json", "itos"))
    except (TypeError, ValueError, AttributeError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(
            f"{path}/config.json or vocab.json is invalid ({type(e).__name__}: {e})"
        ) from None
    state = bytes_to_tensors(
        files["model.safetensors"], str(path / "model.safetensors")
    )
    load_model_weights(model, state, str(path / "model.safetensors"))
    return model.eval(), vocab


def _lm_json(files: dict[str, bytes], path: Path, name: str, key: str):
    """``files[name][key]`` parsed as JSON, or a CheckpointError naming the file."""
    obj = loads_json(files[name], str(path / name))
    if not isinstance(obj, dict) or key not in obj:
        raise CheckpointError(f"{path / name} has no {key!r} entry; re-save the model")
    return obj[key]
