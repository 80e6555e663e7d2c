"""A trained text classifier on disk: safetensors weights + JSON config and vocabulary.

The directory is written atomically with checksums (``tabtext.core.io``); loading it
parses JSON and safetensors only, never pickle.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...core.io import (
    CheckpointError,
    read_model_dir,
    save_model_dir,
)
from ..models.awd_lstm import AWDLSTMConfig
from ..models.classifier import TextClassifierModel
from ..models.inference import predict_docs
from ..models.lm_dir import JSON_FILES, model_subdir
from ..text.corpus import numericalize_corpus
from ..text.tokenize import Tokenizer
from ..text.vocab import Vocab
from ..training.config import ULMFiTConfig
from ..training.tasks import TextTask

KIND = "tabtext.TextClassifier"


@dataclass
class TextModel:
    """A text model with everything needed to go from raw text to its outputs:
    class or label probabilities, or values (regression, ``classes`` empty)."""

    model: TextClassifierModel
    vocab: Vocab
    tokenizer: Tokenizer
    config: ULMFiTConfig
    classes: list
    task: TextTask = field(default_factory=TextTask)

    def numericalize(
        self, texts: list[str], progress: bool | None = None
    ) -> list[np.ndarray]:
        corpus = numericalize_corpus(
            list(texts),
            self.tokenizer,
            vocab=self.vocab,
            use_cache=False,
            progress=progress,
        )
        return corpus.as_list(self.config.backwards)

    def predict_outputs(
        self, texts: list[str], device: str | None = None, progress: bool | None = None
    ) -> np.ndarray:
        """Class probabilities ``(n, C)``, label probabilities ``(n, C)``
        (multilabel) or values on the label's scale ``(n,)`` (regression)."""
        docs = self.numericalize(texts, progress)
        return predict_docs(
            self.model,
            docs,
            max(64, self.config.clas_bs * 2),
            self.config.max_tokens,
            device,
            act=self.task.activation,
        )

    def predict_proba(
        self, texts: list[str], device: str | None = None, progress: bool | None = None
    ) -> np.ndarray:
        """Class or label probabilities (not for a regression model)."""
        if self.task.kind == "regression":
            raise TypeError("a regression model has no probabilities: use predict")
        return self.predict_outputs(texts, device, progress)


def save_text_model(tm: TextModel, path: str | Path) -> Path:
    config = {
        "ulmfit": tm.config.to_dict(),
        "encoder": tm.model.config.to_dict(),
        "n_classes": tm.task.n_outputs(len(tm.classes)),  # the head's outputs
        "classes": [c.item() if isinstance(c, np.generic) else c for c in tm.classes],
        **tm.task.to_json(),
        "bptt": tm.model.sentence_encoder.bptt,
        "max_len": tm.model.sentence_encoder.max_len,
        "tokenizer": dataclasses.asdict(tm.tokenizer),
    }
    return save_model_dir(
        path,
        KIND,
        tm.model,
        {"config.json": config, "vocab.json": tm.vocab.to_json().encode()},
    )


def load_text_model(path: str | Path) -> TextModel:
    """Load a classifier directory (``OUT/model``, or ``OUT`` holding one)."""
    path = model_subdir(path)
    d = read_model_dir(path, KIND, JSON_FILES)
    cfg = d.json("config.json")
    try:
        vocab = Vocab(d.json("vocab.json")["itos"])
        classes = list(cfg["classes"])
        enc = AWDLSTMConfig.from_dict(cfg["encoder"])
        ulm = ULMFiTConfig.from_dict(cfg["ulmfit"])
        tok = Tokenizer(**cfg["tokenizer"])
        task = TextTask.from_json(cfg)  # no "task" entry (older dirs): classification
        model = TextClassifierModel(
            enc, int(cfg["n_classes"]), int(cfg["bptt"]), cfg["max_len"]
        )
        if task.n_outputs(len(classes)) != int(cfg["n_classes"]):
            raise ValueError(
                f"task {task.kind!r} with {len(classes)} classes but "
                f"n_classes={cfg['n_classes']}"
            )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CheckpointError(
            f"{path}/config.json or vocab.json is incomplete or invalid "
            f"({type(e).__name__}: {e}); re-save the model"
        ) from None
    d.load_weights(model)
    model.eval()
    return TextModel(model, vocab, tok, ulm, classes, task)
