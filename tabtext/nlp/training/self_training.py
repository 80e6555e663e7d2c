"""Self-training (pseudo-labelling, Lee 2013) of a ULMFiT classifier.

A trained classifier labels the texts it learned no label from; the rows it is surest
of per class join the next classifier's training set
(:func:`~tabtext.nlp.training.classifier_stage.classifier_stage` with ``pseudo``).
"""

from __future__ import annotations

import logging

import numpy as np

from ..models.classifier import TextClassifierModel
from ..models.inference import predict_docs
from ..text.corpus import Corpus
from ..text.splits import Split
from .config import ULMFiTConfig
from .sampling import classifier_rows

log = logging.getLogger(__name__)


def pseudo_labels(
    cfg: ULMFiTConfig,
    corpus: Corpus,
    split: Split,
    teacher: TextClassifierModel,
    device,
    round_: int = 0,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Self-training (pseudo-labelling, Lee 2013): ``teacher`` scores
    ``cfg.self_train_pool`` corpus rows it learned no label from, drawn at random
    (training texts outside :func:`classifier_rows`, then unlabeled texts); the
    ``cfg.self_train`` rows it is surest of per class are returned with that class,
    and what the round found (pool, rows per class, lowest confidence, accuracy where
    a training label is known). Each ``round_`` draws its own pool.

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
    log.info("self-training: %s", info)
    return rows, classes, info
