"""Fault injection on real processes: SIGKILL, corrupted files, failing disks.

Not a test: it starts real subprocesses, kills them with SIGKILL at chosen stages plus
a random delay, resumes them, and checks the outcome against an uninterrupted run.

(a) ``python -m tabtext.nlp.finetune`` on a synthetic corpus (tiny model) killed in
    each stage (start-up/tokenization, LM, LM fine-tuning, each classifier phase, the
    final writes), once twice in a row, then rerun with ``--resume``: the classifier
    weights must equal the uninterrupted run's bit for bit, and so must the
    validation metrics.
(b) the same for ``EmbeddingClassifier(checkpoint_dir=...)`` with early stopping.
(c) checkpoint files truncated, flipped or joined by a pickle: refused, naming the file.
(d) the disk fails while a checkpoint is written -- a real ``EFBIG`` from
    ``RLIMIT_FSIZE``, ``ENOSPC`` and ``EACCES`` -- : a clear error, the previous
    checkpoint intact, and a rerun that ends like the uninterrupted fit.

    .venv/bin/python benchmarks/fault_injection.py [--seed 0] [--work DIR]

Prints a markdown table of scenarios and outcomes (3-4 min on 2 CPU cores); exits
non-zero if any scenario fails. ``--work DIR`` keeps the runs for inspection.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, markdown_table  # noqa: E402

COLUMNS = ["scenario", "injected", "at", "outcome", "check", "result"]
FT_EPOCHS = {"lm": 3, "lm_ft": 2, "clas_1": 1, "clas_2": 1, "clas_all": 3}
FT_FLAGS = [
    "--emb-sz", "16", "--n-hid", "24", "--n-layers", "2", "--bptt", "12",
    "--lm-bs", "8", "--clas-bs", "16", "--max-vocab", "200", "--min-freq", "1",
    "--lm-docs", "all", "--clas-docs", "all", "--max-tokens", "all",
    "--max-len", "48", "--lm-epochs", "3", "--lm-ft-epochs", "2",
    "--unfreeze", "1", "2", "--clas-epochs", "3", "--clas-lr", "0.05",
    "--clas-final-lr", "0.03", "--lm-drop-mult", "0", "--clas-drop-mult", "0",
    "--lr-decay", "1",
]  # fmt: skip
TAB_EPOCHS = 8
ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))


# ---- processes ---------------------------------------------------------------------------
def run(
    cmd: list[str],
    kill_when: Callable[[], bool] | None = None,
    delay: float = 0.0,
    timeout: float = 600,
) -> dict:
    """Run ``cmd``; SIGKILL it ``delay`` seconds after ``kill_when()`` turns true."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=err
        )
        t0, kill_at = time.monotonic(), None
        while proc.poll() is None:
            now = time.monotonic()
            if kill_at is None and kill_when is not None and _safe(kill_when):
                kill_at = now + delay
            if (kill_at is not None and now >= kill_at) or now - t0 > timeout:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                break
            time.sleep(0.02)
        err.seek(0)
        tail = err.read().decode(errors="replace").strip().splitlines()
    return {
        "rc": proc.returncode,
        "killed": proc.returncode == -signal.SIGKILL,
        "seconds": time.monotonic() - t0,
        "error": tail[-1] if tail else "",
    }


def _safe(pred: Callable[[], bool]) -> bool:
    try:
        return bool(pred())
    except (OSError, ValueError, KeyError):  # a file caught mid-rename
        return False


def epochs_saved(ckpt: Path) -> int:
    """epochs_done of a learner checkpoint directory, 0 if none (or unreadable)."""
    try:
        raw = (ckpt / "learner.json").read_text()
        return int(json.loads(raw)["epochs_done"])
    except (OSError, ValueError, KeyError):
        return 0


# ---- (a) finetune -------------------------------------------------------------------------
def make_corpus(path: Path, n: int = 2000, seed: int = 0) -> None:
    import pandas as pd

    rng = np.random.default_rng(seed)
    pos = "great wonderful superb loved amazing brilliant".split()
    neg = "awful terrible boring hated bad dull".split()
    filler = "the movie film was a and it this of plot actor story scene".split()
    texts, labels = [], []
    for i in range(n):
        words = list(rng.choice(filler, 14)) + list(
            rng.choice(pos if i % 2 else neg, 3)
        )
        rng.shuffle(words)
        texts.append(" ".join(words).capitalize() + ".")
        labels.append("pos" if i % 2 else "neg")
    pd.DataFrame({"text": texts, "label": labels}).to_parquet(path)


