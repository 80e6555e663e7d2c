"""ULMFiT (Howard & Ruder 2018, "Universal Language Model Fine-tuning for Text
Classification"): language model, LM fine-tuning with discriminative LRs and slanted
triangular LRs, then a classifier trained with gradual unfreezing.

Training is split into *phases* (``lm``, ``lm_ft``, ``clas_1`` .. ``clas_all``). Each
phase checkpoints the whole learner after every epoch into ``OUT/ckpt/<phase>``, so a
killed run resumes from its last completed epoch; each phase runs under its own seed
(``seed + phase index``), so a resumed run ends where an uninterrupted one does.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..core import (
    Callback,
    Checkpoint,
    CSVLogger,
    GradientClip,
    Learner,
    accuracy,
    adamw,
    distributed,
)
from ..core.checkpoint import KIND as LEARNER_KIND
from ..core.io import atomic_write_text, read_dir
from .awd_lstm import AWDLSTMConfig, LanguageModel, preset
from .classifier import TextClassifierModel
from .loaders import BPTTScaleLR, ClassifierLoader, LMLoader, doc_positions
from .recipe import ULMFiTConfig

log = logging.getLogger(__name__)


@dataclass
class Docs:
    """A set of documents as one flat id array plus offsets (a view on a corpus)."""

    ids: np.ndarray
    offsets: np.ndarray

    @classmethod
    def select(cls, ids: np.ndarray, offsets: np.ndarray, idx: np.ndarray) -> Docs:
        flat = np.asarray(ids[doc_positions(offsets, idx)])
        lengths = offsets[idx + 1] - offsets[idx]
        return cls(flat, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def as_list(self, backwards: bool = False) -> list[np.ndarray]:
        docs = np.split(self.ids, self.offsets[1:-1])
        return [d[::-1].copy() for d in docs] if backwards else docs

    @property
    def n_tokens(self) -> int:
        return int(self.offsets[-1])


def lm_config(cfg: ULMFiTConfig, vocab_size: int, task: str = "lm") -> AWDLSTMConfig:
    """The AWD-LSTM config of the recipe: ``cfg.model`` preset plus size overrides."""
    sizes = {k: getattr(cfg, k) for k in ("emb_sz", "n_hid", "n_layers")}
    sizes = {k: v for k, v in sizes.items() if v is not None}
    cutoffs = None
    if task == "lm" and cfg.adaptive_softmax and vocab_size > 4000:
        cutoffs = (2000, 8000) if vocab_size > 12000 else (2000,)
    drop = cfg.lm_drop_mult if task == "lm" else cfg.clas_drop_mult
    return preset(
        cfg.model,
        vocab_size,
        task=task,
        drop_mult=drop,
        adaptive_softmax=cutoffs,
        **sizes,
    )


class TokenCounter(Callback):
    """Counts the non-pad input tokens of training batches (for tokens/s)."""

    order = 5

    def __init__(self, pad_idx: int = 1):
        self.pad_idx, self.tokens, self.seconds = pad_idx, 0, 0.0

    def before_train(self, learn) -> None:
        self._t0 = time.perf_counter()

    def after_batch(self, learn) -> None:
        if learn.training:
            self.tokens += int((learn.xb != self.pad_idx).sum())

    def after_train(self, learn) -> None:
        self.seconds += time.perf_counter() - self._t0


@dataclass
class Phase:
    """One fit of the recipe: which groups train, for how long, at which LRs."""

    name: str
    epochs: int
    lr: float
    freeze_to: int | None = None  # None: all groups train
    discriminative: bool = True
    schedule: str = "stlr"  # or "one_cycle"
    results: dict = field(default_factory=dict)


def discriminative_lrs(lr: float, n_groups: int, decay: float) -> list[float]:
    """Each group's LR is the next group's divided by ``decay`` (2.6 in ULMFiT)."""
    return [lr / decay ** (n_groups - 1 - i) for i in range(n_groups)]


class Run:
    """An output directory with per-phase checkpoints and a ``progress.json``."""

    def __init__(self, out: str | Path, resume: bool):
        self.out, self.resume = Path(out), resume
        self.out.mkdir(parents=True, exist_ok=True)
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
        files = read_dir(path, LEARNER_KIND)
        return int(json.loads(files["learner.json"])["epochs_done"])


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
    n = learn.n_groups
    lrs = (
        discriminative_lrs(phase.lr, n, cfg.lr_decay)
        if phase.discriminative
        else phase.lr
    )
    counter = TokenCounter()
    cbs = [
        counter,
        Checkpoint(run.ckpt(phase.name)),
        CSVLogger(run.out / f"log_{phase.name}.csv"),
        *extra_cbs,
    ]
    t0 = time.perf_counter()
    with torch.random.fork_rng(devices=_cuda_devices()), learn.added_cbs(cbs):
        torch.manual_seed(cfg.seed + 1000 * index)
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
    return results


def _cuda_devices() -> list[int]:
    return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []


def lm_learner(
    model: LanguageModel,
    train: Docs,
    valid: Docs,
    cfg: ULMFiTConfig,
    device=None,
    rank: int | None = None,
    world_size: int | None = None,
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
    return Learner(
        model,
        train_dl,
        valid_dl,
        loss_fn=model.loss_fn(),
        wd=cfg.wd,
        callbacks=[BPTTScaleLR(cfg.bptt), GradientClip(cfg.clip)],
        opt_func=_adam_lm,
        device=device,
        mixed_precision=use_bf16(cfg.precision, device),
        progress=None,
    )


def use_bf16(precision: str, device=None) -> bool:
    """Whether ``precision`` ("auto", "bf16" or "fp32") means bf16 autocast here."""
    if precision != "auto":
        return precision == "bf16"
    dev = distributed.device(device)
    if dev.type == "cuda":
        return True
    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return dev.type == "cpu" and bool(check and check())


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
) -> Learner:
    """A Learner for the classifier; under torchrun each rank gets every
    ``world_size``-th batch of the training and validation sets."""
    rank, world_size = _shard(rank, world_size)
    pad = model.config.pad_idx
    train_dl = ClassifierLoader(
        train[0],
        train[1],
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
        valid[1],
        cfg.clas_bs * 2,
        shuffle=False,
        pad_idx=pad,
        max_tokens=cfg.max_tokens,
        rank=rank,
        world_size=world_size,
    )
    return Learner(
        model,
        train_dl,
        valid_dl,
        loss_fn=torch.nn.functional.cross_entropy,
        metrics=[accuracy],
        wd=cfg.wd,
        callbacks=[GradientClip(cfg.clip)],
        opt_func=_adam_lm,
        device=device,
        mixed_precision=use_bf16(cfg.precision, device),
        progress=None,
    )


def lm_phases(cfg: ULMFiTConfig, pretrained: bool) -> list[Phase]:
    phases = []
    if not pretrained and cfg.lm_epochs:
        phases.append(Phase("lm", cfg.lm_epochs, cfg.lm_lr, None, discriminative=False))
    if cfg.lm_ft_epochs:
        phases.append(Phase("lm_ft", cfg.lm_ft_epochs, cfg.lm_ft_lr))
    return phases


def classifier_phases(cfg: ULMFiTConfig, n_groups: int) -> list[Phase]:
    """Gradual unfreezing: the head, then one more group per phase, then everything."""
    phases = []
    for k in cfg.unfreeze:
        if k >= n_groups:
            break
        phases.append(Phase(f"clas_{k}", 1, cfg.clas_lr / 2 ** (k - 1), freeze_to=-k))
    if cfg.clas_epochs:
        final = cfg.clas_final_lr if cfg.clas_final_lr is not None else cfg.clas_lr / 20
        phases.append(Phase("clas_all", cfg.clas_epochs, final, None))
    return phases


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


def predict_docs(
    model: TextClassifierModel,
    docs: list[np.ndarray],
    bs: int,
    max_tokens: int | None,
    device=None,
    progress: Callable | None = None,
) -> np.ndarray:
    """Class probabilities for token-id documents, batched longest-first."""
    dl = ClassifierLoader(
        docs,
        None,
        bs,
        shuffle=False,
        pad_idx=model.config.pad_idx,
        max_tokens=max_tokens,
    )
    device = distributed.device(device)
    model.to(device).eval()
    cuda = device.type == "cuda"
    chunks = []
    with torch.no_grad(), torch.autocast(device.type, torch.bfloat16, enabled=cuda):
        for x in dl:
            logits = model(x.to(device, non_blocking=cuda))
            chunks.append(torch.softmax(logits.float(), 1).cpu().numpy())
            if progress is not None:
                progress(len(x))
    probs = np.concatenate(chunks)
    out = np.empty_like(probs)
    out[dl.order()] = probs
    return out
