"""Transfer a pretrained language model to a new vocabulary (ULMFiT, Howard & Ruder
2018, section 3.2: the target task's vocabulary differs from the general corpus').

:func:`load_pretrained_embeddings` re-indexes the embedding
(and a full-softmax decoder): shared tokens keep their rows, new ones start at the
mean. An adaptive softmax (Grave et al. 2017) cannot be re-indexed row by row, since
its clusters follow each vocabulary's frequency order; :func:`align_adaptive_head`
keeps a token's row wherever it stays in the same part (the shortlist or the same
tail cluster: exactly the same logits there), and moves a token into a tail through
its *effective output vector* (its old shortlist row, or its old cluster's row plus
its tail row projected back to the hidden size) solved for in the least-squares
sense; tokens new to a tail start at the mean of its old rows, and shortlist tokens
that were not in the old shortlist keep their fresh rows.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from ...core.io import (
    CheckpointError,
    bytes_to_tensors,
    load_model_weights,
    read_model_dir,
)
from ..text.vocab import Vocab
from .awd_lstm import AWDLSTMConfig, LanguageModel
from .lm_dir import JSON_FILES, LM_KIND, _lm_json, model_subdir

__all__ = [
    "align_adaptive_head",
    "align_lm_state",
    "load_pretrained_embeddings",
    "pretrained_lm_state",
]

log = logging.getLogger(__name__)


def load_pretrained_embeddings(
    old_state: Mapping[str, Tensor],
    old_itos: Sequence[str],
    new_itos: Sequence[str],
) -> dict[str, Tensor]:
    """Re-index a pretrained model's vocabulary rows for a new vocabulary (ULMFiT).

    Rows of tokens in both vocabularies are copied; tokens new to the model start at
    the mean of the old rows. This is applied to the embedding matrix, an untied
    decoder weight and the decoder bias; other entries are kept as they are, except an
    adaptive softmax head's, which are left out (its clusters depend on the vocabulary:
    load with ``strict=False`` and let the new head learn).

    Parameters
    ----------
    old_state : mapping
        ``state_dict()`` of a :class:`LanguageModel` or an :class:`AWDLSTM`.
    old_itos, new_itos : sequence of str
        Id-to-token lists of the old and the new vocabularies.

    Returns
    -------
    dict
        A state dict for a model with ``vocab_size == len(new_itos)``.
    """
    old_index = {tok: i for i, tok in enumerate(old_itos)}
    pairs = [(j, old_index[t]) for j, t in enumerate(new_itos) if t in old_index]
    new_rows = torch.tensor([j for j, _ in pairs], dtype=torch.long)
    old_rows = torch.tensor([i for _, i in pairs], dtype=torch.long)
    new_state: dict[str, Tensor] = {}
    for key, value in old_state.items():
        if key.startswith("adaptive."):
            continue
        if key.endswith("embed.embedding.weight") or key in (
            "decoder_weight",
            "decoder_bias",
        ):
            if value.size(0) != len(old_itos):
                raise ValueError(
                    f"{key} has {value.size(0)} rows but old_itos has {len(old_itos)} "
                    f"tokens: pass the vocabulary the model was trained with."
                )
            fresh = value.mean(0, keepdim=True).expand(len(new_itos), *value.shape[1:])
            fresh = fresh.clone()
            fresh[new_rows] = value[old_rows]
            value = fresh
        new_state[key] = value
    return new_state


@torch.no_grad()
def _bounds(cutoffs: Sequence[int], vocab_size: int) -> list[int]:
    return [0, *cutoffs, vocab_size]


def _effective(
    state: Mapping[str, Tensor], cutoffs: Sequence[int], vocab: int
) -> Tensor:
    """``(vocab, hidden)``: each token's output vector in the hidden space."""
    head = state["adaptive.head.weight"].float()
    b = _bounds(cutoffs, vocab)
    parts = [head[: b[1]]]
    for i in range(len(cutoffs)):
        proj = state[f"adaptive.tail.{i}.0.weight"].float()  # (d_i, hidden)
        out = state[f"adaptive.tail.{i}.1.weight"].float()  # (size_i, d_i)
        parts.append(head[b[1] + i] + out @ proj)
    return torch.cat(parts)