def finetune_cmd(data: Path, out: Path, resume: bool = False) -> list[str]:
    cmd = [sys.executable, "-m", "tabtext.nlp.finetune", "--data", str(data)]
    cmd += ["--out", str(out), "--cache-dir", str(out.parent / f"{out.name}-cache")]
    return cmd + FT_FLAGS + (["--resume"] if resume else [])


def ft_stage(out: Path) -> str:
    """Where a finetune run stands, from its files: the last checkpointed epoch."""
    try:
        done = list(json.loads((out / "progress.json").read_text())["done"])
    except (OSError, ValueError, KeyError):
        done = []
    saved = [(p, epochs_saved(out / "ckpt" / p)) for p in FT_EPOCHS]
    saved = [(p, k) for p, k in saved if k]
    if (out / "model" / "manifest.json").exists():
        return "final writes (model saved)"
    if not saved:
        return "start-up / tokenization"
    phase, k = saved[-1]
    state = "done" if phase in done else "saved"
    return f"{phase} epoch {k}/{FT_EPOCHS[phase]} {state}"


def ft_compare(ref: Path, out: Path) -> tuple[bool, str]:
    from safetensors.torch import load_file

    a = load_file(ref / "model" / "model.safetensors")
    b = load_file(out / "model" / "model.safetensors")
    same = a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)
    diff = max(float((a[k] - b[k]).abs().max()) for k in a if k in b)
    ma = json.loads((ref / "metrics.json").read_text())
    mb = json.loads((out / "metrics.json").read_text())
    keys = ("valid_loss", "accuracy")
    losses = all(
        ma["phases"][p].get(k) == mb["phases"][p].get(k)
        for p in FT_EPOCHS
        for k in keys
    )
    acc = ma["valid_accuracy"] == mb["valid_accuracy"]
    ok = same and losses and acc
    return ok, (
        f"weights {'equal' if same else f'max abs diff {diff:.2e}'}; "
        f"valid acc {mb['valid_accuracy']:.3f} {'=' if acc else '!='} reference; "
        f"phase losses {'equal' if losses else 'differ'}"
    )


def ft_trigger(out: Path, phase: str | None, epoch: int, t0: float, wait: float):
    if phase is None:  # start-up: a moment before any checkpoint
        return lambda: time.monotonic() - t0 >= wait
    return lambda: epochs_saved(out / "ckpt" / phase) >= epoch


def finetune_trials(work: Path, rng: np.random.Generator, rows: list) -> Path:
    data = work / "corpus.parquet"
    make_corpus(data)
    ref = work / "ft-ref"
    res = run(finetune_cmd(data, ref))
    rows.append(_row("finetune reference", "none", "-", res, res["rc"] == 0, ""))
    plans = [  # (label, phase whose checkpoint triggers, epoch, max delay in s)
        ("start-up", None, 0, 0.0),
        ("LM", "lm", 1, 0.4),
        ("LM fine-tuning", "lm_ft", 1, 0.4),
        ("classifier, frozen", "clas_1", 1, 0.3),
        ("classifier, all layers", "clas_all", 1, 0.3),
        ("final writes", "clas_all", 3, 0.15),
    ]
    for i, (label, phase, epoch, max_delay) in enumerate(plans):
        out = work / f"ft-{i}"
        wait = float(rng.uniform(1.0, 4.0))
        delay = float(rng.uniform(0, max_delay))
        t0 = time.monotonic()
        trig = ft_trigger(out, phase, epoch, t0, wait)
        killed = run(finetune_cmd(data, out), trig, delay)
        at = ft_stage(out)
        resumed = run(finetune_cmd(data, out, resume=True))
        ok, check = (False, resumed["error"]) if resumed["rc"] else ft_compare(ref, out)
        what = (
            f"SIGKILL ({label}, +{delay:.2f}s)" if phase else f"SIGKILL at {wait:.1f}s"
        )
        rows.append(_row("finetune, kill then --resume", what, at, killed, ok, check))
    out = work / "ft-twice"  # killed, killed again while resuming, resumed
    run(finetune_cmd(data, out), ft_trigger(out, "lm", 2, 0, 0), 0.1)
    first = ft_stage(out)
    run(finetune_cmd(data, out, True), ft_trigger(out, "clas_2", 1, 0, 0), 0.05)
    second = ft_stage(out)
    resumed = run(finetune_cmd(data, out, resume=True))
    ok, check = (False, resumed["error"]) if resumed["rc"] else ft_compare(ref, out)
    rows.append(
        _row("finetune, killed twice", "2 x SIGKILL", f"{first}; then {second}",
             resumed, ok, check)
    )  # fmt: skip
    return ref


