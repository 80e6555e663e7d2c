"""ULMFiT end to end: corpus -> language model -> LM fine-tuning -> classifier.

:func:`run_ulmfit` is what ``TextClassifier.fit`` calls: it resolves the pretrained
LM, checks the run (:func:`plan_ulmfit`, cheap: bad input fails before any work) and
trains it (:func:`train_ulmfit`). ``python -m tabtext.nlp.finetune`` calls the two
steps itself, so that a bad flag is a usage error. A run writes into ``out``:
per-phase checkpoints and logs, the LM encoder, the classifier model directory
(``out/model``), plots and ``metrics.json``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...core import Callback, distributed
from ...core.io import atomic_write_text
from ..api.persistence import TextModel, save_text_model
from ..models.inference import predict_docs
from ..models.lm_dir import pretrained_backwards
from ..pretrained import resolve_pretrained
from ..text.corpus import Corpus, numericalize_corpus
from ..text.reading import TextDataset
from ..text.splits import Split, make_split
from ..text.tokenize import Tokenizer
from .classifier_stage import ClassifierData, classifier_stage, fit_task
from .config import ULMFiTConfig, fit_to_pretrained
from .lm_stage import language_model_stage
from .run_dir import Run
from .sampling import classifier_rows
from .self_training import pseudo_labels
from .tasks import TextTask, check_task_options

log = logging.getLogger(__name__)

# a run's validation outputs (probabilities, or a regression's values on the
# label's scale), beside valid_labels.npy
OUTPUTS_FILE = "valid_outputs.npy"


@dataclass(frozen=True)
class UlmfitPlan:
    """A checked run: the config fitted to the pretrained LM (``None``: none), the
    validation split, the task fitted on the classifier's labels and the unlabeled
    texts for the LM stages."""

    cfg: ULMFiTConfig
    pretrained: Path | None
    split: Split
    task: TextTask
    unlabeled: list[str]

    def backward(self) -> UlmfitPlan:
        """The same run on reversed text (the backward half of an ensemble)."""
        _check_direction(self.pretrained, True)
        return dataclasses.replace(
            self, cfg=dataclasses.replace(self.cfg, backwards=True)
        )


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

    The task is ``train.task`` (:mod:`tabtext.nlp.training.tasks`): ``class_weight``
    (None, "balanced" or ``{class: weight}``) weights a classification's
    cross-entropy, ``regression_loss`` ("mse", the default, or "smooth_l1") is a
    regression's; ``label_sep`` is recorded for reading multi-label files at
    prediction.

    ``progress``: the learners' progress setting (None: a bar on a terminal, one
    line per epoch otherwise; False: silent), see :class:`~tabtext.core.Learner`.

    Under torchrun every rank trains (DDP) and ends with the same model and metrics;
    rank 0 alone writes into ``out``.
    """
    pretrained = resolve_pretrained(pretrained)
    cfg = fit_to_pretrained(cfg, pretrained)
    plan = plan_ulmfit(
        train, valid, cfg, pretrained, unlabeled, class_weight, regression_loss,
        label_sep,
    )  # fmt: skip
    return train_ulmfit(plan, out, resume, device, cache_dir, progress)


def plan_ulmfit(
    train: TextDataset,
    valid: TextDataset | None,
    cfg: ULMFiTConfig,
    pretrained: Path | None,
    unlabeled: list[str] | None = None,
    class_weight: str | dict | None = None,
    regression_loss: str | None = None,
    label_sep: str = "|",
) -> UlmfitPlan:
    """The checked run of :func:`run_ulmfit`, for a resolved ``pretrained`` LM and
    a ``cfg`` fitted to it (:func:`~tabtext.nlp.training.config.fit_to_pretrained`):
    a ValueError says what to change."""
    _check_direction(pretrained, cfg.backwards)
    split, task = plan_task(
        train, valid, cfg, class_weight, regression_loss, label_sep,
        n_unlabeled=len(unlabeled or []),
    )  # fmt: skip
    return UlmfitPlan(cfg, pretrained, split, task, list(unlabeled or []))


