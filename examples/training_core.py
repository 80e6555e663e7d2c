"""A plain PyTorch model on tabtext's training core: Learner, lr_find and SGDR.

Predicts the hourly count of bike rentals (../shared/data/bike_sharing) from weather and
calendar columns with a small MLP written in plain PyTorch: the numeric columns are
standardised by hand, so nothing here comes from ``tabtext.tabular``. The training
core supplies the loop: the LR range test picks a learning rate, SGDR (cosine annealing
with warm restarts, Loshchilov & Hutter 2017) trains 1 + 2 + 4 epochs with discriminative
learning rates over the model's two layer groups, and the loss, LR and LR-finder plots
go to ``<out>/``.

    python examples/training_core.py
    python examples/training_core.py --quick       # 2,000 rows, 1 + 2 epochs
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from tabtext.core import Learner, TensorLoader, rmse

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "bike_sharing"


class MLP(nn.Module):
    """Two hidden layers; ``param_groups`` gives the body and the head apart."""

    def __init__(self, n_in: int, n_hidden: int = 128):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(n_in, n_hidden),
            nn.ReLU(),
            nn.Linear(n_hidden, n_hidden),
            nn.ReLU(),
        )
        self.head = nn.Linear(n_hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).squeeze(-1)  # (batch,)

    def param_groups(self) -> list[list[nn.Parameter]]:
        return [list(self.body.parameters()), list(self.head.parameters())]


def loaders(frame: pd.DataFrame, target: str, batch_size: int = 128):
    """Train and validation loaders (the last 20% of the rows: a split in time).

    Features are the numeric columns, standardised on the training rows; the target
    is log1p of the count, centred, so the RMSE is the RMSLE. ``casual`` and
    ``registered`` add up to the target and ``instant`` is a row number, so they are
    left out.
    """
    leaks = [target, "casual", "registered", "instant"]
    X = frame.drop(columns=leaks, errors="ignore").select_dtypes("number")
    X = torch.from_numpy(X.to_numpy("float32"))
    y = torch.from_numpy(np.log1p(frame[target].to_numpy("float32")))
    n_valid = len(frame) // 5
    mean, std = X[:-n_valid].mean(0), X[:-n_valid].std(0)
    std[std < 1e-6] = 1.0  # a column constant in the training rows (the year, say)
    X, y = (X - mean) / std, y - y[:-n_valid].mean()
    train_dl = TensorLoader(
        X[:-n_valid], y[:-n_valid], batch_size=batch_size, shuffle=True
    )
    valid_dl = TensorLoader(X[-n_valid:], y[-n_valid:], batch_size=1024)
    return train_dl, valid_dl, X.shape[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--target", default="cnt")
    ap.add_argument("--out", type=Path, default=Path("out/training_core"))
    ap.add_argument("--quick", action="store_true", help="2,000 rows, 1 + 2 epochs")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)

    frame = pd.read_parquet(args.data / "train.parquet")
    if args.quick:
        frame = frame.iloc[:2000]
    train_dl, valid_dl, n_features = loaders(frame, args.target)
    learn = Learner(
        MLP(n_features),
        train_dl,
        valid_dl,
        loss_fn=nn.functional.mse_loss,
        metrics=[rmse],
    )
    found = learn.lr_find()
    found.plot(args.out / "lr_find.png")
    lr = found.suggestion
    print(f"lr_find suggests {lr:.2e}")
    n_cycles = 2 if args.quick else 3
    learn.fit(slice(lr / 10, lr), n_cycles, cycle_len=1, cycle_mult=2)  # SGDR
    print(learn.history.to_string(index=False))
    print(f"validation RMSLE: {learn.history['rmse'].iloc[-1]:.4f}")
    learn.plot_lr(args.out / "lr.png")
    learn.plot_loss(args.out / "loss.png")
    learn.save(args.out / "model")
    print(f"plots and checkpoint in {args.out}")


if __name__ == "__main__":
    main()
