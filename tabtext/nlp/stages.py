"""The stages of ULMFiT (Howard & Ruder 2018) and the learners they train.

Each phase of the plan (:mod:`tabtext.nlp.recipe`) checkpoints the whole learner after
every epoch into ``OUT/ckpt/<phase>``, so a killed run resumes from its last completed
epoch; each phase runs under its own seed (``seed + phase index``), so a resumed run
ends where an uninterrupted one does. :func:`language_model_stage` trains or fine-tunes
the LM (stages 1-2) and returns its encoder; :func:`classifier_stage` trains the
classifier on it with gradual unfreezing (stage 3).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import time
import weakref
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..core import (
    Callback,
    Checkpoint,
    CSVLogger,
    GradientClip,
    Learner,
    adamw,
    distributed,
)
from ..core.checkpoint import read_state
from ..core.io import (
    atomic_write_bytes,
    atomic_write_text,
    bytes_to_tensors,
    tensors_to_bytes,
)
from ..core.metrics import perplexity_from_loss
from ..core.rng import seeded
from ..core.run_lock import RunLock
from .awd_lstm import LanguageModel
from .classifier import TextClassifierModel
from .corpus import Corpus
from .inference import predict_docs
from .loaders import ClassifierLoader, LMLoader
from .persistence import pretrained_lm_state, save_lm
from .recipe import Phase, ULMFiTConfig, classifier_phases, lm_config, lm_phases
from .splits import Split
from .tasks import TextTask
from .text_callbacks import BPTTScaleLR, TokenCounter
from .tokenize import Tokenizer

log = logging.getLogger(__name__)


class Run:
    """An output directory with per-phase checkpoints and a ``progress.json``."""

    def __init__(self, out: str | Path, resume: bool):
        self.out, self.resume = Path(out), resume
        self.out.mkdir(parents=True, exist_ok=True)
        if distributed.is_main():  # one run per --out; released when the run ends
            weakref.finalize(self, RunLock(self.out).acquire().release)
        self.progress_path = self.out / "progress.json"
        self.progress = {"done": {}}
        if resume and self.progress_path.exists():
            self.progress = json.loads(self.progress_path.read_text())
        elif not resume and distributed.is_main():
            self.progress_path.unlink(missing_ok=True)

    def ckpt(self, phase: str) -> Path:
        return self.out / "ckpt" / phase

    def done(self, phase: str) -> dict | None:
        return self.progress["done"].get(phase)

    def mark_done(self, phase: str, results: dict) -> None:
        self.progress["done"][phase] = results
        if distributed.is_main():  # under torchrun, rank 0 writes
            atomic_write_text(self.progress_path, json.dumps(self.progress, indent=1))

    def epochs_done(self, phase: str) -> int:
        path = self.ckpt(phase)
        if not (path / "learner.json").exists():
            return 0
        return int(read_state(path)["epochs_done"])


def run_phase(
    learn: Learner,
    phase: Phase,
    run: Run,
    cfg: ULMFiTConfig,
    index: int,
    resume: bool,
    extra_cbs: Sequence[Callback] = (),
) -> dict:
    """Fit ``phase`` on ``learn`` with STLR, checkpointing every epoch; resumable."""
    if phase.freeze_to is None:
        learn.unfreeze()
    else:
        learn.freeze_to(phase.freeze_to)
    lrs = phase.lrs(learn.n_groups, cfg.lr_decay) if phase.discriminative else phase.lr
    counter = TokenCounter()
    title = learn.progress.label = phase.title(learn.n_groups)
    log.info(
        "%s: %d epoch%s of %s batches, max LR %.3g",
        title,
        phase.epochs,
        "s" if phase.epochs != 1 else "",
        f"{len(learn.train_dl):,}",
        phase.lr,
    )
    cbs = [
        counter,
        Checkpoint(run.ckpt(phase.name)),
        CSVLogger(run.out / f"log_{phase.name}.csv"),
        *extra_cbs,
    ]
    t0 = time.perf_counter()
    seed = cfg.seed + 1000 * index
    with seeded(seed, devices=_cuda_devices()), learn.added_cbs(cbs):
        start = 0
        if resume and run.epochs_done(phase.name):
            learn.load(run.ckpt(phase.name))
            start = learn.resume_epoch
            log.info("phase %s: resuming after epoch %d", phase.name, start)
        if start < phase.epochs and phase.schedule == "one_cycle":
            learn.fit_one_cycle(
                phase.epochs, lrs, moms=(0.8, 0.7, 0.8), start_epoch=start
            )
        elif start < phase.epochs:
            learn.fit_stlr(phase.epochs, lrs, start_epoch=start)
    hist = learn.history
    last = hist.iloc[-1].to_dict() if len(hist) else {}
    results = {
        "epochs": phase.epochs,
        "lr": phase.lr,
        "wall_s": round(time.perf_counter() - t0, 2),
        "train_tokens": counter.tokens,
        "tokens_per_s": round(counter.tokens / counter.seconds, 1)
        if counter.seconds
        else None,
        **{k: float(v) for k, v in last.items() if k not in ("epoch",)},
    }
    run.mark_done(phase.name, results)
    said = [f"{k} {results[k]:.4f}" for k in ("valid_loss", "accuracy") if k in results]
    log.info("%s: done in %.0f s  %s", title, results["wall_s"], "  ".join(said))
    return results


def _cuda_devices() -> list[int]:
    return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []


def lm_learner(
    model: LanguageModel,
    train: Corpus,
    valid: Corpus,
    cfg: ULMFiTConfig,
    device=None,
    rank: int | None = None,
    world_size: int | None = None,
    progress: bool | str | None = None,
) -> Learner:
    """A Learner for the language model on the training and validation streams.

    ``rank``/``world_size`` (default: from torchrun, see :mod:`tabtext.core.
    distributed`) give each process its contiguous slice of both streams.
    """
    rank, world_size = _shard(rank, world_size)
    train_dl = LMLoader(
        train.ids,
        train.offsets,
        cfg.lm_bs,
        cfg.bptt,
        shuffle=True,
        seed=cfg.seed,
        rank=rank,
        world_size=world_size,
        backwards=cfg.backwards,
    )
    valid_dl = LMLoader(
        valid.ids,
        valid.offsets,
        min(cfg.lm_bs, max(1, valid.n_tokens // (4 * cfg.bptt))),
        cfg.bptt,
        shuffle=False,
        variable_bptt=False,
        rank=rank,
        world_size=world_size,
        backwards=cfg.backwards,
    )
    learn = Learner(
        model,
        train_dl,
        valid_dl,
        loss_fn=model.loss_fn(),
        wd=cfg.wd,
        callbacks=[BPTTScaleLR(cfg.bptt), GradientClip(cfg.clip)],
        opt_func=_adam_lm,
        device=device,
        mixed_precision=use_bf16(cfg.precision, device),
        progress=progress,
    )
    _count_tokens(learn)
    return learn


def use_bf16(precision: str, device=None) -> bool:
    """Whether ``precision`` ("auto", "bf16" or "fp32") means bf16 autocast here.

    "auto" is bf16 on CUDA and on CPUs with AVX512-BF16. "bf16"
    on a CPU without it is refused: oneDNN has no bf16 LSTM there.
    """
    dev = distributed.device(device)
    if precision != "auto":
        if precision == "bf16" and dev.type == "cpu" and not cpu_has_bf16():
            raise ValueError(
                "precision bf16: this CPU has no AVX512-BF16, and its LSTM kernels "
                "(oneDNN) have no bf16 form; use --precision fp32 or auto"
            )
        return precision == "bf16"
    if dev.type == "cuda":
        return True
    return dev.type == "cpu" and cpu_has_bf16()


def cpu_has_bf16() -> bool:
    """Whether this CPU has AVX512-BF16 (bf16 autocast runs the LSTM there)."""
    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return bool(check and check())


def _count_tokens(learn: Learner, pad: int | None = None) -> None:
    """Progress lines count a text learner's input tokens (those not ``pad``), not
    its rows."""
    learn.progress.unit = "tokens"
    if pad is None:  # an LM stream has no padding
        learn.progress.count = lambda lrn: lrn.xb.numel()
    else:
        learn.progress.count = lambda lrn: (lrn.xb != pad).sum()


def _shard(rank: int | None, world_size: int | None) -> tuple[int, int]:
    rank = distributed.rank() if rank is None else rank
    return rank, distributed.world_size() if world_size is None else world_size


# fastai's text defaults: beta1 0.8 (its 1cycle moms 0.8/0.7/0.8), beta2 0.99
_adam_lm = functools.partial(adamw, betas=(0.8, 0.99))


def classifier_learner(
    model: TextClassifierModel,
    train: tuple[list, np.ndarray],
    valid: tuple[list, np.ndarray],
    cfg: ULMFiTConfig,
    device=None,
    rank: int | None = None,
    world_size: int | None = None,
    task: TextTask | None = None,
    progress: bool | str | None = None,
) -> Learner:
    """A Learner for the classifier; under torchrun each rank gets every
    ``world_size``-th batch of the training and validation sets.

    ``task`` (default: unweighted classification) gives the loss and the metrics;
    ``train``/``valid`` hold the labels, which it turns into the loss' targets.
    """
    rank, world_size = _shard(rank, world_size)
    task = task or TextTask()
    pad = model.config.pad_idx
    train_dl = ClassifierLoader(
        train[0],
        task.targets(train[1]),
        cfg.clas_bs,
        shuffle=True,
        pad_idx=pad,
        max_tokens=cfg.max_tokens,
        seed=cfg.seed,
        rank=rank,
        world_size=world_size,
        min_batches=cfg.clas_min_steps,
    )
    valid_dl = ClassifierLoader(
        valid[0],
        task.targets(valid[1]),
        cfg.clas_bs * 2,
        shuffle=False,
        pad_idx=pad,
        max_tokens=cfg.max_tokens,
        rank=rank,
        world_size=world_size,
    )
    learn = Learner(
        model,
        train_dl,
        valid_dl,
        loss_fn=task.loss_fn(),
        metrics=task.metrics(),
        wd=cfg.wd,
        callbacks=[GradientClip(cfg.clip)],
        opt_func=_adam_lm,
        device=device,
        mixed_precision=use_bf16(cfg.precision, device),
        progress=progress,
    )
    _count_tokens(learn, pad)
    return learn


def encoder_state(model: LanguageModel) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.encoder.state_dict().items()}


def balanced_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` indices with classes as balanced as possible (seeded)."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per = [rng.permutation(np.nonzero(labels == c)[0]) for c in classes]
    take, i = [], 0
    while len(take) < n and any(i < len(p) for p in per):
        take += [p[i] for p in per if i < len(p)]
        i += 1
    return np.sort(np.array(take[:n]))


def subset(n_total: int, n: int | None, seed: int) -> np.ndarray:
    if n is None or n >= n_total:
        return np.arange(n_total)
    return np.sort(np.random.default_rng(seed).choice(n_total, n, replace=False))


def language_model_stage(
    run: Run,
    cfg: ULMFiTConfig,
    corpus,
    valid_corpus,
    pretrained,
    resume: bool,
    device,
    metrics: dict,
    tok: Tokenizer | None = None,
    progress: bool | str | None = None,
) -> dict[str, torch.Tensor]:
    """Stages 1-2: (pre)train and fine-tune the LM; returns the encoder's weights.

    With ``tok``, a trained LM is also written as the LM directory ``out/lm`` (what
    ``pretrain`` writes), which ``--pretrained OUT/lm`` starts from: one LM fine-tuned
    on all texts can serve several classifiers.
    """
    enc_path = run.out / "encoder.safetensors"
    phases = lm_phases(cfg, pretrained is not None)
    if resume and enc_path.exists() and all(run.done(p.name) for p in phases):
        metrics["phases"].update({p.name: run.done(p.name) for p in phases})
        return bytes_to_tensors(enc_path.read_bytes(), str(enc_path))
    vocab = corpus.vocab
    with seeded(cfg.seed):
        model = LanguageModel(lm_config(cfg, len(vocab)))
    if pretrained is not None:
        model.load_state_dict(pretrained_lm_state(pretrained, model, vocab))
    n_valid = (
        len(valid_corpus)
        if cfg.lm_docs is None
        else max(50, int(cfg.lm_docs * cfg.valid_pct))
    )
    train = corpus.select(subset(len(corpus), cfg.lm_docs, cfg.seed))
    valid = valid_corpus.select(subset(len(valid_corpus), n_valid, cfg.seed))
    learn = lm_learner(model, train, valid, cfg, device, progress=progress)
    for i, phase in enumerate(phases):
        if resume and run.done(phase.name):
            learn.load(run.ckpt(phase.name))  # weights, optimizer, RNG: exact resume
            metrics["phases"][phase.name] = run.done(phase.name)
            continue
        res = run_phase(learn, phase, run, cfg, i, resume)
        res["valid_perplexity"] = perplexity_from_loss(res.get("valid_loss", np.nan))
        metrics["phases"][phase.name] = res
        log.debug("%s: %s", phase.name, res)
    if phases:
        learn.plot_loss(run.out / "lm_loss.png")
        learn.plot_lr(run.out / "lm_lr.png")
    state = encoder_state(model)
    if distributed.is_main():
        if phases and tok is not None:
            save_lm(model, vocab, tok, run.out / "lm", backwards=cfg.backwards)
        atomic_write_bytes(enc_path, tensors_to_bytes(state))
    return state


def classifier_rows(cfg: ULMFiTConfig, split: Split, task: str) -> np.ndarray:
    """The training-part rows the classifier learns from: ``max_labels`` of them
    (balanced by class for classification, a seeded random subset otherwise),
    ``clas_docs`` at random, or all."""
    n_labeled = len(split.train_texts)  # the corpus' first documents; then unlabeled
    if cfg.max_labels is not None and task == "classification":
        return balanced_subset(split.train_labels, cfg.max_labels, cfg.seed)
    if cfg.max_labels is not None:
        return subset(n_labeled, cfg.max_labels, cfg.seed)
    if cfg.clas_docs is not None:
        return subset(n_labeled, cfg.clas_docs, cfg.seed)
    return np.arange(n_labeled)


def fit_task(
    task: TextTask, cfg: ULMFiTConfig, split: Split, class_weight=None
) -> TextTask:
    """``task`` fitted on the labels the classifier learns from (class weights,
    the regression target's mean and std)."""
    labels = split.train_labels[classifier_rows(cfg, split, task.kind)]
    return task.fit(labels, list(split.classes), class_weight)


def classifier_stage(
    run: Run,
    cfg: ULMFiTConfig,
    corpus: Corpus,
    valid_corpus: Corpus,
    split: Split,
    encoder: dict,
    resume: bool,
    device,
    metrics: dict,
    task: TextTask | None = None,
    progress: bool | str | None = None,
    pseudo: tuple[np.ndarray, np.ndarray] | None = None,
    prefix: str = "",
) -> TextClassifierModel:
    """Stage 3: the classifier with gradual unfreezing, discriminative LRs and STLR.

    ``task`` (fitted, see :func:`fit_task`; default: classification) sets the
    head's size, the loss and the metrics. ``pseudo``: corpus rows and the classes
    given to them (:func:`pseudo_labels`), learned beside the labeled rows by a
    fresh classifier. ``prefix`` goes before its phases' names (checkpoints, logs,
    plots), e.g. ``st1_clas_all``.
    """
    task = task or TextTask()
    idx = classifier_rows(cfg, split, task.kind)
    labels = split.train_labels[idx]
    if pseudo is not None:
        idx, labels = (
            np.concatenate([idx, pseudo[0]]),
            np.concatenate([labels, pseudo[1]]),
        )
    docs = corpus.select(idx).as_list(cfg.backwards)
    vdocs = valid_corpus.as_list(cfg.backwards)
    config = lm_config(cfg, len(corpus.vocab), task="classifier")
    n_out = task.n_outputs(len(split.classes))
    with seeded(cfg.seed):
        model = TextClassifierModel(config, n_out, cfg.bptt, cfg.max_len)
    model.load_encoder(encoder)
    train, valid = (docs, labels), (vdocs, split.valid_labels)
    learn = classifier_learner(
        model, train, valid, cfg, device, task=task, progress=progress
    )
    phases = classifier_phases(cfg, learn.n_groups, len(docs))
    phases = [dataclasses.replace(p, name=prefix + p.name) for p in phases]
    for i, phase in enumerate(phases):
        if resume and run.done(phase.name):
            learn.load(run.ckpt(phase.name))  # weights, optimizer, RNG: exact resume
            metrics["phases"][phase.name] = run.done(phase.name)
            continue
        metrics["phases"][phase.name] = run_phase(
            learn, phase, run, cfg, 10 + i, resume
        )
        log.debug("%s: %s", phase.name, metrics["phases"][phase.name])
    learn.plot_loss(run.out / f"{prefix}clas_loss.png")
    learn.plot_lr(run.out / f"{prefix}clas_lr.png")
    return model


def pseudo_labels(
    cfg: ULMFiTConfig,
    corpus: Corpus,
    split: Split,
    teacher: TextClassifierModel,
    device,
    metrics: dict,
    round_: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Self-training (pseudo-labelling, Lee 2013): ``teacher`` scores
    ``cfg.self_train_pool`` corpus rows it learned no label from, drawn at random
    (training texts outside :func:`classifier_rows`, then unlabeled texts); the
    ``cfg.self_train`` rows it is surest of per class are returned with that class.
    Each ``round_`` draws its own pool; what it found is appended to
    ``metrics["self_train"]``.

    The validation texts are not in ``corpus``: they stay out of this as well.
    """
    labeled = classifier_rows(cfg, split, "classification")
    free = np.setdiff1d(np.arange(len(corpus)), labeled)
    if len(free) == 0:
        raise ValueError(
            "--self-train needs texts without labels: use --max-labels or "
            "--unlabeled FILE"
        )
    rng = np.random.default_rng(cfg.seed + 1 + round_)
    pool = np.sort(rng.choice(free, min(len(free), cfg.self_train_pool), replace=False))
    probs = predict_docs(
        teacher,
        corpus.select(pool).as_list(cfg.backwards),
        max(64, 2 * cfg.clas_bs),
        cfg.max_tokens,
        device,
    )
    pred, conf = probs.argmax(1), probs.max(1)
    best = [  # per class, the pool positions it is surest of, surest first
        mine[np.argsort(-conf[mine], kind="stable")[: cfg.self_train]]
        for mine in (np.nonzero(pred == c)[0] for c in range(probs.shape[1]))
    ]
    chosen = np.concatenate(best)
    rows, classes = pool[chosen], pred[chosen].astype(np.int64)
    info = {
        "round": round_ + 1,
        "pool": len(pool),
        "per_class": [len(b) for b in best],
        "min_confidence": float(conf[chosen].min()),
    }
    known = rows < len(split.train_texts)  # a training text: its label, unused, says
    if known.any():  # how right the pseudo-labels are (reported, never learned from)
        truth = split.train_labels[rows[known]]
        info["accuracy_where_known"] = float((truth == classes[known]).mean())
    metrics.setdefault("self_train", []).append(info)
    log.info("self-training: %s", info)
    return rows, classes
