"""``pretrain`` killed between two segment checkpoints; damaged or planted files
where ``finetune``, ``predict`` and ``--pretrained`` read them."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np

from .procs import (
    REPO,
    child_cmd,
    epochs_saved,
    flip,
    kill_checked,
    plant_pickle,
    reference,
    refused,
    row,
    run,
    run_killed,
    same_weights,
    truncate,
)
from .text import finetune_cmd

PT_FLAGS = [
    "--text-col", "text", "--emb-sz", "16", "--n-hid", "24", "--n-layers", "2",
    "--bs", "8", "--bptt", "12", "--max-vocab", "200", "--min-freq", "1",
    "--valid-pct", "0.1", "--epochs", "2", "--ckpt-min", "0.002",
    "--valid-tokens", "300", "--precision", "fp32", "--drop-mult", "0.1", "--quiet",
]  # fmt: skip
SHIPPED = REPO / "tabtext" / "nlp" / "pretrained"


def pretrain_cmd(data: Path, out: Path, resume: bool) -> list[str]:
    cmd = [sys.executable, "-m", "tabtext.nlp.pretrain", "--data", str(data)]
    cmd += ["--out", str(out), "--cache-dir", str(out.parent / "pt-cache")]
    return cmd + PT_FLAGS + (["--resume"] if resume else [])


def pretrain_trial(work: Path, rng: np.random.Generator, rows: list) -> None:
    """Killed between segment k and k+1, resumed: the reference's weights exactly.

    Segments are sized by timing real steps, so the killed run starts with
    ``--resume`` on a folder holding the reference's ``plan.json`` (a fresh
    ``--out`` with ``--resume`` simply starts): the same plan, the same run.
    """
    import json

    data, ref = work / "corpus.parquet", work / "pt-ref"
    res = reference(run(pretrain_cmd(data, ref, False)), "pretrain")
    n_seg = json.loads((ref / "plan.json").read_text())["plan"]["segments"]
    rows.append(row("pretrain reference", "none", f"{n_seg} segments", res, True, ""))
    out = work / "pt-kill"
    out.mkdir()
    shutil.copy(ref / "plan.json", out / "plan.json")
    k = int(rng.integers(1, max(2, n_seg)))
    delay = float(rng.uniform(0, 0.1))
    trig = lambda: epochs_saved(out / "ckpt" / "lm") >= k  # noqa: E731
    killed = run_killed(pretrain_cmd(data, out, True), trig, delay)
    saved = epochs_saved(out / "ckpt" / "lm")
    resumed = run(pretrain_cmd(data, out, True))
    ok, check = (
        (False, f"--resume failed: {resumed['error']}")
        if resumed["rc"]
        else (
            same_weights(
                ref / "model/model.safetensors", out / "model/model.safetensors"
            )
        )
    )
    between = 0 < saved < n_seg
    if not between:
        ok, check = False, f"not between two checkpoints; {check}"
    ok, check = kill_checked(killed, ok, check)
    rows.append(row("pretrain, kill then --resume", f"SIGKILL after segment {k} "
                    f"(+{delay:.2f}s)", f"segment {saved}/{n_seg} saved", killed, ok, check))  # fmt: skip


def shipped_lm_trial(work: Path, rows: list) -> None:
    """The shipped LM with one byte flipped (a copy of the package data)."""
    copy = work / "shipped"
    shutil.copytree(SHIPPED, copy, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    flip(copy / "en_wiki_small" / "model.safetensors")
    cmd = child_cmd("--child-shipped", str(copy), "--", "--data", str(work / "corpus.parquet"),
                    "--out", str(work / "ft-shipped"), "--lm-epochs", "1", "--quiet")  # fmt: skip
    refused(rows, "finetune (shipped LM)", "1 byte flipped in the installed "
            "en_wiki_small/model.safetensors", run(cmd),
            "en_wiki_small/model.safetensors is corrupted", work)  # fmt: skip


def child_shipped(package_data: str, argv: list[str]) -> None:
    """Child: ``finetune`` with the shipped LMs read from ``package_data``."""
    import runpy

    import tabtext.nlp.pretrained as pretrained

    pretrained._HERE = Path(package_data)
    sys.argv = ["finetune", *argv]
    runpy.run_module("tabtext.nlp.finetune", run_name="__main__")


def pretrained_pickle_trial(work: Path, rows: list) -> None:
    """``--pretrained DIR`` with a planted pickle: refused, the payload never runs."""
    lm, marker = work / "lm-pickle", work / "pwned-lm"
    shutil.copytree(SHIPPED / "en_wiki_small", lm)
    plant_pickle(lm / "encoder.pt", marker)
    cmd = finetune_cmd(work / "corpus.parquet", work / "ft-pickle")
    cmd = [c for c in cmd if c != "--no-pretrained"]
    cmd = cmd[: cmd.index("--emb-sz")] + ["--pretrained", str(lm), "--quiet"]
    r = refused(rows, "finetune --pretrained DIR", "pickle payload added as "
                "encoder.pt", run(cmd), "encoder.pt looks like a pickle", work)  # fmt: skip
    _payload_check(r, marker)


def _payload_check(r: dict, marker: Path) -> None:
    ran = marker.exists()
    r["check"] += "; payload RAN!" if ran else "; payload never ran"
    if ran:
        r["result"] = "FAIL"


def finetune_files_trial(work: Path, ft_ref: Path, rows: list) -> None:
    """A finished run's checkpoint truncated; its model flipped, then a pickle."""
    data = work / "corpus.parquet"
    out = work / "ft-corrupt"
    shutil.copytree(ft_ref, out)
    truncate(out / "ckpt" / "clas_all" / "model.safetensors")
    res = run(finetune_cmd(data, out, resume=True))
    refused(rows, "finetune --resume", "truncated ckpt/clas_all/model.safetensors",
            res, "clas_all/model.safetensors", work)  # fmt: skip
    model = work / "ft-flip"
    shutil.copytree(ft_ref / "model", model)
    flip(model / "model.safetensors")
    predict = [sys.executable, "-m", "tabtext.nlp.predict", str(model), str(data)]
    refused(rows, "predict", "1 byte flipped in model/model.safetensors",
            run(predict), "model.safetensors is corrupted", work)  # fmt: skip
    shutil.rmtree(model)
    shutil.copytree(ft_ref / "model", model)
    marker = work / "pwned"
    plant_pickle(model / "model.pt", marker)
    r = refused(rows, "predict", "pickle payload added as model/model.pt",
                run(predict), "model.pt looks like a pickle", work)  # fmt: skip
    _payload_check(r, marker)
