"""``finetune`` under SIGKILL: each stage, twice in a row, inside self-training, and
two runs on one ``--out`` at once (the run lock)."""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

import numpy as np

from .procs import (
    epochs_saved,
    kill_checked,
    paused,
    reference,
    row,
    run,
    run_killed,
    same_weights,
    short,
)

FT_EPOCHS = {"lm": 2, "lm_ft": 2, "clas_1": 1, "clas_2": 1, "clas_all": 2}
FT_FLAGS = [
    "--no-pretrained", "--emb-sz", "16", "--n-hid", "24", "--n-layers", "2",
    "--bptt", "12", "--lm-bs", "8", "--clas-bs", "16", "--max-vocab", "200",
    "--min-freq", "1", "--lm-docs", "all", "--clas-docs", "all", "--max-tokens", "all",
    "--max-len", "32", "--lm-epochs", "2", "--lm-ft-epochs", "2",
    "--unfreeze", "1", "2", "--clas-epochs", "2", "--clas-lr", "0.05",
    "--clas-final-lr", "0.03", "--lm-drop-mult", "0", "--clas-drop-mult", "0",
    "--lr-decay", "1", "--clas-min-steps", "0", "--clas-lr-full-at", "0", "--quiet",
]  # fmt: skip
SELF_TRAIN = ["--max-labels", "120", "--self-train", "20", "--self-train-pool", "80"]
LOCK = ".tabtext.lock"


