"""Language models shipped inside the package (package data, no network).

Each one is a model directory as :func:`tabtext.nlp.models.lm_dir.save_lm` writes it
(fp16 safetensors, vocabulary and config JSON, a SHA-256 manifest), made by
``python -m tabtext.nlp.pretrain ... --export``; its model card (``en_wiki_small/README.md``) says how.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT", "available", "resolve_pretrained"]

#: The general-domain English LM ``finetune`` and ``TextClassifier`` start from.
DEFAULT = "en_wiki_small"
_HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    """Names of the shipped language models."""
    return sorted(p.name for p in _HERE.iterdir() if (p / "manifest.json").is_file())


def resolve_pretrained(spec: str | Path | None) -> Path | None:
    """The directory of a pretrained LM: ``spec`` as a path, else a shipped name.

    ``None`` or ``"none"`` means no pretrained LM; ``"auto"`` the :data:`DEFAULT`
    one when it is shipped (else none).
    """
    if spec is None or str(spec) == "none":
        return None
    if str(spec) == "auto":
        return _HERE / DEFAULT if DEFAULT in available() else None
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    if str(spec) in available():
        return _HERE / str(spec)
    raise ValueError(
        f"pretrained LM {str(spec)!r}: no such directory, and not a shipped model "
        f"(shipped: {', '.join(available()) or 'none'}); pass a directory written by "
        "tabtext.nlp.pretrain, or 'none' to train from the target texts alone"
    )
