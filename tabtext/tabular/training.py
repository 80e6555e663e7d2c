"""The training tail shared by ``EmbeddingModel.fit`` and ``fit_parquet``.

Both fits first learn their statistics (preprocessing, target scaling) -- from a frame
in memory, or in one streaming pass over a parquet dataset -- and build their loaders
(:class:`~tabtext.core.TensorLoader` or :class:`~tabtext.core.ParquetLoader`). The
rest is :func:`train_network`, which returns a :class:`TrainResult` that the fit
assigns to the estimator: the network seeded from ``random_state``, the core's
Learner with best-epoch, early-stopping and checkpoint callbacks, the LR (given or
from the LR finder), a resume from ``checkpoint_dir``, and one-cycle training
(Smith 2018).

Training length with the defaults ``epochs="auto"`` and ``batch_size="auto"`` is
counted in optimiser steps as well as epochs, so that small tables are not
under-trained: :func:`batch_size_for` cuts a small table into at least a few
batches (one full batch couples every row through batch norm), and
:func:`epoch_plan` repeats the rows within each epoch until the fit makes at least
``MIN_STEPS`` steps. A table of at least ``MIN_STEPS / AUTO_EPOCHS`` batches of
``AUTO_BATCH`` rows (about 20,000 rows) trains exactly as ``epochs=5, batch_size=512``,
and from ``BIG_TABLE`` rows (250,000) as ``epochs=5, batch_size=1024``.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..core import (
    Callback,
    EarlyStopping,
    Learner,
    RowWeighted,
    SaveBest,
    TensorLoader,
    distributed,
    predict_batches,
    seeded,
)
from . import eval_metric, resume
from .model import TabularConfig, TabularModel, emb_sizes_for
from .target_stats import TargetStatistics, target_columns

PRED_BATCH = 8192  # rows per validation and prediction batch
AUTO_EPOCHS = 5  # epochs="auto"
MIN_STEPS = 200  # epochs="auto": at least this many optimiser steps in a fit,
MAX_PASSES = 20  # unless that takes more passes over the rows than this
AUTO_BATCH = 512  # batch_size="auto": rows per batch ...
BIG_TABLE = 250_000  # ... twice as many from this many training rows,
MIN_BATCHES = 8  # and at least this many batches per pass on small tables,
MIN_BATCH_ROWS = 8  # as long as each keeps this many rows


@dataclass(frozen=True)
class TrainingData:
    """What a fit trains on: its loaders, its loss, and what identifies its data."""

    train: Iterable  # batches ((cats, conts), target)
    valid: Iterable | None
    loss: nn.Module
    identity: list[torch.Tensor]  # fingerprinted for checkpoint_dir resumes
    batch_size: int  # rows per training batch


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train_network` gives the estimator's fitted attributes."""

    model: TabularModel  # in eval mode, on the CPU: ``model_``
    batch_size: int  # ``batch_size_``
    lr: float  # ``lr_``: given, or the LR finder's suggestion
    n_steps: int  # ``n_steps_``: the optimiser steps planned
    passes_per_epoch: int  # ``passes_per_epoch_``
    history: pd.DataFrame  # ``history_``: one row per epoch


def fit_seed(est) -> int:
    """The seed of a fit: ``random_state``, or a draw from NumPy's global RNG."""
    if est.random_state is None:
        seed = int(np.random.randint(0, 2**31 - 1))
    elif isinstance(est.random_state, np.random.RandomState):
        seed = int(est.random_state.randint(0, 2**31 - 1))
    else:
        return int(est.random_state)
    # under torchrun every rank must split and shuffle alike: rank 0's draw
    distributed.setup(device(est))
    return distributed.broadcast_object(seed)


def device(est) -> torch.device:
    """The estimator's training device (this rank's GPU under torchrun)."""
    return distributed.device(est.device)


