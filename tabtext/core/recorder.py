"""Recorder: per-batch LR, momentum and loss; per-epoch losses, metrics and time; plots."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch

from . import distributed
from .hooks import Callback, Order
from .io import atomic_write_bytes

if TYPE_CHECKING:
    from .learner import Learner


class Recorder(Callback):
    """Always installed by the Learner; its tables are ``learn.history`` and ``batches``."""

    order = Order.DEFAULT

    def __init__(self):
        self.epochs: list[dict[str, Any]] = []
        self.lrs: list[list[float]] = []
        self.moms: list[list[float]] = []
        self.losses: list[float] = []
        self._pending: list[torch.Tensor] = []

    def before_epoch(self, learn: Learner) -> None:
        self._t0 = time.perf_counter()

    def after_batch(self, learn: Learner) -> None:
        if not learn.training or learn.loss is None:
            return
        groups = learn.opt.param_groups
        self.lrs.append([g["lr"] for g in groups])
        self.moms.append([_mom(g) for g in groups])
        # keep tensors: converting each loss with .item() would sync a GPU every batch
        self._pending.append(learn.loss.detach())

    def _flush(self) -> list[float]:
        if not self._pending:
            return []
        new = torch.stack(self._pending).float().cpu().tolist()
        self._pending = []
        self.losses.extend(new)
        return new

    def after_train(self, learn: Learner) -> None:
        new = self._flush()
        learn.epoch_results["train_loss"] = sum(new) / len(new) if new else float("nan")

    def after_epoch(self, learn: Learner) -> None:
        learn.epoch_results["time"] = round(time.perf_counter() - self._t0, 3)
        self.epochs.append(dict(learn.epoch_results))

    def after_fit(self, learn: Learner) -> None:
        self._flush()

    @property
    def history(self) -> pd.DataFrame:
        return pd.DataFrame(self.epochs)

    @property
    def batches(self) -> pd.DataFrame:
        self._flush()
        n = len(self.losses)
        df = pd.DataFrame({"loss": self.losses})
        n_groups = len(self.lrs[0]) if self.lrs else 0
        for g in range(n_groups):
            df[f"lr_{g}"] = [r[g] for r in self.lrs[:n]]
            df[f"mom_{g}"] = [r[g] for r in self.moms[:n]]
        return df

    def state_dict(self) -> dict[str, Any]:
        self._flush()
        return {
            "epochs": self.epochs,
            "lrs": self.lrs,
            "moms": self.moms,
            "losses": self.losses,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epochs, self.lrs = state.get("epochs", []), state.get("lrs", [])
        self.moms, self.losses = state.get("moms", []), state.get("losses", [])
        self._pending = []

    def plot_lr(self, path: str | Path) -> Path:
        """PNG of every group's LR (and momentum) per training batch."""
        df = self.batches
        fig, axes = _subplots(2)
        for col in [c for c in df if c.startswith("lr_")]:
            axes[0].plot(df[col].to_numpy(), label=f"group {col[3:]}")
        axes[0].set(xlabel="batch", ylabel="learning rate", yscale="log")
        axes[0].legend(fontsize="small")
        for col in [c for c in df if c.startswith("mom_")]:
            axes[1].plot(df[col].to_numpy())
        axes[1].set(xlabel="batch", ylabel="momentum / beta1")
        return save_fig(fig, path)

    def plot_loss(self, path: str | Path) -> Path:
        """PNG of the batch training loss (smoothed) and the epoch validation loss."""
        df = self.batches
        fig, axes = _subplots(1)
        ax = axes[0]
        if len(df):
            ax.plot(df["loss"].to_numpy(), alpha=0.3, label="train (batch)")
            ax.plot(
                df["loss"].ewm(alpha=0.05).mean().to_numpy(), label="train (smoothed)"
            )
        hist = self.history
        if "valid_loss" in hist and len(self.epochs):
            per_epoch = len(df) / max(len(self.epochs), 1)
            x = [(i + 1) * per_epoch for i in range(len(hist))]
            ax.plot(x, hist["valid_loss"].to_numpy(), "o-", label="valid (epoch)")
        ax.set(xlabel="batch", ylabel="loss")
        ax.legend(fontsize="small")
        return save_fig(fig, path)


def _mom(group: dict) -> float:
    if "betas" in group:
        return float(group["betas"][0])
    return float(group.get("momentum", 0.0))


def _subplots(n: int):
    # the object-oriented API needs no GUI backend and leaves pyplot's state alone
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6 * n, 4))
    axes = fig.subplots(1, n, squeeze=False)
    return fig, list(axes[0])


def save_fig(fig, path: str | Path) -> Path:
    """Write a matplotlib figure as PNG atomically (on rank 0 only under torchrun)."""
    if not distributed.is_main():
        return Path(path)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)