# ---- (b) EmbeddingModel ---------------------------------------------------------------------
def tab_cmd(ckpt: Path | None, save: Path, fault: str = "") -> list[str]:
    cmd = [sys.executable, __file__, "--child-tabular", str(save)]
    cmd += ["--ckpt", str(ckpt)] if ckpt is not None else []
    return cmd + (["--fault", fault] if fault else [])


def child_tabular(save: str, ckpt: str | None, fault: str) -> None:
    """Child process: fit an EmbeddingClassifier (maybe with a fault), save it."""
    import pandas as pd
    import torch

    from tabtext.tabular import EmbeddingClassifier

    torch.set_num_threads(1)
    if fault:
        _install_fault(fault, Path(ckpt))
    rng = np.random.default_rng(0)
    n = 40_000
    X = pd.DataFrame(
        {
            "shop": rng.choice([f"s{i}" for i in range(50)], n),
            "day": rng.choice(list("MTWRFSU"), n),
            "x": rng.normal(size=n),
            "z": rng.normal(size=n),
        }
    )
    logit = X["shop"].str[1:].astype(int) % 7 - 3 + 2 * X["x"] - X["z"] ** 2
    y = (logit + rng.logistic(size=n) * 2 > 0).astype(int).to_numpy()
    est = EmbeddingClassifier(
        epochs=TAB_EPOCHS, layers=(64, 32), ps=(0.1, 0.1), batch_size=128,
        lr=0.05, validation_fraction=0.2, n_iter_no_change=2, random_state=0,
        checkpoint_dir=ckpt,
    )  # fmt: skip
    est.fit(X, y).save(save)


def _install_fault(fault: str, ckpt: Path) -> None:
    """``kind@k``: after the checkpoint of epoch k, make the next save fail."""
    import resource

    from tabtext.core import Checkpoint

    kind, k = fault.split("@")
    save = Checkpoint.after_epoch

    def after_epoch(self, learn):
        save(self, learn)
        if learn.epoch + 1 != int(k):
            return
        if kind == "efbig":  # the kernel refuses to grow files past 4 KiB: EFBIG
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
            resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
        elif kind == "enospc":  # disk full: the flush to disk fails
            os.fsync = _raiser(errno.ENOSPC)
        elif kind == "eacces" and os.geteuid() != 0:  # a read-only folder
            ckpt.chmod(0o555)
        elif kind == "eacces":  # root ignores permissions: refuse the temp folder
            real = os.mkdir
            os.mkdir = lambda p, *a, **kw: (
                _raiser(errno.EACCES)() if str(ckpt) in str(p) else real(p, *a, **kw)
            )

    Checkpoint.after_epoch = after_epoch


def _raiser(code: int):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    return fail


def tab_compare(ref: Path, save: Path) -> tuple[bool, str]:
    from safetensors.torch import load_file

    a = load_file(ref / "model.safetensors")
    b = load_file(save / "model.safetensors")
    same = a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)
    ha = json.loads((ref / "estimator.json").read_text())["history"]
    hb = json.loads((save / "estimator.json").read_text())["history"]
    hist = ha["valid_loss"] == hb["valid_loss"] and ha["epoch"] == hb["epoch"]
    diff = max(float((a[k] - b[k]).abs().max()) for k in a if k in b)
    return same and hist, (
        f"weights {'equal' if same else f'max abs diff {diff:.2e}'}; "
        f"{len(hb['epoch'])} epochs, valid losses {'equal' if hist else 'differ'}"
    )