def train_ulmfit(
    plan: UlmfitPlan,
    out: str | Path,
    resume: bool = False,
    device: str | None = None,
    cache_dir: str | Path | None = None,
    progress: bool | str | None = None,
    callbacks: Sequence[Callback] = (),
) -> dict:
    """Train the run ``plan`` into ``out`` (see :func:`run_ulmfit`); returns its
    metrics. ``callbacks`` join every fit of the run, LM and classifier phases
    (e.g. a :class:`~tabtext.core.TensorBoardLogger`)."""
    t_start = time.perf_counter()
    cfg, split, task = plan.cfg, plan.split, plan.task
    run = Run(out, resume)
    main = distributed.is_main()
    if main:
        atomic_write_text(run.out / "config.json", json.dumps(cfg.to_dict(), indent=1))
    tok = Tokenizer()
    corpus, valid_corpus, metrics = _numericalize(plan, run, tok, cache_dir)
    encoder, metrics["phases"] = language_model_stage(
        run, cfg, corpus, valid_corpus, plan.pretrained, resume, device, tok,
        progress=progress, callbacks=callbacks,
    )  # fmt: skip
    if task.class_weight is not None:
        metrics["class_weight"] = list(task.class_weight)
    data = ClassifierData(corpus, valid_corpus, split, encoder, task)
    stage = dict(resume=resume, device=device, progress=progress, callbacks=callbacks)
    model, phases = classifier_stage(run, cfg, data, **stage)
    metrics["phases"].update(phases)
    _note_best(metrics, run, "clas")
    for r in range(cfg.self_train_rounds if cfg.self_train else 0):
        rows, classes, found = pseudo_labels(cfg, corpus, split, model, device, r)
        metrics.setdefault("self_train", []).append(found)
        model, phases = classifier_stage(
            run, cfg, data, **stage, pseudo=(rows, classes), prefix=f"st{r + 1}_"
        )
        metrics["phases"].update(phases)
        _note_best(metrics, run, f"st{r + 1}_clas")
    text_model = TextModel(model, corpus.vocab, tok, cfg, split.classes, task)
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
    scores = task.score(outputs, split.valid_labels, split.valid_weights)
    metrics.update({f"valid_{k}": v for k, v in scores.items()})
    metrics["wall_s"] = round(time.perf_counter() - t_start, 1)
    if main:
        np.save(run.out / OUTPUTS_FILE, outputs, allow_pickle=False)
        np.save(run.out / "valid_labels.npy", split.valid_labels, allow_pickle=False)
        atomic_write_text(run.out / "metrics.json", json.dumps(metrics, indent=1))
    return metrics


def _note_best(metrics: dict, run: Run, key: str) -> None:
    """Add the classifier's best epoch (``--monitor``) to the metrics, if any."""
    best = run.best(key)
    if best is not None:
        metrics.setdefault("best_epoch", {})[key] = best


def _numericalize(
    plan: UlmfitPlan, run: Run, tok: Tokenizer, cache_dir: str | Path | None
) -> tuple[Corpus, Corpus, dict]:
    """The training corpus (labeled texts, then unlabeled ones), the validation
    corpus on its vocabulary, and the run's first metrics."""
    cfg, split = plan.cfg, plan.split
    extra = _without(plan.unlabeled, split.valid_texts)
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
    pretrained = plan.pretrained
    log.info(
        "language model: %s",
        "the target texts alone" if pretrained is None else f"from {pretrained}",
    )
    if distributed.is_main():
        vocab.save(run.out / "vocab.json")
    metrics = {
        "preset": cfg.preset,
        "task": plan.task.kind,
        "tokenize_s": round(t_tok, 2),
        "vocab_size": len(vocab),
        "n_train": len(split.train_texts),
        "n_unlabeled": len(extra),
        "n_valid": len(split.valid_texts),
        "pretrained": None if pretrained is None else str(pretrained),
    }
    return corpus, valid_corpus, metrics


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
    if cfg.monitor != "last" and cfg.monitor not in task.monitors():
        raise ValueError(
            f"monitor {cfg.monitor!r} is not a score of a {task.kind} task: use "
            f"--monitor last or one of {', '.join(task.monitors())}"
        )
    split = make_split(train, valid, cfg)
    if split.train_weights is not None:
        rows = classifier_rows(cfg, split, task.kind)
        if not split.train_weights[rows].sum() > 0:
            raise ValueError(
                f"all {len(rows):,} training texts the classifier learns from weigh "
                "0: give some of them a positive weight"
            )
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
    carry over (measured in ``benchmarks/RESULTS.md``), which is what ``--ensemble`` does for its backward half with the shipped LM."""
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


def ensemble_metrics(out: Path, fwd: dict, bwd: dict) -> dict:
    """The metrics of a forward and a backward run in ``out/fwd`` and ``out/bwd``
    averaged (``--ensemble``), written to ``out/metrics.json``."""
    distributed.barrier()  # rank 0 has written both runs' validation outputs
    metrics = {
        "task": fwd["task"],
        **ensemble_scores(out / "fwd", out / "bwd"),
        "forward": fwd,
        "backward": bwd,
        "wall_s": fwd["wall_s"] + bwd["wall_s"],
    }
    if distributed.is_main():
        atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=1))
    return metrics
