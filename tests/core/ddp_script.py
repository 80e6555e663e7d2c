"""Worker for tests/core/test_distributed.py: one training run, reported as JSON.

Run alone (one process) or under ``python -m torch.distributed.run --nproc_per_node
N``; each rank writes ``REPORT/rank<r>.json``. The library writes into ``OUT/rank<r>``
so that the test can see which ranks wrote files.

    python ddp_script.py OUT REPORT BATCH_SIZE
"""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from tabtext.core import (
    Checkpoint,
    CSVLogger,
    EarlyStopping,
    Learner,
    SaveBest,
    TensorLoader,
    distributed,
    rmse,
)
from tabtext.tabular import EmbeddingRegressor

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.core.conftest import TwoGroupModel  # noqa: E402

torch.set_num_threads(1)


def regression_data(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = torch.sin(2 * x[:, 0]) + x[:, 1] * x[:, 2] + 0.5 * x[:, 3]
    return x, y + 0.1 * torch.randn(n, generator=g)


def flat_params(model: nn.Module) -> list[float]:
    return torch.cat(
        [t.detach().reshape(-1) for t in model.state_dict().values()]
    ).tolist()


def run_learner(out: Path, bs: int) -> dict:
    rank, world = distributed.rank(), distributed.world_size()
    x, y = regression_data(1024 + 255, seed=0)  # 255 validation rows: shards 127/128
    train = TensorLoader(
        x[:1024],
        y[:1024],
        batch_size=bs,
        shuffle=True,
        seed=0,
        rank=rank,
        world_size=world,
    )
    valid = TensorLoader(x[1024:], y[1024:], batch_size=64, rank=rank, world_size=world)
    torch.manual_seed(0)
    learn = Learner(
        TwoGroupModel(n_in=4, hidden=32),
        train,
        valid,
        loss_fn=nn.functional.mse_loss,
        metrics=[rmse],
        device="cpu",
        progress=False,
    )
    found = learn.lr_find(num_it=30)
    found.plot(out / "lr_find.png")
    before = [p.detach().clone() for p in learn.model.parameters()]
    learn.freeze_to(-1)  # the head alone, then everything: DDP re-wrapped each time
    learn.fit_one_cycle(1, 1e-2)
    frozen = [p for g in learn.groups[:2] for p in g if not p.requires_grad]
    kept = all(
        torch.equal(p, b)
        for p, b in zip(learn.model.parameters(), before)
        if any(p is f for f in frozen)
    )
    learn.unfreeze()
    with learn.added_cbs([CSVLogger(out / "log.csv"), Checkpoint(out / "ckpt")]):
        learn.fit_one_cycle(6, 1e-2)
    main_fit = learn.history.iloc[1:].to_dict(orient="list")
    full = TensorLoader(x[1024:], y[1024:], batch_size=64)  # unsharded
    preds, targs = learn.get_preds(full)
    full_mse = float(nn.functional.mse_loss(preds, targs))
    n_epochs_before = len(learn.history)
    stop = [SaveBest(path=out / "best"), EarlyStopping(patience=1, min_delta=0.05)]
    with learn.added_cbs(stop):
        learn.fit(1e-7, 8)  # no real progress: stops after 2 epochs on every rank
    learn.save(out / "final")
    learn.plot_loss(out / "loss.png")
    return {
        "lr_suggestion": found.suggestion,
        "n_batches": len(train),
        "frozen_kept": bool(kept),
        "history": main_fit,
        "full_valid_mse": full_mse,
        "stopped_after": len(learn.history) - n_epochs_before,
        "params": flat_params(learn.model),
    }


def table(n: int, seed: int):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 5, n)
    b = rng.integers(0, 20, n)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    eff_a, eff_b = np.linspace(-1, 1, 5), np.random.default_rng(99).normal(size=20)
    y = eff_a[a] + eff_b[b] + x1 - 0.5 * x2**2 + 0.1 * rng.normal(size=n)
    frame = pd.DataFrame({"a": [f"a{v}" for v in a], "b": [f"b{v}" for v in b]})
    return frame.assign(x1=x1, x2=x2), y


def run_estimator(out: Path, bs: int) -> dict:
    X, y = table(1200, seed=0)
    Xt, yt = table(400, seed=1)
    est = EmbeddingRegressor(
        layers=(32, 16),
        ps=(0.0, 0.0),
        epochs=8,
        lr=1e-2,
        batch_size=bs,
        validation_fraction=0.2,
        random_state=0,
    ).fit(X, y)
    auto = EmbeddingRegressor(
        layers=(16,),
        ps=(0.0,),
        epochs=2,
        lr="auto",
        batch_size=bs,
        random_state=0,
        validation_fraction=0.2,
        checkpoint_dir=out / "ckpt",
    ).fit(X, y)
    return {
        "score": est.score(Xt, yt),
        "preds": est.predict(Xt[:20]).tolist(),
        "epochs": len(est.history_),
        "auto_lr": auto.lr_,
        "auto_params": flat_params(auto.model_),
    }


def run_all(out: Path, bs: int) -> dict:
    """The learner at ``bs`` rows per step and rank, the estimator at ``2 * bs``."""
    return {"learner": run_learner(out, bs), "estimator": run_estimator(out, 2 * bs)}


def main() -> None:
    out, report, bs = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    rank = distributed.rank()
    result = run_all(out / f"rank{rank}", bs)
    result.update(rank=rank, world_size=distributed.world_size())
    report.mkdir(parents=True, exist_ok=True)
    (report / f"rank{rank}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
