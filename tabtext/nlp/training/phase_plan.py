"""The phase plan of ULMFiT (Howard & Ruder 2018) and how one phase runs.

The plan turns a config into the fits of the recipe: ``lm`` (an LM trained on the
target texts, when there is no pretrained one), ``lm_ft`` (LM fine-tuning with
discriminative LRs and slanted triangular LRs, STLR), then ``clas_1`` .. ``clas_all``:
gradual unfreezing, the head first and one more layer group per phase
(:func:`classifier_phases`). :func:`run_phase` fits one phase: it freezes the groups
the phase keeps fixed, spreads the discriminative LRs and checkpoints every epoch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ...core import Callback, Checkpoint, CSVLogger, Learner
from ...core.rng import current_cuda_devices, seeded
from .callbacks import TokenCounter
from .config import ULMFiTConfig
from .run_dir import Run

log = logging.getLogger(__name__)


def phase_seed(seed: int, index: int) -> int:
    """The seed of the ``index``-th phase of a run seeded ``seed``."""
    return seed + 1000 * index


@dataclass
class Phase:
    """One fit of the recipe: which groups train, for how long, at which LRs."""

    name: str
    epochs: int
    lr: float
    freeze_to: int | None = None  # None: all groups train
    discriminative: bool = True
    schedule: str = "stlr"  # or "one_cycle"
    results: dict = field(default_factory=dict)

    def title(self, n_groups: int) -> str:
        """The stage as progress lines name it, e.g. "classifier, 2/5 groups trained"."""
        if self.name == "lm":
            return "language model"
        if self.name == "lm_ft":
            return "LM fine-tuning"
        k = n_groups if self.freeze_to is None else min(-self.freeze_to, n_groups)
        return f"classifier, {k}/{n_groups} groups trained"

    def lrs(self, n_groups: int, decay: float) -> float | slice:
        """The LR argument of the fit: with discriminative LRs each group's is the
        next group's divided by ``decay`` (2.6 in ULMFiT), as a slice over groups."""
        if not self.discriminative:
            return self.lr
        return slice(self.lr / decay ** (n_groups - 1), self.lr)


def lm_phases(cfg: ULMFiTConfig, pretrained: bool) -> list[Phase]:
    phases = []
    if not pretrained and cfg.lm_epochs:
        phases.append(Phase("lm", cfg.lm_epochs, cfg.lm_lr, None, discriminative=False))
    if cfg.lm_ft_epochs:
        phases.append(Phase("lm_ft", cfg.lm_ft_epochs, cfg.lm_ft_lr))
    return phases


def classifier_phases(
    cfg: ULMFiTConfig, n_groups: int, n_docs: int | None = None
) -> list[Phase]:
    """Gradual unfreezing: the head, then one more group per phase, then everything.

    With ``n_docs`` (the texts the classifier learns from) below
    ``cfg.clas_lr_full_at``, every LR is scaled by ``n_docs / clas_lr_full_at``:
    ``clas_min_steps`` passes a small set many times, and that wants smaller steps.
    """
    scale = 1.0
    if n_docs is not None and cfg.clas_lr_full_at:
        scale = min(1.0, n_docs / cfg.clas_lr_full_at)
    phases = []
    for k in cfg.unfreeze:
        if k >= n_groups:
            break
        lr = scale * cfg.clas_lr / 2 ** (k - 1)
        phases.append(Phase(f"clas_{k}", 1, lr, freeze_to=-k))
    if cfg.clas_epochs:
        final = cfg.clas_final_lr if cfg.clas_final_lr is not None else cfg.clas_lr / 20
        phases.append(Phase("clas_all", cfg.clas_epochs, scale * final, None))
    return phases


def run_phase(
    learn: Learner,
    phase: Phase,
    run: Run,
    seed: int,
    resume: bool,
    lr_decay: float | None = None,
    extra_cbs: Sequence[Callback] = (),
) -> dict:
    """Fit ``phase`` on ``learn`` with STLR, checkpointing every epoch; resumable.

    Gradual unfreezing: the phase's ``freeze_to`` says which groups train.
    Discriminative LRs: each group's LR is the next one's / ``lr_decay``. ``seed``
    (:func:`phase_seed`) seeds the phase, so a resumed run ends where an
    uninterrupted one does. Returns the phase's results, also recorded in ``run``.
    """
    if phase.freeze_to is None:
        learn.unfreeze()
    else:
        learn.freeze_to(phase.freeze_to)
    lrs = phase.lrs(learn.n_groups, lr_decay) if phase.discriminative else phase.lr
    counter = TokenCounter()
    title = learn.progress.label = phase.title(learn.n_groups)
    log.info(
        "%s: %d epoch%s of %s batches, max LR %.3g",
        title,
        phase.epochs,
        "s" if phase.epochs != 1 else "",
        f"{len(learn.train_dl):,}",
        phase.lr,
    )
    cbs = [
        counter,
        Checkpoint(run.ckpt(phase.name)),
        CSVLogger(run.out / f"log_{phase.name}.csv"),
        *extra_cbs,
    ]
    t0 = time.perf_counter()
    with seeded(seed, devices=current_cuda_devices()), learn.added_cbs(cbs):
        start = 0
        if resume and run.epochs_done(phase.name):
            learn.load(run.ckpt(phase.name))
            start = learn.resume_epoch
            log.info("phase %s: resuming after epoch %d", phase.name, start)
        if start < phase.epochs and phase.schedule == "one_cycle":
            learn.fit_one_cycle(
                phase.epochs, lrs, moms=(0.8, 0.7, 0.8), start_epoch=start
            )
        elif start < phase.epochs:
            learn.fit_stlr(phase.epochs, lrs, start_epoch=start)
    hist = learn.history
    last = hist.iloc[-1].to_dict() if len(hist) else {}
    results = {
        "epochs": phase.epochs,
        "lr": phase.lr,
        "wall_s": round(time.perf_counter() - t0, 2),
        "train_tokens": counter.tokens,
        "tokens_per_s": round(counter.tokens / counter.seconds, 1)
        if counter.seconds
        else None,
        **{k: float(v) for k, v in last.items() if k not in ("epoch",)},
    }
    run.mark_done(phase.name, results)
    said = [f"{k} {results[k]:.4f}" for k in ("valid_loss", "accuracy") if k in results]
    log.info("%s: done in %.0f s  %s", title, results["wall_s"], "  ".join(said))
    return results


def run_phases(
    learn: Learner,
    phases: Sequence[Phase],
    run: Run,
    cfg: ULMFiTConfig,
    first: int,
    resume: bool,
    add: Callable[[dict], None] | None = None,
    extra_cbs: Sequence[Callback] = (),
) -> dict[str, dict]:
    """Run ``phases`` in turn (the ``i``-th seeded ``phase_seed(cfg.seed, first +
    i)``); on ``resume`` a phase done before loads its checkpoint instead. ``add``
    adds to the results of each phase it ran (e.g. a perplexity); ``extra_cbs``
    join every phase's fit (e.g. an experiment tracker). Returns each phase's
    results by phase name."""
    results = {}
    for i, phase in enumerate(phases):
        if resume and run.done(phase.name):
            learn.load(run.ckpt(phase.name))  # weights, optimizer, RNG: exact resume
            results[phase.name] = run.done(phase.name)
            continue
        seed = phase_seed(cfg.seed, first + i)
        results[phase.name] = run_phase(
            learn, phase, run, seed, resume, cfg.lr_decay, extra_cbs
        )
        if add is not None:
            add(results[phase.name])
        log.debug("%s: %s", phase.name, results[phase.name])
    return results
