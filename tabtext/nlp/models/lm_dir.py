"""A language model on disk: what ``pretrain`` and the LM stage write and what
``--pretrained`` reads. Safetensors weights + JSON config (AWD-LSTM sizes, tokenizer,
direction) and vocabulary, written atomically with checksums (``tabtext.core.io``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ...core.io import CheckpointError, ModelDir, read_model_dir, save_model_dir
from ..text.tokenize import Tokenizer
from ..text.vocab import Vocab
from .awd_lstm import AWDLSTMConfig, LanguageModel

LM_KIND = "tabtext.LanguageModel"
JSON_FILES = ("config.json", "vocab.json")  # beside model.safetensors


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
