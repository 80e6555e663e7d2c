"""Stage 3 of ULMFiT (Howard & Ruder 2018): the classifier on the LM's encoder.

Concat pooling and BPT3C (:mod:`tabtext.nlp.models.bpt3c`) on top of the encoder,
trained with gradual unfreezing, discriminative LRs and STLR
(:mod:`tabtext.nlp.training.phase_plan`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ...core import Callback
from ...core.rng import seeded
from ..models.classifier import TextClassifierModel
from ..text.corpus import Corpus
from ..text.splits import Split
from .callbacks import StageBest
from .config import MONITOR_MODES, ULMFiTConfig, lm_config
from .learners import classifier_learner
from .phase_plan import classifier_phases, run_phases
from .run_dir import Run
from .sampling import classifier_rows
from .tasks import TextTask

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassifierData:
    """What every classifier of a run learns from: the numericalized training texts
    (``corpus``: labeled first, then unlabeled) and validation texts, their split
    (labels, classes), the LM encoder's weights and the fitted task
    (:func:`fit_task`)."""

    corpus: Corpus
    valid_corpus: Corpus
    split: Split
    encoder: dict[str, torch.Tensor]
    task: TextTask


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
    data: ClassifierData,
    *,
    resume: bool,
    device,
    progress: bool | str | None = None,
    pseudo: tuple[np.ndarray, np.ndarray] | None = None,
    prefix: str = "",
    callbacks: Sequence[Callback] = (),
) -> tuple[TextClassifierModel, dict[str, dict]]:
    """Stage 3: the classifier with gradual unfreezing, discriminative LRs and STLR.

    ``data.task`` sets the head's size, the loss and the metrics. ``pseudo``: corpus
    rows and the classes given to them
    (:func:`~tabtext.nlp.training.self_training.pseudo_labels`), learned beside the
    labeled rows by a fresh classifier. With ``cfg.monitor`` other than "last"
    the model ends with the weights of its best epoch over all phases (recorded in
    ``run`` as ``<prefix>clas``). ``prefix`` goes before its phases' names
    (checkpoints, logs, plots), e.g. ``st1_clas_all``. ``callbacks`` join every
    phase's fit (e.g. an experiment tracker). Returns the trained model and
    each phase's results by phase name.
    """
    task, split = data.task, data.split
    idx = classifier_rows(cfg, split, task.kind)
    labels = split.train_labels[idx]
    weights = None if split.train_weights is None else split.train_weights[idx]
    if pseudo is not None:
        idx, labels = (
            np.concatenate([idx, pseudo[0]]),
            np.concatenate([labels, pseudo[1]]),
        )
        if weights is not None:  # a pseudo-label weighs as an average labeled row
            extra = np.full(len(pseudo[0]), weights.mean())
            weights = np.concatenate([weights, extra])
    docs = data.corpus.select(idx).as_list(cfg.backwards)
    vdocs = data.valid_corpus.as_list(cfg.backwards)
    config = lm_config(cfg, len(data.corpus.vocab), task="classifier")
    n_out = task.n_outputs(len(split.classes))
    with seeded(cfg.seed):
        model = TextClassifierModel(config, n_out, cfg.bptt, cfg.max_len)
    model.load_encoder(data.encoder)
    train, valid = (docs, labels), (vdocs, split.valid_labels)
    if weights is not None:  # mean 1: the LRs keep their meaning
        weights = weights / weights.mean()
    learn = classifier_learner(
        model, train, valid, cfg, device, task=task, progress=progress,
        weights=(weights, split.valid_weights),
    )  # fmt: skip
    phases = classifier_phases(cfg, learn.n_groups, len(docs))
    phases = [dataclasses.replace(p, name=prefix + p.name) for p in phases]
    best = None
    if cfg.monitor != "last":  # the best epoch over all phases, kept on disk
        column = "valid_loss" if cfg.monitor == "loss" else cfg.monitor
        key = f"{prefix}clas"
        best = StageBest(
            column, MONITOR_MODES[cfg.monitor], run.ckpt(f"{key}_best"), run, key
        )
        callbacks = [*callbacks, best]
    results = run_phases(learn, phases, run, cfg, 10, resume, extra_cbs=callbacks)
    if best is not None and best.restore_best(learn) is not None:
        log.info("classifier: the weights of epoch %d (best %s %.4f)",
                 best.best_epoch + 1, cfg.monitor, best.best)  # fmt: skip
    learn.plot_loss(run.out / f"{prefix}clas_loss.png")
    learn.plot_lr(run.out / f"{prefix}clas_lr.png")
    return model, results