def frame_tensors(
    est, frame: pd.DataFrame, fit_target: torch.Tensor | None = None, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The fitted preprocessor's (categorical codes, continuous values) of ``frame``,
    with the target statistics (if any) appended to the continuous values: fitted
    and out of fold when ``fit_target`` (the encoded training target) is given."""
    cats, conts = est.preprocessor_.transform(frame)
    stats = getattr(est, "target_stats_", None)
    if stats is not None:
        if fit_target is not None:
            y = target_columns(fit_target.numpy(), est.target_.n_columns, est.task_)
            extra = stats.fit_transform(cats, y, seed)
        else:
            extra = stats.transform(cats)
        conts = np.hstack([conts, extra])
    return torch.as_tensor(cats, dtype=torch.long), torch.as_tensor(conts)


def target_statistics(est) -> TargetStatistics | None:
    """Unfitted target statistics for the categorical columns with at least
    ``est.target_stats`` categories, or None."""
    min_levels = est.target_stats
    if min_levels is None:
        return None
    if isinstance(min_levels, bool) or not isinstance(min_levels, numbers.Integral):
        raise ValueError(
            f"target_stats must be None or an int >= 2 (the fewest categories a "
            f"column needs to get statistics), got {min_levels!r}"
        )
    if min_levels < 2:
        raise ValueError(f"target_stats must be >= 2, got {min_levels}")
    pre = est.preprocessor_
    picked = [
        (j, name, card)
        for j, (name, card) in enumerate(zip(pre.cat_names_, pre.cardinalities_))
        if card - 1 >= min_levels  # code 0 is missing/unknown, not a category
    ]
    if not picked:
        return None
    cols, names, cards = (list(v) for v in zip(*picked))
    return TargetStatistics(cols, names, cards, est.target_.n_columns)


def network_config(est) -> TabularConfig:
    """The network's configuration from the fitted statistics and the parameters."""
    pre, stats = est.preprocessor_, getattr(est, "target_stats_", None)
    sizes = emb_sizes_for(pre.cat_names_, pre.cardinalities_, est.emb_sizes)
    y_range = tuple(float(v) for v in est.y_range) if est.y_range is not None else None
    return TabularConfig(
        cardinalities=tuple(int(c) for c in pre.cardinalities_),
        emb_sizes=tuple(sizes),
        n_cont=len(pre.cont_names_) + (stats.n_features if stats else 0),
        n_out=est.target_.n_out,
        layers=tuple(int(v) for v in est.layers),
        ps=tuple(float(p) for p in est.ps),
        emb_drop=float(est.emb_drop),
        y_range=y_range,
        num_embedding=est.num_embedding,
    )


def batch_size_for(batch_size: int | str, n_rows: int) -> int:
    """Rows per training batch for ``n_rows`` training rows (of this rank).

    An int ``batch_size`` is taken as is. ``"auto"``: ``AUTO_BATCH`` rows, twice
    that from ``BIG_TABLE`` rows, and a small table cut into ``MIN_BATCHES``
    balanced batches (fewer if they would hold under ``MIN_BATCH_ROWS`` rows; one
    for under ``2 * MIN_BATCH_ROWS``).

    A step's time on a CPU is mostly per-op overhead, so a big table trains in
    larger batches: the same accuracy in about half the time, still thousands of
    steps (measured in ``benchmarks/RESULTS.md``, tabular ablation).

    With a single full batch, batch norm couples every row's output to all the
    others, so that rows a loss weighs ~0 are still learned: hence at least two
    balanced batches (``benchmarks/RESULTS.md``, measurements behind design choices).
    """
    if batch_size != "auto":
        return int(batch_size)
    if n_rows >= BIG_TABLE:
        return 2 * AUTO_BATCH
    n_batches = min(MIN_BATCHES, max(1, n_rows // MIN_BATCH_ROWS))
    return max(1, min(AUTO_BATCH, -(-n_rows // n_batches)))


def epoch_plan(epochs: int | str, n_batches: int) -> tuple[int, int]:
    """``(epochs, passes over the rows per epoch)`` for ``n_batches`` per pass.

    An int ``epochs``: that many epochs of one pass. ``"auto"``: ``AUTO_EPOCHS``
    epochs, each of as many passes (reshuffled) as it takes for the fit to make at
    least ``MIN_STEPS`` optimiser steps, but at most ``MAX_PASSES`` passes in all
    (more would only memorise a tiny table, and slow down fits of a few dozen
    rows); a large table gets one pass per epoch. Early-stopping patience and
    checkpoints still count epochs.
    """
    if epochs != "auto":
        return int(epochs), 1
    passes = -(-MIN_STEPS // (AUTO_EPOCHS * max(1, n_batches)))
    return AUTO_EPOCHS, max(1, min(passes, MAX_PASSES // AUTO_EPOCHS))


class Passes:
    """``passes`` passes over ``loader`` as one epoch (each pass reshuffled by the
    loader itself); its ``state_dict`` is the loader's, for checkpoints."""

    def __init__(self, loader, passes: int):
        self.loader, self.passes = loader, passes

    def __len__(self) -> int:
        return self.passes * len(self.loader)

    def __iter__(self):
        for _ in range(self.passes):
            yield from self.loader

    def state_dict(self) -> dict:
        return self.loader.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.loader.load_state_dict(state)


def tensor_data(est, frame, y, valid, seed: int, weight=None) -> TrainingData:
    """In memory: the rows as tensors, sliced by TensorLoaders on the device;
    ``weight`` (or None) the training rows' weights, ``valid`` ``(X, y, weight or
    None)`` or None."""
    dev = device(est)
    target = est.target_.encode(y)
    cats, conts = frame_tensors(est, frame, fit_target=target, seed=seed)
    w = None if weight is None else torch.as_tensor(weight / weight.mean())
    # under torchrun each rank trains on its shard of ceil(n / world) rows; drop a
    # last batch of 1 row: batch norm cannot train on a single row
    rank, world = distributed.rank(), distributed.world_size()
    n_local = -(-len(frame) // world)
    batch_size = batch_size_for(est.batch_size, n_local)
    drop_last = n_local % batch_size == 1
    train = TensorLoader(
            cats, conts, target, weights=_float(w), batch_size=batch_size,
            shuffle=True, drop_last=drop_last, seed=seed, device=dev, rank=rank,
            world_size=world,
        )  # fmt: skip
    valid_dl, tensors = None, [cats, conts, target] + ([] if w is None else [w])
    vw = None
    if valid is not None:
        vc, vn = frame_tensors(est, valid[0])
        vt = est.target_.encode(valid[1])
        vw = None if valid[2] is None else torch.as_tensor(valid[2])
        tensors += [vc, vn, vt] + ([] if vw is None else [vw])
        valid_dl = TensorLoader(
                vc, vn, vt, weights=_float(vw), batch_size=PRED_BATCH, device=dev,
                rank=rank, world_size=world,
            )  # fmt: skip
    loss = est.target_.loss(y, est.class_weight, est.label_smoothing, weight)
    if w is not None or vw is not None:
        loss = RowWeighted(loss)
    return TrainingData(train, valid_dl, loss, tensors, batch_size)


def _float(w: torch.Tensor | None) -> torch.Tensor | None:
    return None if w is None else w.float()


def train_network(est, data: TrainingData, seed: int) -> TrainResult:
    """A network built from ``est.config_``, trained on ``data``: what the estimator
    keeps of the training (nothing is set on ``est``). The global RNGs are left as
    they were."""
    epochs, passes = epoch_plan(est.epochs, len(data.train))
    if passes > 1:
        data = replace(data, train=Passes(data.train, passes))
    with seeded(seed), resume.global_rng_kept(), resume.locked(est.checkpoint_dir):
        model = TabularModel(est.config_)
        learn = _learner(est, model, data, seed)
        start, lr = resume.start(
            learn, est.checkpoint_dir, lambda learn: pick_lr(est, learn)
        )
        learn.fit_one_cycle(epochs, lr, start_epoch=start)
    model.eval()
    model.to("cpu")
    return TrainResult(
        model, data.batch_size, lr, epochs * len(data.train), passes, learn.history
    )


def _learner(est, model: TabularModel, data: TrainingData, seed: int) -> Learner:
    dev = device(est)
    metric = eval_metric.resolve(est.eval_metric, est.task_)
    scores = [] if metric is None else [eval_metric.ValidScore(metric, est.target_)]
    return Learner(
        model,
        data.train,
        data.valid,
        loss_fn=data.loss.to(dev),
        metrics=scores if data.valid is not None else [],
        wd=est.weight_decay,
        callbacks=_callbacks(est, data, seed, eval_metric.monitor(metric)),
        splitter=_one_group,
        device=dev,
        progress=None if est.verbose else False,  # a bar on a terminal, else lines
    )


def _one_group(model: nn.Module) -> list[list[nn.Parameter]]:
    """Every layer trains at one LR here, so one optimizer group: AdamW's step is
    elementwise, so the updates are the same as over the model's three groups, in
    a third of the foreach calls (most of a small table's step time)."""
    return [list(model.parameters())]


def _callbacks(est, data: TrainingData, seed: int, watch: tuple[str, str]) -> list:
    """Best epoch and early stopping on ``watch`` (the monitored column and its
    direction) with a validation set; checkpoints with ``checkpoint_dir`` (the best
    epoch then kept on disk, to survive a kill)."""
    folder = None if est.checkpoint_dir is None else Path(est.checkpoint_dir)
    monitor, mode = watch
    cbs, best = [], SaveBest(monitor, mode=mode)
    if folder is not None:
        cbs, best = resume.callbacks(folder, monitor, mode)
    if data.valid is not None:
        cbs.append(best)
        if est.n_iter_no_change is not None:
            patience = int(est.n_iter_no_change)
            cbs.append(EarlyStopping(monitor, patience=patience, mode=mode))
    if folder is not None:
        fp = resume.fingerprint(est, seed, data.identity)
        cbs.append(resume.FitRecord(fp, 0.0))
    return cbs + user_callbacks(est.callbacks)


def user_callbacks(callbacks) -> list[Callback]:
    """The ``callbacks`` parameter's callbacks, checked and used as given: a logger
    or a pruning callback the caller holds must see this fit (``clone`` copies them
    for a new estimator, as scikit-learn does with any parameter)."""
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback) or not isinstance(callbacks, (list, tuple)):
        raise TypeError(
            f"callbacks must be a list of tabtext.core.Callback, got {callbacks!r}"
        )
    bad = [i for i, cb in enumerate(callbacks) if not isinstance(cb, Callback)]
    if bad:
        raise TypeError(
            f"callbacks[{bad[0]}] is a {type(callbacks[bad[0]]).__name__}, not a "
            "tabtext.core.Callback; subclass Callback and define its hooks"
        )
    return list(callbacks)


def pick_lr(est, learn: Learner) -> float:
    """``est.lr``, or with ``lr="auto"`` the LR finder's suggestion."""
    if est.lr != "auto":
        return float(est.lr)
    num_it = max(20, min(100, 2 * len(learn.train_dl)))
    return float(learn.lr_find(num_it=num_it).suggestion)


def predict_outputs(est, cats: torch.Tensor, conts: torch.Tensor, forward=None):
    """``model_``'s outputs (or ``forward(model, (cats, conts))``) on the CPU, computed
    in float64 by a float64 copy of the model (float32 weights convert exactly).

    In float32 a row's output depends on the other rows predicted with it: a
    matmul's rounding depends on the batch's shape (1 row or 20: ~1e-7 apart), and
    even on the row's place in a batch of fixed shape (seen at 1.5e-8). In float64
    those differences are ~1e-16, far below any tolerance (sklearn's
    check_methods_subset_invariance asks for 1e-7).
    """
    model = copy.deepcopy(est.model_).double().eval()
    batches = TensorLoader(cats, conts.double(), batch_size=PRED_BATCH)
    kw = {} if forward is None else {"forward": forward}
    out, _ = predict_batches(model, batches, "cpu", inputs_only=True, **kw)
    return out
