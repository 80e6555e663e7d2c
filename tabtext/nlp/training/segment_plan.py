"""How long a pretraining run is: a real training step timed, then the plan of
batches and checkpointed segments that fits the run's budget (tokens, minutes or
passes over the corpus), saved beside the run so a resumed run keeps it."""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np
import torch

from ...core import adamw, distributed
from ...core.io import atomic_write_text
from ..models.awd_lstm import LanguageModel
from ..text.corpus import Corpus
from ..text.loaders import LMStream

if TYPE_CHECKING:
    from .pretraining import PretrainConfig

log = logging.getLogger(__name__)


def seconds_per_batch(
    model: LanguageModel, ids: np.ndarray, cfg: PretrainConfig, device, bf16: bool
) -> float:
    """Median time of a real training step (on a copy; no state of ours changes)."""
    n = cfg.bs * (cfg.bptt + 1)
    if len(ids) < n:
        return float("nan")
    batch = torch.from_numpy(np.asarray(ids[:n], dtype=np.int64)).view(cfg.bs, -1)
    x, y = batch[:, :-1].to(device), batch[:, 1:].to(device)
    times = []
    with torch.random.fork_rng():
        m = copy.deepcopy(model).to(device).train()
        opt, loss_fn = adamw(m.parameters()), m.loss_fn()
        for _ in range(10):
            t0 = time.perf_counter()
            with torch.autocast(device.type, torch.bfloat16, enabled=bf16):
                loss = loss_fn(m(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            m.reset()
            times.append(time.perf_counter() - t0)
    return float(np.median(times[3:]))


def make_plan(
    cfg: PretrainConfig, stream: LMStream, valid: Corpus, step_s: float
) -> dict:
    """How many batches, in how many segments of how many batches."""
    per_pass = stream.batches_per_pass(0)
    limits = {}
    if cfg.epochs is not None:
        limits["epochs"] = cfg.epochs * per_pass
    if cfg.max_tokens is not None:  # mean tokens per batch of the first pass
        limits["max_tokens"] = (
            cfg.max_tokens * per_pass / stream.tokens_before(per_pass)
        )
    timed = math.isfinite(step_s)
    seg = max(1, int(cfg.ckpt_min * 60 / step_s)) if timed else None
    if cfg.budget_min is not None and timed:
        # validation runs forward only, about a third of a training step per batch
        eval_s = step_s / 3 / (cfg.bs * cfg.bptt)
        valid_each = min(valid.n_tokens, cfg.valid_tokens or valid.n_tokens) * eval_s
        train_s = cfg.budget_min * 60 - valid.n_tokens * eval_s
        limits["budget_min"] = train_s / (step_s + valid_each / seg)
    if not limits:
        limits["epochs"] = per_pass
    total = max(1, int(min(limits.values())))
    n_segments = max(1, math.ceil(total / (seg or total)))
    return {
        "batches": total,
        "segments": n_segments,
        "segment_batches": math.ceil(total / n_segments),
        "batches_per_pass": per_pass,
        "limited_by": min(limits, key=limits.get),
        "seconds_per_batch": round(step_s, 4),
    }


def load_or_make_plan(run, cfg, stream, valid, model, ids, dev, bf16) -> dict:
    """The run's plan: read back on resume (same settings only), else timed and made."""
    path = run.out / "plan.json"
    if run.resume and path.exists():
        saved = json.loads(path.read_text())
        if saved.get("config") == asdict(cfg):
            return saved["plan"]
        changed = sorted(
            k for k, v in asdict(cfg).items() if saved["config"].get(k) != v
        )
        raise ValueError(
            f"{path}: this run was started with other settings ({', '.join(changed)}); "
            "resume with the same flags, or pass another --out"
        )
    step_s = seconds_per_batch(model, ids, cfg, dev, bf16)
    plan = {**make_plan(cfg, stream, valid, step_s), "bf16": bf16}
    if distributed.is_main():
        atomic_write_text(path, json.dumps({"config": asdict(cfg), "plan": plan}))
    log.info("plan: %s", plan)
    return plan
