"""A trained text classifier on disk: safetensors weights + JSON config and vocabulary.

The directory is written atomically with checksums (``tabtext.core.io``); loading it
parses JSON and safetensors only, never pickle.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.checkpoint import load_model_weights
from ..core.io import (
    CheckpointError,
    bytes_to_tensors,
    dumps_json,
    loads_json,
    read_dir,
    tensors_to_bytes,
    write_dir,
)
from .awd_lstm import AWDLSTMConfig
from .classifier import TextClassifierModel
from .corpus import numericalize_corpus
from .recipe import ULMFiTConfig
from .tokenize import Tokenizer
from .ulmfit import Docs, predict_docs
from .vocab import Vocab

KIND = "tabtext.TextClassifier"


@dataclass
class TextModel:
    """A classifier with everything needed to go from raw text to probabilities."""

    model: TextClassifierModel
    vocab: Vocab
    tokenizer: Tokenizer
    config: ULMFiTConfig
    classes: list

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
        return Docs(corpus.ids, corpus.offsets).as_list(self.config.backwards)

    def predict_proba(
        self, texts: list[str], device: str | None = None, progress: bool | None = None
    ) -> np.ndarray:
        docs = self.numericalize(texts, progress)
        return predict_docs(
            self.model,
            docs,
            max(64, self.config.clas_bs * 2),
            self.config.max_tokens,
            device,
        )


def save_text_model(tm: TextModel, path: str | Path) -> Path:
    config = {
        "ulmfit": tm.config.to_dict(),
        "encoder": tm.model.config.to_dict(),
        "n_classes": len(tm.classes),
        "classes": [c.item() if isinstance(c, np.generic) else c for c in tm.classes],
        "bptt": tm.model.sentence_encoder.bptt,
        "max_len": tm.model.sentence_encoder.max_len,
        "tokenizer": dataclasses.asdict(tm.tokenizer),
    }
    files = {
        "model.safetensors": tensors_to_bytes(tm.model.state_dict()),
        "config.json": dumps_json(config),
        "vocab.json": json.dumps({"itos": tm.vocab.itos}, ensure_ascii=False).encode(),
    }
    return write_dir(path, files, KIND)


def model_subdir(path: str | Path) -> Path:
    """``path`` itself if it is a model directory, else its ``model/`` subfolder
    (the layout ``finetune`` and ``pretrain`` write into ``--out``)."""
    path = Path(path)
    if (
        not (path / "manifest.json").exists()
        and (path / "model" / "manifest.json").exists()
    ):
        return path / "model"
    return path


def load_text_model(path: str | Path) -> TextModel:
    """Load a classifier directory (``OUT/model``, or ``OUT`` holding one)."""
    path = model_subdir(path)
    files = read_dir(
        path, KIND, required=("config.json", "vocab.json", "model.safetensors")
    )
    cfg = loads_json(files["config.json"], str(path / "config.json"))
    itos = loads_json(files["vocab.json"], str(path / "vocab.json"))
    try:
        vocab = Vocab(itos["itos"])
        classes = list(cfg["classes"])
        enc = AWDLSTMConfig.from_dict(cfg["encoder"])
        ulm = ULMFiTConfig.from_dict(cfg["ulmfit"])
        tok = Tokenizer(**cfg["tokenizer"])
        model = TextClassifierModel(
            enc, int(cfg["n_classes"]), int(cfg["bptt"]), cfg["max_len"]
        )
        if len(classes) != int(cfg["n_classes"]):
            raise ValueError(f"{len(classes)} classes but n_classes={cfg['n_classes']}")
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CheckpointError(
            f"{path}/config.json or vocab.json is incomplete or invalid "
            f"({type(e).__name__}: {e}); re-save the model"
        ) from None
    weights = bytes_to_tensors(
        files["model.safetensors"], str(path / "model.safetensors")
    )
    load_model_weights(model, weights, str(path / "model.safetensors"))
    model.eval()
    return TextModel(model, vocab, tok, ulm, classes)
