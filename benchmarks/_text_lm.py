"""The language-model half of ``text_pipeline.py``, tabtext's side.

- ``matmul_peak``: fp32 GFLOP/s of a square sgemm at the run's thread count.
- ``tabtext_throughput``: training tokens/s of real steps through ``lm_learner`` (the
  Learner, loader, loss, optimizer and callbacks ``pretrain`` uses), warm-up batches
  excluded, then ``CancelFit``.
- ``tabtext_budget``: train for a fixed wall-clock budget with a 1cycle schedule
  driven by the elapsed share of the budget, then the validation loss.
- ``matmul_params``: the N of "6 x N FLOPs per token".
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from tabtext.core import Callback, CancelFit, one_cycle_lr, one_cycle_mom
from tabtext.nlp.models.awd_lstm import LanguageModel, preset
from tabtext.nlp.text.corpus import Corpus
from tabtext.nlp.text.loaders import LMLoader
from tabtext.nlp.training.config import lm_config, make_config
from tabtext.nlp.training.learners import lm_learner

LM_MOMS = (0.8, 0.7, 0.8)  # pretrain's 1cycle momentum (Adam beta1)


def matmul_peak(n: int = 2048, repeats: int = 7, inner: int = 3) -> float:
    """Best-of-``repeats`` fp32 ``n x n`` matmul speed in GFLOP/s (current threads)."""
    a, b, c = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
    for _ in range(2):
        torch.mm(a, b, out=c)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            torch.mm(a, b, out=c)
        best = min(best, (time.perf_counter() - t0) / inner)
    return 2 * n**3 / best / 1e9


class TrainClock(Callback):
    """Training time only (validation excluded); stops the fit by batches or budget.

    ``warmup`` batches are run untimed; then ``n_timed`` batches (if given) are timed
    and the fit is cancelled. With ``budget_s`` the fit is cancelled before the first
    batch that would start after the budget, and :meth:`progress` is the elapsed share
    of it (for a schedule that ends when the budget does).
    """

    order = 1  # before the ParamScheduler (10): a cancelled batch sets no LR

    def __init__(self, warmup: int = 0, n_timed: int | None = None, budget_s=None):
        self.warmup, self.n_timed, self.budget_s = warmup, n_timed, budget_s
        self.elapsed, self.n, self.tokens, self.t_start = 0.0, 0, 0, 0.0
        self.seconds, self._mark = None, None

    def now(self) -> float:
        running = 0.0 if self._mark is None else time.perf_counter() - self._mark
        return self.elapsed + running

    def progress(self) -> float:
        return min(1.0, self.now() / self.budget_s)

    def before_train(self, learn) -> None:
        self._mark = time.perf_counter()

    def after_train(self, learn) -> None:
        self.elapsed, self._mark = self.now(), None

    def before_batch(self, learn) -> None:
        if learn.training and self.budget_s is not None and self.now() >= self.budget_s:
            self._stop()

    def after_batch(self, learn) -> None:
        if not learn.training:
            return
        self.n += 1
        if self.n == self.warmup:
            self.t_start = self.now()
        elif self.n > self.warmup:
            self.tokens += learn.xb.numel()
        if self.n_timed is not None and self.n == self.warmup + self.n_timed:
            self._stop()

    def _stop(self):
        self.seconds = self.now() - self.t_start
        raise CancelFit


def target_shares(ids: np.ndarray, cutoffs: tuple[int, ...], vocab: int) -> list[float]:
    """Share of tokens in each adaptive-softmax tail cluster (ids >= cutoffs[0])."""
    counts = np.bincount(np.asarray(ids, dtype=np.int64), minlength=vocab)
    bounds = (*cutoffs, vocab)
    total = counts.sum()
    return [counts[lo:hi].sum() / total for lo, hi in zip(bounds[:-1], bounds[1:])]


def matmul_params(model: LanguageModel, shares: list[float] | None = None) -> float:
    """Parameters that enter a matrix product for each token: the N of 6N FLOPs/token.

    LSTM weights and biases; the decoder (tied: the embedding matrix, counted once, as
    the decoder; the input lookup itself is free); an untied embedding is not counted.
    An adaptive softmax counts its head fully and each tail cluster weighted by
    ``shares`` (the share of targets that fall in it: only those tokens run it).
    """
    n = sum(p.numel() for p in model.encoder.rnns.parameters())
    if model.adaptive is None:
        weight = model.decoder_weight
        weight = model.encoder.embedding.weight if weight is None else weight
        return float(n + weight.numel() + model.decoder_bias.numel())
    ada = model.adaptive
    n += sum(p.numel() for p in ada.head.parameters())
    tails = [sum(p.numel() for p in t.parameters()) for t in ada.tail]
    return float(n + sum(s * t for s, t in zip(shares, tails, strict=True)))


@dataclass(frozen=True)
class Setup:
    """One tabtext model to time: an AWD-LSTM preset and its output layer."""

    label: str
    model: str  # "small" or "paper"
    adaptive: bool = False
    big: bool = False  # timed with fewer batches (slow)
    precision: str = "fp32"  # or "bf16" (autocast)


SETUPS = (
    Setup("small, full softmax, fp32", "small"),
    Setup("small, full softmax, bf16 autocast", "small", precision="bf16"),
    Setup("paper sizes (400/1152/3), full softmax, fp32", "paper", big=True),
    Setup("small, adaptive softmax, fp32", "small", adaptive=True),
    Setup("small, adaptive softmax, bf16 autocast", "small", True, precision="bf16"),
)


def setup_model(setup: Setup, vocab: int, preset_name: str, seed: int = 0):
    """fastai's LM dropouts; adaptive cutoffs chosen as the recipe (lm_config) does."""
    cutoffs = None
    if setup.adaptive:
        cfg = make_config(preset_name, adaptive_softmax=True)
        cutoffs = lm_config(cfg, vocab).adaptive_softmax
    torch.manual_seed(seed)
    return LanguageModel(preset(setup.model, vocab, adaptive_softmax=cutoffs))


