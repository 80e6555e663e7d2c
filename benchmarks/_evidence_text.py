"""Text cells of the evidence report: runs of ``python -m tabtext.nlp.finetune``.

Every cell is one ``finetune`` run in a fresh process on IMDB's ``train.parquet``
(finetune's own 10% validation split), in its own folder under the results directory
(``--resume``d if a killed run left one), with one tokenization cache for all cells.
Most classifiers start from one shared fine-tuned LM (``--lm DIR``: a finetune run's
``OUT/lm``, passed as ``--pretrained DIR --lm-ft-epochs 0``; its ``--max-vocab`` must
be the one that LM was built with, ``SHARED_LM_FLAGS``). ``--smoke`` swaps every cell
to a 400-review slice and a tiny model trained from scratch: it checks the pipeline
end to end in seconds per cell and measures nothing.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
from pathlib import Path

from _common import REPO, data_dir
from _evidence_cells import Cell, Experiment, safe_name
from _evidence_stats import figure, save

SMOKE = False  # these three are set by configure()
SHARED_LM: Path | None = None
RESULTS: Path | None = None
LM = "{LM}"  # placeholder in flags for the shared LM
SHARED_LM_FLAGS = ["--pretrained", LM, "--lm-ft-epochs", "0", "--max-vocab", "30000"]
SMOKE_FLAGS = ("--no-pretrained --emb-sz 16 --n-hid 24 --max-vocab 500 --lm-docs 200 "
               "--bptt 16 --max-tokens 48 --max-len 48 --lm-epochs 1 --lm-ft-epochs 0 "
               "--clas-min-steps 4 --clas-bs 16 --lm-bs 16").split()  # fmt: skip
SMOKE_REVIEWS, SMOKE_MAX_LABELS = 400, 300
DROP_WITH_VALUE = {"--pretrained", "--lm-ft-epochs", "--max-vocab"}


def smoke_flags(flags: list[str]) -> list[str]:
    """``flags`` for the tiny smoke model: LM choices dropped (trained from scratch),
    label counts cut to the slice, the tiny sizes appended."""
    out, skip = [], False
    for i, f in enumerate(flags):
        if skip:
            skip = False
            continue
        if f in DROP_WITH_VALUE:
            skip = True
        elif f == "--max-labels":
            out += [f, str(min(int(flags[i + 1]), SMOKE_MAX_LABELS))]
            skip = True
        elif f != "--no-pretrained":
            out.append(f)
    return out + SMOKE_FLAGS


def resolve(flags: list[str]) -> list[str]:
    """The flags a cell runs with: the shared LM put in, or the smoke swap."""
    if SMOKE:
        return smoke_flags(flags)
    if LM in flags and (SHARED_LM is None or not Path(SHARED_LM).is_dir()):
        raise RuntimeError(
            f"this cell needs the shared fine-tuned LM, got --lm {SHARED_LM}; pass "
            "--lm DIR (a finetune run's OUT/lm, built with --max-vocab 30000)"
        )
    return [str(SHARED_LM) if f == LM else f for f in flags]


@functools.cache
def imdb_data() -> Path:
    """IMDB's labeled reviews, or for --smoke a stratified slice of them."""
    path = data_dir() / "imdb" / "train.parquet"
    if not SMOKE:
        return path
    from imdb import load_imdb

    folder = RESULTS / "smoke_data"
    folder.mkdir(parents=True, exist_ok=True)
    return load_imdb(str(path), SMOKE_REVIEWS, 0, folder)[0]


def run_finetune(exp: str, key: str, flags: list[str], seed: int) -> dict:
    """One finetune run; returns its metrics.json (and the flags it ran with)."""
    out = RESULTS / exp / "runs" / safe_name(key)
    flags = resolve(flags)
    cmd = [sys.executable, "-m", "tabtext.nlp.finetune", "--data", str(imdb_data()),
           "--out", str(out), "--cache-dir", str(RESULTS / "tok_cache"), "--quiet",
           "--seed", str(seed), *flags]  # fmt: skip
    if (out / "config.json").exists():
        cmd.append("--resume")
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"finetune failed ({' '.join(cmd)}): {proc.stderr[-1500:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    prune(out)
    return {"value": metrics["valid_accuracy"], "metrics": metrics, "flags": flags}


def prune(out: Path) -> None:
    """Delete a finished run's weights and checkpoints (tens of MB per run; the
    report needs only its metrics, config and logs)."""
    heavy = [
        p for p in out.rglob("*") if p.name in ("ckpt", "lm", "model") and p.is_dir()
    ]
    for p in heavy:
        shutil.rmtree(p, ignore_errors=True)
    for p in out.rglob("*.safetensors"):
        p.unlink(missing_ok=True)


def variant_cells(variants: dict[str, list[str]]):
    def cells(seeds: int) -> list[Cell]:
        return [Cell(f"{v}/seed={s}", {"v": v, "flags": f, "seed": s})
                for v, f in variants.items() for s in range(seeds)]  # fmt: skip

    return cells


def finetune_runner(exp: str):
    def run(p: dict) -> dict:
        key = f"{p['v']}/seed={p['seed']}"
        return run_finetune(exp, key, p["flags"], p["seed"])

    return run


def bar_plot(rows: list[dict], img: Path, name: str, title: str) -> list[str]:
    """Accuracy per variant (mean ± std) as horizontal bars."""
    pts = [(r["variant"], r["_m"], r["_s"]) for r in rows if r.get("_m") is not None]
    if not pts:
        return []
    fig, (ax,) = figure(1, 6.0, 0.4 * len(pts) + 1.2)
    labels, m, s = zip(*pts)
    ax.barh(range(len(pts)), m, xerr=s)
    ax.set(yticks=range(len(pts)), yticklabels=labels, xlabel="validation accuracy",
           title=title, xlim=(min(m) - 0.02, max(m) + 0.01))  # fmt: skip
    return [save(fig, img, name)]


def text_experiment(name: str, tip: int, title: str, claim: str, setup: str,
                    published: str, variants: dict[str, list[str]], summarize) -> Experiment:  # fmt: skip
    return Experiment(name=name, tip=tip, title=title, claim=claim, setup=setup,
                      published=published, cells=variant_cells(variants),
                      run=finetune_runner(name), summarize=summarize, kind="text")  # fmt: skip


def configure(results: Path, smoke: bool, lm: Path | None) -> None:
    """Where the text cells run, whether as the smoke test, and the shared LM."""
    global RESULTS, SMOKE, SHARED_LM
    RESULTS, SMOKE, SHARED_LM = results, smoke, lm
    imdb_data.cache_clear()
