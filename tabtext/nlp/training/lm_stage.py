"""Stages 1-2 of ULMFiT (Howard & Ruder 2018): the language model.

An LM trained on the target texts (when there is no pretrained one) and LM
fine-tuning with discriminative LRs and STLR; the classifier starts from the encoder
this stage returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ...core import Callback, distributed
from ...core.io import atomic_write_bytes, bytes_to_tensors, tensors_to_bytes
from ...core.metrics import perplexity_from_loss
from ...core.rng import seeded
from ..models.awd_lstm import LanguageModel
from ..models.lm_dir import save_lm
from ..models.vocab_transfer import pretrained_lm_state
from ..text.corpus import Corpus
from ..text.tokenize import Tokenizer
from .config import ULMFiTConfig, lm_config
from .learners import lm_learner
from .phase_plan import lm_phases, run_phases
from .run_dir import Run
from .sampling import subset


def _add_perplexity(results: dict) -> None:
    results["valid_perplexity"] = perplexity_from_loss(
        results.get("valid_loss", np.nan)
    )


def encoder_state(model: LanguageModel) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.encoder.state_dict().items()}


def language_model_stage(
    run: Run,
    cfg: ULMFiTConfig,
    corpus: Corpus,
    valid_corpus: Corpus,
    pretrained: Path | None,
    resume: bool,
    device,
    tok: Tokenizer | None = None,
    progress: bool | str | None = None,
    callbacks: Sequence[Callback] = (),
) -> tuple[dict[str, torch.Tensor], dict[str, dict]]:
    """Stages 1-2: (pre)train and fine-tune the LM.

    Returns the encoder's weights and each phase's results by phase name. With
    ``tok``, a trained LM is also written as the LM directory ``out/lm`` (what
    ``pretrain`` writes), which ``--pretrained OUT/lm`` starts from: one LM fine-tuned
    on all texts can serve several classifiers. ``callbacks`` join every phase's
    fit (e.g. an experiment tracker).
    """
    enc_path = run.out / "encoder.safetensors"
    phases = lm_phases(cfg, pretrained is not None)
    if resume and enc_path.exists() and all(run.done(p.name) for p in phases):
        done = {p.name: run.done(p.name) for p in phases}
        return bytes_to_tensors(enc_path.read_bytes(), str(enc_path)), done
    vocab = corpus.vocab
    with seeded(cfg.seed):
        model = LanguageModel(lm_config(cfg, len(vocab)))
    if pretrained is not None:
        model.load_state_dict(pretrained_lm_state(pretrained, model, vocab))
    n_valid = (
        len(valid_corpus)
        if cfg.lm_docs is None
        else max(50, int(cfg.lm_docs * cfg.valid_pct))
    )
    train = corpus.select(subset(len(corpus), cfg.lm_docs, cfg.seed))
    valid = valid_corpus.select(subset(len(valid_corpus), n_valid, cfg.seed))
    learn = lm_learner(model, train, valid, cfg, device, progress=progress)
    results = run_phases(
        learn, phases, run, cfg, 0, resume, add=_add_perplexity, extra_cbs=callbacks
    )
    if phases:
        learn.plot_loss(run.out / "lm_loss.png")
        learn.plot_lr(run.out / "lm_lr.png")
    state = encoder_state(model)
    if distributed.is_main():
        if phases and tok is not None:
            save_lm(model, vocab, tok, run.out / "lm", backwards=cfg.backwards)
        atomic_write_bytes(enc_path, tensors_to_bytes(state))
    return state, results