def tabtext_throughput(
    setup: Setup,
    train: Corpus,
    valid: Corpus,
    vocab: int,
    bs: int,
    bptt: int,
    warmup: int,
    n_timed: int,
    preset_name: str,
) -> dict:
    """Training tokens/s of ``setup`` over real batches of ``train``."""
    model = setup_model(setup, vocab, preset_name)
    cfg = make_config(preset_name, lm_bs=bs, bptt=bptt, precision=setup.precision)
    learn = lm_learner(model, train, valid, cfg, device="cpu")
    clock = TrainClock(warmup, n_timed)
    with learn.added_cbs([clock]):
        learn.fit_schedule(10_000, 1e-3, lambda pos: 1.0, validate=False)
    if clock.seconds is None:
        raise SystemExit(f"{setup.label}: stopped before {warmup}+{n_timed} batches")
    shares = None
    if model.adaptive is not None:
        shares = target_shares(train.ids, model.config.adaptive_softmax, vocab)
    return {
        "tokens/s": clock.tokens / clock.seconds,
        "params": sum(p.numel() for p in model.parameters()),
        "N": matmul_params(model, shares),
        "batches": n_timed,
    }


def tabtext_budget(
    train: Corpus, valid: Corpus, vocab: int, preset_name: str, budget_s: float
) -> dict:
    """Train the preset's LM for ``budget_s`` s of training time; validation NLL."""
    cfg = make_config(preset_name, lm_docs="all")
    torch.manual_seed(cfg.seed)
    model = LanguageModel(lm_config(cfg, vocab))
    learn = lm_learner(model, train, valid, cfg, device="cpu")
    clock = TrainClock(budget_s=budget_s)
    lr_s, mom_s = one_cycle_lr(), one_cycle_mom(LM_MOMS)
    with learn.added_cbs([clock]):
        learn.fit_schedule(
            10_000,
            cfg.lm_lr,
            lambda pos: lr_s(clock.progress()),
            lambda pos: mom_s(clock.progress()),
            validate=False,
        )
    seconds = clock.seconds if clock.seconds is not None else clock.now()
    nll, n = validation_nll(model, valid, cfg.lm_bs, cfg.bptt)
    return {
        "config": cfg,
        "cutoffs": model.config.adaptive_softmax,
        "train tokens": clock.tokens,
        "train s": seconds,
        "tokens/s": clock.tokens / seconds,
        "nll": nll,
        "targets": n,
    }


@torch.no_grad()
def validation_nll(model: LanguageModel, valid: Corpus, bs: int, bptt: int):
    """Summed next-token NLL (nats) over the validation stream, and its target count.

    The stream of documents in order, cut into ``bs`` rows read ``bptt`` at a time
    (as fastai's validation LMDataLoader), hidden state carried; eval mode.
    """
    dl = LMLoader(
        valid.ids, valid.offsets, bs, bptt, shuffle=False, variable_bptt=False
    )
    model.eval()
    model.reset()
    loss_fn = model.loss_fn()
    total, n = 0.0, 0
    for x, y in dl:
        total += float(loss_fn(model(x), y)) * y.numel()
        n += y.numel()
    model.reset()
    return total, n