def tabular_trials(work: Path, rng: np.random.Generator, rows: list) -> Path:
    ref = work / "tab-ref"
    res = run(tab_cmd(None, ref))
    n_ep = len(json.loads((ref / "estimator.json").read_text())["history"]["epoch"])
    rows.append(
        _row("EmbeddingModel reference", "none", f"{n_ep} epochs (early stop)",
             res, res["rc"] == 0, "")
    )  # fmt: skip
    for i, epoch in enumerate((0, 1, 2, 3)):
        ckpt, save = work / f"tab-{i}-ckpt", work / f"tab-{i}"
        delay = float(rng.uniform(0, 0.25))
        if epoch == 0:
            trig = (lambda t0, w: lambda: time.monotonic() - t0 > w)(
                time.monotonic(), float(rng.uniform(1.5, 4.0))
            )
        else:
            trig = (lambda c, e: lambda: epochs_saved(c / "last") >= e)(ckpt, epoch)
        killed = run(tab_cmd(ckpt, save), trig, delay)
        k = epochs_saved(ckpt / "last")
        at = f"epoch {k} saved" if k else "before the first checkpoint"
        resumed = run(tab_cmd(ckpt, save))
        ok, check = (
            (False, resumed["error"]) if resumed["rc"] else tab_compare(ref, save)
        )
        what = "SIGKILL" + (f" (+{delay:.2f}s after epoch {epoch})" if epoch else "")
        rows.append(
            _row("EmbeddingModel, kill then refit", what, at, killed, ok, check)
        )
    return ref


# ---- (c) corrupted and planted files ----------------------------------------------------------
def corruption(work: Path, ft_ref: Path, tab_ref: Path, rows: list) -> None:
    data = work / "corpus.parquet"
    # a finished finetune run whose last classifier checkpoint is truncated
    out = work / "ft-corrupt"
    shutil.copytree(ft_ref, out)
    shutil.copytree(ft_ref.parent / f"{ft_ref.name}-cache", work / "ft-corrupt-cache")
    _truncate(out / "ckpt" / "clas_all" / "model.safetensors")
    res = run(finetune_cmd(data, out, resume=True))
    _refused(rows, "finetune --resume", "truncated ckpt/clas_all/model.safetensors",
             res, "clas_all/model.safetensors", work)  # fmt: skip
    # the final model with one flipped byte, then with a planted pickle
    model = work / "ft-flip"
    shutil.copytree(ft_ref / "model", model)
    _flip(model / "model.safetensors")
    predict = [sys.executable, "-m", "tabtext.nlp.predict", str(model), str(data)]
    _refused(rows, "predict", "1 byte flipped in model/model.safetensors",
             run(predict), "model.safetensors is corrupted", work)  # fmt: skip
    shutil.rmtree(model)
    shutil.copytree(ft_ref / "model", model)
    marker = work / "pwned"
    _plant_pickle(model / "model.pt", marker)
    res = run(predict)
    _refused(rows, "predict", "pickle payload added as model/model.pt", res,
             "model.pt looks like a pickle", work)  # fmt: skip
    rows[-1]["check"] += "; payload never ran" if not marker.exists() else "; RAN!"
    if marker.exists():
        rows[-1]["result"] = "FAIL"
    # an EmbeddingModel checkpoint left by a kill, then damaged
    ckpt, save = work / "tab-corrupt-ckpt", work / "tab-corrupt"
    run(tab_cmd(ckpt, save), lambda: epochs_saved(ckpt / "last") >= 2, 0.0)
    for label, damage, name in (
        ("truncated last/model.safetensors", _truncate, "last/model.safetensors"),
        ("1 byte flipped in last/learner.json", _flip, "last/learner.json"),
    ):
        broken = work / f"tab-corrupt-{name.split('/')[1]}"
        shutil.copytree(ckpt, broken)
        damage(broken / name)
        res = run(tab_cmd(broken, save))
        _refused(rows, "EmbeddingModel refit", label, res, name + " is corrupted", work)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))


