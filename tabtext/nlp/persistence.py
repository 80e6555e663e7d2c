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
from .awd_lstm import AWDLSTMConfig, LanguageModel
from .classifier import TextClassifierModel
from .corpus import numericalize_corpus
from .inference import predict_docs
from .recipe import ULMFiTConfig
from .tokenize import Tokenizer
from .transfer import align_lm_state
from .vocab import Vocab

KIND = "tabtext.TextClassifier"
LM_KIND = "tabtext.LanguageModel"
LM_FILES = ("model.safetensors", "config.json", "vocab.json")


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
        return corpus.as_list(self.config.backwards)

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
    from .awd_lstm import AWDLSTMConfig, LanguageModel

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


def pretrained_lm_state(path, model: LanguageModel, vocab: Vocab) -> dict:
    """A pretrained LM's weights with its vocabulary aligned to ``vocab`` (ULMFiT)."""
    from .awd_lstm import AWDLSTMConfig

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
