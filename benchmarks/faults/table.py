"""``EmbeddingClassifier(checkpoint_dir=...)`` under SIGKILL, on damaged checkpoints,
via ``fit_parquet``, and with two fits on one ``checkpoint_dir``."""

from __future__ import annotations

import json
import shutil
import socket
import time
from pathlib import Path

import numpy as np

from .procs import (
    child_cmd,
    epochs_saved,
    flip,
    kill_checked,
    paused,
    reference,
    refused,
    row,
    run,
    run_killed,
    same_weights,
    short,
    truncate,
)

TAB_EPOCHS = 6
N_ROWS = 6000


def tab_cmd(ckpt: Path | None, save: Path, fault: str = "", parquet: bool = False):
    cmd = child_cmd("--child-parquet" if parquet else "--child-tabular", str(save))
    cmd += ["--ckpt", str(ckpt)] if ckpt is not None else []
    return cmd + (["--fault", fault] if fault else [])


def table(seed: int = 0):
    """A learnable binary table: a category effect, a linear and a square term."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "shop": rng.choice([f"s{i}" for i in range(30)], N_ROWS),
            "day": rng.choice(list("MTWRFSU"), N_ROWS),
            "x": rng.normal(size=N_ROWS),
            "z": rng.normal(size=N_ROWS),
        }
    )
    logit = X["shop"].str[1:].astype(int) % 7 - 3 + 2 * X["x"] - X["z"] ** 2
    y = (logit + rng.logistic(size=N_ROWS) > 0).astype(int).to_numpy()
    return X, y


def estimator(ckpt: str | None):
    from tabtext.tabular import EmbeddingClassifier

    return EmbeddingClassifier(
        epochs=TAB_EPOCHS, layers=(32, 16), ps=(0.1, 0.1), batch_size=64, lr=0.01,
        validation_fraction=0.2, n_iter_no_change=3, random_state=0,
        checkpoint_dir=ckpt,
    )  # fmt: skip


def child_tabular(save: str, ckpt: str | None, fault: str, parquet: str | None) -> None:
    """Child process: fit (maybe with a fault installed), then save."""
    import torch

    from .inject import install_fault

    torch.set_num_threads(1)
    if fault:
        install_fault(fault, Path(ckpt))
    est = estimator(ckpt)
    if parquet:
        est.fit_parquet(parquet, target="y", batch_rows=500)
    else:
        est.fit(*table())
    est.save(save)


def write_parquet(path: Path) -> None:
    """The same table as a parquet file of several row groups."""
    X, y = table()
    X.assign(y=y).to_parquet(path, row_group_size=500)


def tab_compare(ref: Path, save: Path) -> tuple[bool, str]:
    same, said = same_weights(ref / "model.safetensors", save / "model.safetensors")
    ha = json.loads((ref / "estimator.json").read_text())["history"]
    hb = json.loads((save / "estimator.json").read_text())["history"]
    hist = ha["valid_loss"] == hb["valid_loss"] and ha["epoch"] == hb["epoch"]
    return same and hist, (
        f"{said}; {len(hb['epoch'])} epochs, valid losses "
        f"{'equal' if hist else 'differ'}"
    )


def refit_check(rerun: dict, ref: Path, save: Path) -> tuple[bool, str]:
    if rerun["rc"]:
        return False, f"refit failed: {rerun['error']}"
    return tab_compare(ref, save)


def tabular_trials(work: Path, rng: np.random.Generator, rows: list) -> Path:
    ref = work / "tab-ref"
    res = reference(run(tab_cmd(None, ref)), "EmbeddingClassifier")
    n_ep = len(json.loads((ref / "estimator.json").read_text())["history"]["epoch"])
    rows.append(
        row("EmbeddingModel reference", "none", f"{n_ep} epochs", res, True, "")
    )
    for i, epoch in enumerate((0, 1, 3)):
        ckpt, save = work / f"tab-{i}-ckpt", work / f"tab-{i}"
        delay = float(rng.uniform(0, 0.4))
        if epoch == 0:
            trig = (lambda t0, w: lambda: time.monotonic() - t0 > w)(
                time.monotonic(), float(rng.uniform(0.5, 2.0))
            )
        else:
            trig = (lambda c, e: lambda: epochs_saved(c / "last") >= e)(ckpt, epoch)
        killed = run_killed(tab_cmd(ckpt, save), trig, delay)
        k = epochs_saved(ckpt / "last")
        at = f"epoch {k} saved" if k else "before the first checkpoint"
        ok, check = kill_checked(
            killed, *refit_check(run(tab_cmd(ckpt, save)), ref, save)
        )
        what = "SIGKILL" + (f" (+{delay:.2f}s after epoch {epoch})" if epoch else "")
        rows.append(row("EmbeddingModel, kill then refit", what, at, killed, ok, check))
    return ref


def parquet_trial(work: Path, rng: np.random.Generator, rows: list) -> None:
    """``fit_parquet`` killed mid-epoch, refit with the same ``checkpoint_dir``."""
    data = work / "table.parquet"
    write_parquet(data)
    ref = work / "pq-ref"
    cmd = tab_cmd(None, ref, parquet=True) + ["--data", str(data)]
    res = reference(run(cmd), "fit_parquet")
    rows.append(row("fit_parquet reference", "none", "-", res, True, ""))
    ckpt, save = work / "pq-ckpt", work / "pq-kill"
    cmd = tab_cmd(ckpt, save, parquet=True) + ["--data", str(data)]
    epoch, delay = int(rng.integers(1, 4)), float(rng.uniform(0.05, 0.4))
    killed = run_killed(cmd, lambda: epochs_saved(ckpt / "last") >= epoch, delay)
    at = f"mid-epoch {epochs_saved(ckpt / 'last') + 1}"
    ok, check = kill_checked(killed, *refit_check(run(cmd), ref, save))
    rows.append(row("fit_parquet, kill then refit", f"SIGKILL (+{delay:.2f}s after "
                    f"epoch {epoch})", at, killed, ok, check))  # fmt: skip


def lock_trial(work: Path, ref: Path, rows: list) -> None:
    """Two fits on one checkpoint_dir: the second refuses, the first is unharmed."""
    ckpt, save = work / "tab-lock-ckpt", work / "tab-lock"
    second: dict = {}

    def start_second(pid: int) -> None:  # the first is paused, lock held, meanwhile
        paused(pid, lambda: second.update(run(tab_cmd(ckpt, work / "tab-lock-2"))))

    started = lambda: epochs_saved(ckpt / "last") >= 1  # noqa: E731
    first = run(tab_cmd(ckpt, save), during=(started, start_second))
    ok_first, said = refit_check(first, ref, save)
    msg = second.get("error", "")
    lock = str(ckpt / ".tabtext.lock")
    names = lock in msg and f"pid {first['pid']} on host {socket.gethostname()}" in msg
    ok = bool(second) and second["rc"] not in (0, -9) and names and ok_first
    check = f"second: {short(msg, work) if second else 'NEVER STARTED'}; first: {said}"
    rows.append(row("EmbeddingModel, two fits on one checkpoint_dir", "a second fit",
                    "epoch 1 saved", first, ok, check))  # fmt: skip


def corruption_trial(work: Path, rows: list) -> None:
    """A checkpoint left by a kill, then truncated or flipped: refused, named."""
    ckpt, save = work / "tab-corrupt-ckpt", work / "tab-corrupt"
    run(tab_cmd(ckpt, save), lambda: epochs_saved(ckpt / "last") >= 2, 0.0)
    for label, damage, name in (
        ("truncated last/model.safetensors", truncate, "last/model.safetensors"),
        ("1 byte flipped in last/learner.json", flip, "last/learner.json"),
    ):
        broken = work / f"tab-corrupt-{name.split('/')[1]}"
        shutil.copytree(ckpt, broken)
        damage(broken / name)
        res = run(tab_cmd(broken, save))
        refused(rows, "EmbeddingModel refit", label, res, name + " is corrupted", work)
