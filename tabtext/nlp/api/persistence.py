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
    ModelDir,
    bytes_to_tensors,
    load_model_weights,
    read_model_dir,
    save_model_dir,
)
from ..models.awd_lstm import AWDLSTMConfig, LanguageModel
from ..models.classifier import TextClassifierModel
from ..models.inference import predict_docs
from ..models.vocab_transfer import align_lm_state
from ..text.corpus import numericalize_corpus
from ..text.tokenize import Tokenizer
from ..text.vocab import Vocab
from ..training.config import ULMFiTConfig
from ..training.tasks import TextTask

KIND = "tabtext.TextClassifier"
LM_KIND = "tabtext.LanguageModel"
JSON_FILES = ("config.json", "vocab.json")  # beside model.safetensors


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


def save_lm(
    model: LanguageModel,
    vocab: Vocab,
    tok: Tokenizer,
    path: str | Path,
    backwards: bool = False,
) -> Path:
    """A language-model directory: weights, vocabulary, AWD-LSTM and tokenizer config,
    and the direction it was trained to read (``backwards``: reversed text)."""
    config = {
        "awd_lstm": model.config.to_dict(),
        "tokenizer": dataclasses.asdict(tok),
        "backwards": backwards,
    }
    return save_model_dir(
        path,
        LM_KIND,
        model,
        {"config.json": config, "vocab.json": vocab.to_json().encode()},
    )


def load_lm(path: str | Path) -> tuple[LanguageModel, Vocab]:
    """Load what :func:`save_lm` wrote (for ``generate`` or inspection)."""
    return lm_from_dir(read_model_dir(model_subdir(path), LM_KIND, JSON_FILES))


def lm_from_dir(d: ModelDir) -> tuple[LanguageModel, Vocab]:
    """The model and vocabulary of a language-model directory already read and
    verified (:func:`~tabtext.core.io.read_model_dir`)."""
    from ..models.awd_lstm import AWDLSTMConfig, LanguageModel

    path = d.path
    try:
        config = AWDLSTMConfig.from_dict(_lm_json(d, "config.json", "awd_lstm"))
        model = LanguageModel(config)
        vocab = Vocab(_lm_json(d, "vocab.json", "itos"))
    except (TypeError, ValueError, AttributeError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(
            f"{path}/config.json or vocab.json is invalid ({type(e).__name__}: {e})"
        ) from None
    d.load_weights(model)
    return model.eval(), vocab


def _lm_json(d: ModelDir, name: str, key: str):
    """``d``'s file ``name`` parsed as JSON, its entry ``key``, or a CheckpointError
    naming the file."""
    obj = d.json(name)
    if not isinstance(obj, dict) or key not in obj:
        raise CheckpointError(
            f"{d.path / name} has no {key!r} entry; re-save the model"
        )
    return obj[key]


def pretrained_lm_state(path, model: LanguageModel, vocab: Vocab) -> dict:
    """A pretrained LM's weights with its vocabulary aligned to ``vocab`` (ULMFiT)."""
    from ..models.awd_lstm import AWDLSTMConfig

    d = read_model_dir(model_subdir(path), LM_KIND, JSON_FILES)
    path = d.path
    weights = str(path / "model.safetensors")
    state = bytes_to_tensors(d.files["model.safetensors"], weights)
    old_itos = _lm_json(d, "vocab.json", "itos")
    old_cfg = AWDLSTMConfig.from_dict(_lm_json(d, "config.json", "awd_lstm"))
    try:
        state = align_lm_state(
            state, old_itos, old_cfg.adaptive_softmax, model, vocab.itos
        )
    except (KeyError, ValueError, RuntimeError) as e:
        raise CheckpointError(
            f"{path}: the pretrained weights do not fit its config.json "
            f"({type(e).__name__}: {e})"
        ) from None
    load_model_weights(model, state, weights)
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


def pretrained_backwards(path) -> bool:
    """Whether a pretrained LM directory was trained on reversed text: its
    config's ``backwards``, else (directories from before it was written) its
    pretraining card's, else forward."""
    d = read_model_dir(model_subdir(path), LM_KIND, JSON_FILES)
    config = d.json("config.json")
    if isinstance(config, dict) and "backwards" not in config:
        card = config.get("pretraining")
        config = card.get("config") if isinstance(card, dict) else None
    return isinstance(config, dict) and config.get("backwards") is True


def pretrained_sizes(path) -> dict[str, int]:
    """``emb_sz``, ``n_hid`` and ``n_layers`` of a pretrained LM directory."""
    d = read_model_dir(model_subdir(path), LM_KIND, JSON_FILES)
    cfg = _lm_json(d, "config.json", "awd_lstm")
    return {k: int(cfg[k]) for k in ("emb_sz", "n_hid", "n_layers")}