def _plant_pickle(path: Path, marker: Path) -> None:
    import io

    import torch

    class Plant:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    buf = io.BytesIO()
    torch.save({"weight": Plant()}, buf)
    path.write_bytes(buf.getvalue())


def _refused(
    rows: list, scenario: str, injected: str, res: dict, expect: str, work: Path
) -> None:
    ok = res["rc"] not in (0, -signal.SIGKILL) and expect in res["error"]
    rows.append(_row(scenario, injected, "load", res, ok, _short(res["error"], work)))


def _short(error: str, work: Path) -> str:
    """The last line of a traceback without the module path or the work folder."""
    head, sep, msg = error.partition(": ")
    text = f"{head.rsplit('.', 1)[-1]}: {msg}" if sep else error
    return text.replace(f"{work}/", "")[:220]


# ---- (d) failing saves -----------------------------------------------------------------------
def failing_saves(work: Path, tab_ref: Path, rows: list) -> None:
    k = 2
    for kind, label in (
        ("efbig", "file size limit (RLIMIT_FSIZE, real EFBIG)"),
        ("enospc", "disk full (ENOSPC on fsync, simulated)"),
        ("eacces", "read-only folder (EACCES)"),
    ):
        ckpt, save = work / f"tab-{kind}-ckpt", work / f"tab-{kind}"
        res = run(tab_cmd(ckpt, save, f"{kind}@{k}"))
        if kind == "eacces" and ckpt.exists():
            ckpt.chmod(0o755)
        if kind == "eacces" and os.geteuid() == 0:
            label += ", simulated: root ignores permissions"
        intact = _intact(ckpt / "last", k)
        clear = (
            "cannot write" in res["error"]
            and "previous version is intact" in (res["error"])
        )
        rerun = run(tab_cmd(ckpt, save))
        same, check = (
            (False, rerun["error"]) if rerun["rc"] else tab_compare(tab_ref, save)
        )
        ok = res["rc"] not in (0, -signal.SIGKILL) and clear and intact and same
        detail = f"{_short(res['error'], work)}; epoch-{k} checkpoint "
        detail += f"{'intact' if intact else 'DAMAGED'}; rerun: {check}"
        rows.append(_row("EmbeddingModel, save fails", label, f"save of epoch {k + 1}",
                         res, ok, detail))  # fmt: skip


def _intact(ckpt: Path, epoch: int) -> bool:
    from tabtext.core.io import read_dir

    try:
        files = read_dir(ckpt)
    except (OSError, ValueError):
        return False
    return json.loads(files["learner.json"])["epochs_done"] == epoch


# ---- report ----------------------------------------------------------------------------------
def _row(scenario, injected, at, res, ok, check) -> dict:
    outcome = "killed" if res.get("killed") else f"exit {res['rc']}"
    return {
        "scenario": scenario,
        "injected": injected,
        "at": at,
        "outcome": f"{outcome} after {res['seconds']:.1f}s",
        "check": check,
        "result": "PASS" if ok else "FAIL",
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=0, help="seeds the kill delays")
    p.add_argument("--work", default=None, help="working folder (default: temporary)")
    p.add_argument("--child-tabular", default=None, help=argparse.SUPPRESS)
    p.add_argument("--ckpt", default=None, help=argparse.SUPPRESS)
    p.add_argument("--fault", default="", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child_tabular:
        child_tabular(args.child_tabular, args.ckpt, args.fault)
        return 0
    work = Path(args.work or tempfile.mkdtemp(prefix="tabtext-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    rows: list[dict] = []
    t0 = time.perf_counter()
    ft_ref = finetune_trials(work, rng, rows)
    tab_ref = tabular_trials(work, rng, rows)
    corruption(work, ft_ref, tab_ref, rows)
    failing_saves(work, tab_ref, rows)
    n_fail = sum(r["result"] != "PASS" for r in rows)
    print(f"## Fault injection (seed {args.seed}, {time.perf_counter() - t0:.0f}s, "
          f"work dir {work})\n")  # fmt: skip
    print(markdown_table(rows, COLUMNS))
    print(f"\n{len(rows) - n_fail}/{len(rows)} scenarios pass")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
