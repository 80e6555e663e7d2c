"""The learners of ULMFiT's stages: the language model's and the classifier's.

Both use Adam with fastai's text betas (0.8, 0.99), weight decay and gradient
clipping; the LM's learning rate scales with each batch's BPTT window
(:class:`~tabtext.nlp.training.callbacks.BPTTScaleLR`, variable-length BPTT).
Progress lines count input tokens, not rows.
"""

from __future__ import annotations

import functools
from typing import Protocol

import numpy as np

from ...core import GradientClip, Learner, adamw, distributed
from ...core.precision import resolve
from ..models.awd_lstm import LanguageModel
from ..models.classifier import TextClassifierModel
from ..text.corpus import Corpus
from ..text.loaders import ClassifierLoader, LMLoader, lm_valid_loader
from .callbacks import BPTTScaleLR
from .config import ULMFiTConfig
from .tasks import TextTask


class LearnerSettings(Protocol):
    """What the LM learner reads of a config (ULMFiT's or pretraining's)."""

    bptt: int
    wd: float
    clip: float


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
    valid_dl = lm_valid_loader(
        valid, cfg.lm_bs, cfg.bptt, cfg.backwards, rank=rank, world_size=world_size
    )
    return lm_learner_from_loaders(
        model,
        train_dl,
        valid_dl,
        cfg,
        mixed_precision=lstm_precision(cfg.precision, device),
        device=device,
        progress=progress,
    )


def lstm_precision(precision: str, device=None) -> str:
    """``precision`` for a text Learner, refused (ValueError) where the LSTM kernels
    of this device cannot run it."""
    resolve(precision, device, lstm=True)
    return precision


def lm_learner_from_loaders(
    model: LanguageModel,
    train_dl,
    valid_dl,
    training: LearnerSettings,
    mixed_precision: str | bool,
    device=None,
    progress: bool | str | None = None,
) -> Learner:
    """A Learner for the language model on given batch iterators (an
    :class:`~tabtext.nlp.text.loaders.LMLoader` or a pretraining stream).

    ``training`` gives ``bptt`` (the LR scales with each batch's window), ``wd`` and
    ``clip``: a :class:`~tabtext.nlp.training.config.ULMFiTConfig` or a
    :class:`~tabtext.nlp.training.pretraining.PretrainConfig`.
    """
    learn = Learner(
        model,
        train_dl,
        valid_dl,
        loss_fn=model.loss_fn(),
        wd=training.wd,
        callbacks=[BPTTScaleLR(training.bptt), GradientClip(training.clip)],
        opt_func=_adam_lm,
        device=device,
        mixed_precision=mixed_precision,
        progress=progress,
    )
    _count_tokens(learn)
    return learn


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
    weights: tuple[np.ndarray | None, np.ndarray | None] = (None, None),
) -> Learner:
    """A Learner for the classifier; under torchrun each rank gets every
    ``world_size``-th batch of the training and validation sets.

    ``task`` (default: unweighted classification) gives the loss and the metrics;
    ``train``/``valid`` hold the labels, which it turns into the loss' targets.
    ``weights``: the training and validation rows' weights (None: unweighted);
    any weights make the loss row-weighted, and validation weights weigh the
    validation loss and metrics.
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
        weights=weights[0],
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
        weights=weights[1],
    )
    learn = Learner(
        model,
        train_dl,
        valid_dl,
        loss_fn=task.loss_fn(weighted=any(w is not None for w in weights)),
        metrics=task.metrics(cfg.monitor),
        wd=cfg.wd,
        callbacks=[GradientClip(cfg.clip)],
        opt_func=_adam_lm,
        device=device,
        mixed_precision=lstm_precision(cfg.precision, device),
        progress=progress,
    )
    _count_tokens(learn, pad)
    return learn