def align_adaptive_head(
    old_state: Mapping[str, Tensor],
    old_itos: Sequence[str],
    old_cutoffs: Sequence[int],
    template: Mapping[str, Tensor],
    new_itos: Sequence[str],
    new_cutoffs: Sequence[int],
) -> dict[str, Tensor]:
    """The ``adaptive.*`` entries for a model with ``new_itos`` and ``new_cutoffs``.

    Parameters
    ----------
    old_state : the pretrained model's state dict (with ``adaptive.*`` entries).
    old_itos, old_cutoffs : its vocabulary and adaptive-softmax cutoffs.
    template : the new model's own state dict (shapes, and values for what the old
        model cannot give, such as a tail projection of another size).
    new_itos, new_cutoffs : the new vocabulary and cutoffs.
    """
    eff = _effective(old_state, old_cutoffs, len(old_itos))
    index = {t: i for i, t in enumerate(old_itos)}
    src = torch.tensor([index.get(t, -1) for t in new_itos])
    known = src >= 0
    mean = eff.mean(0)
    target = torch.where(known[:, None], eff[src.clamp(min=0)], mean)  # (V_new, hid)
    old_b, new_b = (
        _bounds(old_cutoffs, len(old_itos)),
        _bounds(new_cutoffs, len(new_itos)),
    )
    old_head = old_state["adaptive.head.weight"].float()
    head = template["adaptive.head.weight"].clone().float()
    # the shortlist: a token from the old shortlist keeps its row; one from an old
    # tail or unseen keeps its fresh row (its old logits miss the tail's normaliser,
    # which a head without bias cannot hold, and would take too much probability)
    s = src[: new_b[1]]
    from_head = (s >= 0) & (s < old_b[1])
    head[: new_b[1]][from_head] = old_head[s[from_head]]
    for i in range(len(new_cutoffs)):  # cluster rows: the cluster of the same rank
        j = min(i, len(old_cutoffs) - 1)
        head[new_b[1] + i] = old_head[old_b[1] + j] if old_cutoffs else mean
    out = {"adaptive.head.weight": head}
    for i in range(len(new_cutoffs)):
        lo, hi = new_b[i + 1], new_b[i + 2]
        proj_key, out_key = f"adaptive.tail.{i}.0.weight", f"adaptive.tail.{i}.1.weight"
        proj = template[proj_key].clone().float()
        has_old = i < len(old_cutoffs) and old_state[proj_key].shape == proj.shape
        if has_old:
            proj = old_state[proj_key].clone()
        # rows r with r @ proj = target - cluster row, in the least-squares sense
        rows = (target[lo:hi] - head[new_b[1] + i]) @ torch.linalg.pinv(proj)
        if has_old:  # a token that stays in the same cluster keeps its row exactly
            s = src[lo:hi]
            stay = (s >= old_b[i + 1]) & (s < old_b[i + 2])
            old_rows = old_state[out_key]
            rows[stay] = old_rows[s[stay] - old_b[i + 1]]
            rows[~known[lo:hi]] = old_rows.mean(0)
        out[proj_key], out[out_key] = proj, rows
    return out


def align_lm_state(
    old_state: Mapping[str, Tensor],
    old_itos: Sequence[str],
    old_cutoffs: Sequence[int] | None,
    model: LanguageModel,
    new_itos: Sequence[str],
) -> dict[str, Tensor]:
    """A full state dict for ``model`` (vocabulary ``new_itos``) from a pretrained LM.

    Embedding and full-softmax decoder rows are re-indexed, an adaptive head is
    aligned; what the pretrained model lacks (e.g. an adaptive head when it had a
    full softmax) keeps ``model``'s initial values.
    """
    old_state = {k: v.float() for k, v in old_state.items()}
    state = load_pretrained_embeddings(old_state, old_itos, new_itos)
    template = model.state_dict()
    new_cutoffs = model.config.adaptive_softmax
    if new_cutoffs is not None and old_cutoffs is not None:
        state.update(
            align_adaptive_head(
                old_state, old_itos, old_cutoffs, template, new_itos, new_cutoffs
            )
        )
    fresh = sorted(set(template) - set(state))
    if fresh:
        log.info("not in the pretrained model, initialised afresh: %s", fresh)
    state.update({k: template[k] for k in fresh})
    return {k: state[k] for k in template if k in state}


def pretrained_lm_state(path, model: LanguageModel, vocab: Vocab) -> dict:
    """A pretrained LM's weights with its vocabulary aligned to ``vocab`` (ULMFiT)."""
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