def make_corpus(path: Path, n: int = 300, seed: int = 0) -> None:
    """A two-class synthetic review corpus: filler words plus 3 sentiment words."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    pos = "great wonderful superb loved amazing brilliant".split()
    neg = "awful terrible boring hated bad dull".split()
    filler = "the movie film was a and it this of plot actor story scene".split()
    texts, labels = [], []
    for i in range(n):
        words = list(rng.choice(filler, 10)) + list(
            rng.choice(pos if i % 2 else neg, 3)
        )
        rng.shuffle(words)
        texts.append(" ".join(words).capitalize() + ".")
        labels.append("pos" if i % 2 else "neg")
    pd.DataFrame({"text": texts, "label": labels}).to_parquet(path)


def finetune_cmd(
    data: Path, out: Path, resume: bool = False, extra: tuple[str, ...] = ()
) -> list[str]:
    cmd = [sys.executable, "-m", "tabtext.nlp.finetune", "--data", str(data)]
    cmd += ["--out", str(out), "--cache-dir", str(out.parent / "ft-cache")]
    return cmd + FT_FLAGS + list(extra) + (["--resume"] if resume else [])


def ft_stage(out: Path, phases=FT_EPOCHS) -> str:
    """Where a finetune run stands, from its files: the last checkpointed epoch."""
    try:
        done = list(json.loads((out / "progress.json").read_text())["done"])
    except (OSError, ValueError, KeyError):
        done = []
    saved = [(p, epochs_saved(out / "ckpt" / p)) for p in phases]
    saved = [(p, k) for p, k in saved if k]
    if (out / "model" / "manifest.json").exists():
        return "final writes (model saved)"
    if not saved:
        return "start-up / tokenization"
    phase, k = saved[-1]
    return f"{phase} epoch {k}/{phases[phase]} {'done' if phase in done else 'saved'}"


def ft_compare(ref: Path, out: Path, phases=FT_EPOCHS) -> tuple[bool, str]:
    """Same classifier weights, phase losses and validation accuracy as ``ref``."""
    same, said = same_weights(
        ref / "model/model.safetensors", out / "model/model.safetensors"
    )
    ma = json.loads((ref / "metrics.json").read_text())
    mb = json.loads((out / "metrics.json").read_text())
    losses = all(
        ma["phases"][p].get(k) == mb["phases"][p].get(k)
        for p in phases
        for k in ("valid_loss", "accuracy")
    )
    acc = ma["valid_accuracy"] == mb["valid_accuracy"]
    return same and losses and acc, (
        f"{said}; valid acc {mb['valid_accuracy']:.3f} "
        f"{'=' if acc else '!='} reference; phase losses "
        f"{'equal' if losses else 'differ'}"
    )


def _resumed_check(resumed: dict, ref: Path, out: Path, phases=FT_EPOCHS):
    if resumed["rc"]:
        return False, f"--resume failed: {resumed['error']}"
    return ft_compare(ref, out, phases)


def ft_trigger(out: Path, phase: str | None, epoch: int, t0: float, wait: float):
    if phase is None:  # start-up: a moment before any checkpoint
        return lambda: time.monotonic() - t0 >= wait
    return lambda: epochs_saved(out / "ckpt" / phase) >= epoch


def finetune_trials(work: Path, rng: np.random.Generator, rows: list) -> Path:
    data = work / "corpus.parquet"
    ref = work / "ft-ref"
    res = reference(run(finetune_cmd(data, ref)), "finetune")
    rows.append(row("finetune reference", "none", "-", res, True, ""))
    plans = [  # (label, phase whose checkpoint triggers, epoch, max delay in s)
        ("start-up", None, 0, 0.0),
        ("LM", "lm", 1, 0.3),
        ("LM fine-tuning", "lm_ft", 1, 0.3),
        ("classifier, frozen", "clas_1", 1, 0.2),
        ("classifier, all layers", "clas_all", 1, 0.2),
        ("final writes", "clas_all", 2, 0.1),
    ]
    for i, (label, phase, epoch, max_delay) in enumerate(plans):
        out = work / f"ft-{i}"
        wait, delay = float(rng.uniform(0.5, 2.0)), float(rng.uniform(0, max_delay))
        trig = ft_trigger(out, phase, epoch, time.monotonic(), wait)
        killed = run_killed(finetune_cmd(data, out), trig, delay)
        at = ft_stage(out)
        stale = (out / LOCK).exists()
        resumed = run(finetune_cmd(data, out, resume=True))
        ok, check = kill_checked(killed, *_resumed_check(resumed, ref, out))
        what = (
            f"SIGKILL ({label}, +{delay:.2f}s)" if phase else f"SIGKILL at {wait:.1f}s"
        )
        rows.append(row("finetune, kill then --resume", what, at, killed, ok, check))
        if i == 1:
            _stale_lock_row(rows, killed, stale, resumed, out, ok)
    _killed_twice(work, data, ref, rows)
    return ref


def _stale_lock_row(rows, killed, stale, resumed, out, resumed_ok) -> None:
    """The lock a SIGKILLed run left must not block its --resume."""
    ok = stale and resumed["rc"] == 0 and resumed_ok and not (out / LOCK).exists()
    check = (
        f"lock of killed pid {killed['pid']} {'left' if stale else 'NOT left'}; "
        f"--resume exit {resumed['rc']}, took it over and released it"
    )
    rows.append(row("stale lock, then --resume", "SIGKILL leaves the lock", "LM",
                    resumed, ok, check))  # fmt: skip


def _killed_twice(work: Path, data: Path, ref: Path, rows: list) -> None:
    out = work / "ft-twice"  # killed, killed again while resuming, resumed
    first = run(finetune_cmd(data, out), ft_trigger(out, "lm", 2, 0, 0), 0.05)
    at = ft_stage(out)
    second = run(finetune_cmd(data, out, True), ft_trigger(out, "clas_2", 1, 0, 0), 0)
    at = f"{at}; then {ft_stage(out)}"
    resumed = run(finetune_cmd(data, out, resume=True))
    ok, check = _resumed_check(resumed, ref, out)
    if not (first["killed"] and second["killed"]):
        ok, check = False, f"NOT KILLED twice; {check}"
    rows.append(row("finetune, killed twice", "2 x SIGKILL", at, resumed, ok, check))


def self_train_trial(work: Path, rng: np.random.Generator, rows: list) -> None:
    """``--self-train``: killed inside the self-training round, then --resume."""
    data = work / "corpus.parquet"
    phases = {
        **FT_EPOCHS,
        **{f"st1_{p}": FT_EPOCHS[p] for p in FT_EPOCHS if "clas" in p},
    }
    ref = work / "st-ref"
    res = reference(run(finetune_cmd(data, ref, extra=SELF_TRAIN)), "self-training")
    rows.append(row("finetune --self-train reference", "none", "-", res, True, ""))
    out = work / "st-kill"
    phase = str(rng.choice(["st1_clas_1", "st1_clas_2", "st1_clas_all"]))
    delay = float(rng.uniform(0, 0.2))
    trig = ft_trigger(out, phase, 1, 0, 0)
    killed = run_killed(finetune_cmd(data, out, extra=SELF_TRAIN), trig, delay)
    at = ft_stage(out, phases)
    resumed = run(finetune_cmd(data, out, resume=True, extra=SELF_TRAIN))
    ok, check = kill_checked(killed, *_resumed_check(resumed, ref, out, phases))
    rows.append(row("finetune --self-train, kill then --resume",
                    f"SIGKILL (round 1, {phase}, +{delay:.2f}s)", at, killed, ok, check))  # fmt: skip


def lock_trial(work: Path, ref: Path, rows: list) -> None:
    """Two runs on one --out: the second refuses, the first ends as the reference."""
    data, out = work / "corpus.parquet", work / "ft-lock"
    second: dict = {}

    def start_second(pid: int) -> None:  # the first is paused, lock held, meanwhile
        paused(pid, lambda: second.update(run(finetune_cmd(data, out))))

    started = lambda: (out / LOCK).exists() and epochs_saved(out / "ckpt" / "lm") >= 1  # noqa: E731
    first = run(finetune_cmd(data, out), during=(started, start_second))
    ok_first, said = (False, first["error"]) if first["rc"] else ft_compare(ref, out)
    msg = second.get("error", "")
    names = (
        str(out / LOCK) in msg
        and f"pid {first['pid']} on host {socket.gethostname()}" in msg
    )
    ok = bool(second) and second["rc"] not in (0, -9) and names and ok_first
    check = f"second: {short(msg, work) if second else 'NEVER STARTED'}; first: exit {first['rc']}, {said}"
    rows.append(row("finetune, two runs on one --out", "a second finetune, same --out",
                    "LM epoch 1 saved", first, ok, check))  # fmt: skip
