"""ULMFiT end to end: corpus -> language model -> LM fine-tuning -> classifier.

``run_ulmfit`` is what ``python -m tabtext.nlp.finetune`` and ``TextClassifier.fit``
call. It writes into ``out``: per-phase checkpoints and logs, the LM encoder, the
classifier model directory (``out/model``), plots and ``metrics.json``.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from pathlib import Path

import numpy as np

from ...core import distributed
from ...core.io import atomic_write_text
from ..api.persistence import (
    TextModel,
    fit_to_pretrained,
    pretrained_backwards,
    save_text_model,
)
from ..models.inference import predict_docs
from ..pretrained import resolve_pretrained
from ..text.corpus import numericalize_corpus
from ..text.reading import TextDataset
from ..text.splits import Split, make_split
from ..text.tokenize import Tokenizer
from .config import ULMFiTConfig
from .stages import (
    Run,
    classifier_rows,
    classifier_stage,
    fit_task,
    language_model_stage,
    pseudo_labels,
)
from .tasks import TextTask, check_task_options

log = logging.getLogger(__name__)

# a run's validation outputs (probabilities, or a regression's values on the
# label's scale), beside valid_labels.npy
OUTPUTS_FILE = "valid_outputs.npy"


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
    class_weight: str | dict | None = None,
    regression_loss: str | None = None,
    label_sep: str = "|",
    progress: bool | str | None = None,
) -> dict:
    """Train a ULMFiT classifier; returns the metrics also written to metrics.json.

    ``pretrained``: a shipped LM's name, a directory written by ``pretrain``, "auto"
    (the shipped English LM) or None (an LM trained on the target texts alone).
    ``unlabeled`` texts join the vocabulary and the LM stages only, never the
    classifier; any that equal a validation text are dropped.

    The task is ``train.task`` (:mod:`tabtext.nlp.training.tasks`): ``class_weight`` (None,
    "balanced" or ``{class: weight}``) weights a classification's cross-entropy,
    ``regression_loss`` ("mse", the default, or "smooth_l1") is a regression's;
    ``label_sep`` is recorded for reading multi-label files at prediction.

    ``progress``: the learners' progress setting (None: a bar on a terminal, one
    line per epoch otherwise; False: silent), see :class:`~tabtext.core.Learner`.

    Under torchrun every rank trains (DDP) and ends with the same model and metrics;
    rank 0 alone writes into ``out``.
    """
    t_start = time.perf_counter()
    pretrained = resolve_pretrained(pretrained)
    cfg = fit_to_pretrained(cfg, pretrained)
    _check_direction(pretrained, cfg.backwards)
    split, task = plan_task(
        train, valid, cfg, class_weight, regression_loss, label_sep,
        n_unlabeled=len(unlabeled or []),
    )  # fmt: skip
    run = Run(out, resume)
    main = distributed.is_main()
    if main:
        atomic_write_text(run.out / "config.json", json.dumps(cfg.to_dict(), indent=1))
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
    log.info(
        "texts: %s labeled for training, %s for validation, %s unlabeled (LM only); "
        "tokenized in %.1f s, vocabulary %s",
        f"{len(split.train_texts):,}",
        f"{len(split.valid_texts):,}",
        f"{len(extra):,}",
        t_tok,
        f"{len(vocab):,}",
    )
    log.info(
        "language model: %s",
        "the target texts alone" if pretrained is None else f"from {pretrained}",
    )
    if main:
        vocab.save(run.out / "vocab.json")
    metrics = {
        "preset": cfg.preset,
        "task": task.kind,
        "tokenize_s": round(t_tok, 2),
        "vocab_size": len(vocab),
        "n_train": len(split.train_texts),
        "n_unlabeled": len(extra),
        "n_valid": len(split.valid_texts),
        "pretrained": None if pretrained is None else str(pretrained),
        "phases": {},
    }
    encoder = language_model_stage(
        run,
        cfg,
        corpus,
        valid_corpus,
        pretrained,
        resume,
        device,
        metrics,
        tok,
        progress=progress,
    )
    if task.class_weight is not None:
        metrics["class_weight"] = list(task.class_weight)
    train_classifier = functools.partial(
        classifier_stage,
        run,
        cfg,
        corpus,
        valid_corpus,
        split,
        encoder,
        resume,
        device,
        metrics,
        task,
        progress=progress,
    )
    model = train_classifier()
    for r in range(cfg.self_train_rounds if cfg.self_train else 0):
        pseudo = pseudo_labels(cfg, corpus, split, model, device, metrics, r)
        model = train_classifier(pseudo=pseudo, prefix=f"st{r + 1}_")
    text_model = TextModel(model, vocab, tok, cfg, split.classes, task)
    if main:
        save_text_model(text_model, run.out / "model")
    outputs = predict_docs(
        model,
        valid_corpus.as_list(cfg.backwards),
        cfg.clas_bs * 2,
        cfg.max_tokens,
        device,
        act=task.activation,
    )
    scores = task.score(outputs, split.valid_labels)
    metrics.update({f"valid_{k}": v for k, v in scores.items()})
    metrics["wall_s"] = round(time.perf_counter() - t_start, 1)
    if main:
        np.save(run.out / OUTPUTS_FILE, outputs, allow_pickle=False)
        np.save(run.out / "valid_labels.npy", split.valid_labels, allow_pickle=False)
        atomic_write_text(run.out / "metrics.json", json.dumps(metrics, indent=1))
    return metrics


def plan_task(
    train: TextDataset,
    valid: TextDataset | None,
    cfg: ULMFiTConfig,
    class_weight: str | dict | None = None,
    regression_loss: str | None = None,
    label_sep: str = "|",
    n_unlabeled: int = 0,
) -> tuple[Split, TextTask]:
    """The validation split and the task fitted on the classifier's labels: what
    :func:`run_ulmfit` does first, cheap, so that bad input fails before any work
    (a ValueError saying what to change). ``n_unlabeled``: how many unlabeled texts
    come with ``train`` (self-training needs some, or ``max_labels``)."""
    check_task_options(train.task, class_weight, regression_loss)
    task = TextTask(train.task, label_sep, regression_loss or "mse")
    if cfg.self_train and task.kind != "classification":
        raise ValueError(
            f"self_train pseudo-labels classes; the task here is {task.kind}: "
            "drop --self-train"
        )
    split = make_split(train, valid, cfg)
    if cfg.self_train and not n_unlabeled:
        used = len(classifier_rows(cfg, split, task.kind))
        if used >= len(split.train_texts):
            raise ValueError(
                f"self_train pseudo-labels texts without labels, and the classifier "
                f"learns from all {used:,} training texts: add --max-labels N (fewer) "
                "or --unlabeled FILE"
            )
    return split, fit_task(task, cfg, split, class_weight)


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


def _check_direction(pretrained: Path | None, backwards: bool) -> None:
    """Say so when the pretrained LM reads the other way than the model to train.
    The model starts from it all the same: its embeddings and much of the rest
    carry over (IMDB, 1,500 texts for the LM: a backward classifier from the
    forward ``en_wiki_small`` 83.2% against 83.2% forward, 50% from scratch), which
    is what ``--ensemble`` does for its backward half with the shipped LM."""
    if pretrained is None or pretrained_backwards(pretrained) == backwards:
        return
    if backwards:
        log.info(
            "the backward model starts from %s, a forward LM (`pretrain --backwards` "
            "makes an LM that reads backwards)",
            pretrained,
        )
    else:
        log.warning(
            "the forward model starts from %s, an LM trained on reversed text; "
            "pass a forward LM (pretrain without --backwards) unless you meant it",
            pretrained,
        )


def ensemble_scores(*dirs: str | Path) -> dict[str, float]:
    """Validation metrics (``valid_accuracy``, ...) of the average of several runs'
    outputs: probabilities, or a regression's values."""
    run = json.loads((Path(dirs[0]) / "metrics.json").read_text())
    task = TextTask(run.get("task", "classification"))
    outs = [np.load(Path(d) / OUTPUTS_FILE, allow_pickle=False) for d in dirs]
    labels = np.load(Path(dirs[0]) / "valid_labels.npy", allow_pickle=False)
    scores = task.score(np.mean(outs, 0), labels)
    return {f"valid_{k}": v for k, v in scores.items()}
