"""DDP under torchrun: 2 CPU processes (Gloo) against 1 process at the same effective
batch (2 x 32 rows per step against 64), on a small regression (Learner) and a small
table (EmbeddingRegressor). ``ddp_script.py`` is the training run; each run is done
once per module and checked by many asserts."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tabtext.core import TensorLoader, distributed

from . import ddp_script

SCRIPT = Path(ddp_script.__file__)
ROOT = SCRIPT.parents[2]
#: DDP's final validation loss may be at most this much worse (relative) than one
#: process with the same samples per step; measured: 0.494 vs 0.495.
LOSS_TOL = 0.10
#: ... and the estimator's R^2 at most this much lower (measured 0.983 vs 0.976).
R2_TOL = 0.02


def launch(
    nproc: int, args: list[str], timeout: int = 120
) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --standalone`` (a free port of its own)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    cmd += [f"--nproc_per_node={nproc}", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, (
        f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    )
    return proc


@pytest.fixture(scope="module")
def ddp(tmp_path_factory):
    base = tmp_path_factory.mktemp("ddp")
    launch(2, [str(SCRIPT), str(base / "out"), str(base / "report"), "32"])
    reports = [
        json.loads((base / "report" / f"rank{r}.json").read_text()) for r in (0, 1)
    ]
    return base / "out", reports


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The same run in this process (world size 1) at 64 rows per step."""
    return ddp_script.run_all(tmp_path_factory.mktemp("single"), 64)


def test_ranks_end_with_identical_models(ddp):
    _, (r0, r1) = ddp
    assert (r0["rank"], r1["rank"], r0["world_size"]) == (0, 1, 2)
    assert r0["learner"]["params"] == r1["learner"]["params"]  # buffers included
    assert r0["estimator"]["auto_params"] == r1["estimator"]["auto_params"]
    assert r0["estimator"]["preds"] == r1["estimator"]["preds"]


def test_each_rank_gets_half_the_batches(ddp, single):
    _, (r0, r1) = ddp
    assert r0["learner"]["n_batches"] == r1["learner"]["n_batches"] == 16
    assert single["learner"]["n_batches"] == 16  # 1024 rows / 64: the same steps


def test_ddp_matches_single_process_quality(ddp, single):
    _, (r0, _) = ddp
    loss = r0["learner"]["history"]["valid_loss"]
    one = single["learner"]["history"]["valid_loss"]
    assert loss[-1] < 0.5 * loss[0]
    assert loss[-1] <= one[-1] * (1 + LOSS_TOL), (loss[-1], one[-1])
    assert r0["estimator"]["score"] >= single["estimator"]["score"] - R2_TOL
    assert r0["estimator"]["score"] > 0.9


def test_validation_is_gathered_over_all_ranks(ddp):
    _, (r0, r1) = ddp
    assert (
        r0["learner"]["history"]["valid_loss"] == r1["learner"]["history"]["valid_loss"]
    )
    assert r0["learner"]["history"]["rmse"] == r1["learner"]["history"]["rmse"]
    # 255 rows in shards of 127 and 128: weighted by counts, it is the full set's MSE
    assert r0["learner"]["history"]["valid_loss"][-1] == pytest.approx(
        r0["learner"]["full_valid_mse"], rel=1e-5
    )
    assert r0["learner"]["full_valid_mse"] == r1["learner"]["full_valid_mse"]


def test_lr_finder_runs_once_and_is_shared(ddp):
    _, (r0, r1) = ddp
    assert r0["learner"]["lr_suggestion"] == r1["learner"]["lr_suggestion"]
    assert r0["estimator"]["auto_lr"] == r1["estimator"]["auto_lr"]


def test_freezing_rewraps_ddp(ddp):
    """The frozen groups stay put; once unfrozen their gradients are synchronised
    (otherwise the ranks' parameters would differ, see the first test)."""
    _, (r0, r1) = ddp
    assert r0["learner"]["frozen_kept"] and r1["learner"]["frozen_kept"]


def test_early_stopping_stops_every_rank_alike(ddp):
    _, (r0, r1) = ddp
    assert r0["learner"]["stopped_after"] == r1["learner"]["stopped_after"] == 2


def test_only_rank_0_writes(ddp):
    out, _ = ddp
    assert not (out / "rank1").exists()
    written = {p.name for p in (out / "rank0").iterdir()}
    assert {"log.csv", "ckpt", "best", "final", "loss.png", "lr_find.png"} <= written
    assert (out / "rank0" / "ckpt" / "last" / "manifest.json").is_file()


# ---- without torchrun: the helpers are a world of one, and loaders shard -------------
def test_helpers_are_a_world_of_one():
    assert not distributed.launched() and not distributed.setup()
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (
        0,
        1,
        True,
    )
    assert distributed.all_reduce_sum([1.5, 2]) == [1.5, 2.0]
    assert distributed.broadcast_object({"a": 1}) == {"a": 1}
    assert distributed.all_gather_object(3) == [3]
    assert distributed.device("cpu") == torch.device("cpu")
    model = nn.Linear(2, 1)
    assert distributed.wrap(model, torch.device("cpu")) is model
    distributed.barrier()


def test_bad_torchrun_environment_is_named(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match="WORLD_SIZE='two'.*torchrun"):
        distributed.world_size()


def _rows(dl: TensorLoader) -> list[int]:
    return [int(v) for x, _ in dl for v in x]


@pytest.mark.parametrize("n", [10, 11, 3])
def test_tensor_loader_shards(n):
    x = torch.arange(n)
    y = torch.zeros(n)
    shards = [
        TensorLoader(x, y, batch_size=2, shuffle=True, rank=r, world_size=3)
        for r in range(3)
    ]
    assert len({len(s) for s in shards}) == 1  # the same number of batches everywhere
    seen = [_rows(s) for s in shards]
    assert len({len(s) for s in seen}) == 1
    assert set(np.concatenate(seen).tolist()) == set(range(n))  # padded, none missing
    blocks = [
        _rows(TensorLoader(x, y, batch_size=2, rank=r, world_size=3)) for r in range(3)
    ]
    assert sum(blocks, []) == list(range(n))  # evaluation: each row exactly once


def test_tensor_loader_rejects_a_bad_rank():
    with pytest.raises(ValueError, match="rank"):
        TensorLoader(torch.zeros(4), torch.zeros(4), rank=2, world_size=2)
