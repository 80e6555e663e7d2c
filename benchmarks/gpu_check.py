"""Correctness of the GPU paths in one short run: precisions, portability, resume, DDP.

On CUDA (else on the CPU, so that the script itself can be tested anywhere):

1. ``pytest -m gpu`` (the CUDA-only tests; all skipped without a GPU).
2. ``EmbeddingClassifier`` and a tiny ULMFiT text classifier (``--no-pretrained``,
   synthetic texts) trained in bf16 and in fp16 (fp16 with its gradient scaler),
   each saved to a model directory.
3. Each saved model loaded in a process that sees no GPU (``CUDA_VISIBLE_DEVICES=""``)
   and its predictions compared with those made in this process on the device.
4. An fp16 ``EmbeddingClassifier`` fit with a checkpoint folder SIGKILLed right after
   its second epoch's checkpoint, then started again: its weights must equal an
   uninterrupted fit's (deterministic algorithms on).
5. ``torchrun --nproc_per_node=1`` on the tabular and the text path, the process
   group on NCCL (Gloo on a CPU). One rank is not "distributed" for tabtext (it
   trains without a process group), so this check's worker counts a group of one
   as distributed: the DDP wrapper, the collectives and the backend really run.

The learners that the estimator and the text stages build are given the precision
under test directly (neither has a precision parameter for fp16 yet). A CPU has no
fp16 LSTM (oneDNN), so there the text path trains in fp32 (bf16 with AVX512-BF16).

    python benchmarks/gpu_check.py --out DIR [--skip-pytest]

Prints a markdown table of checks and writes it (``gpu_check.md``, ``.json``) to
``--out``; exits non-zero if a check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, markdown_table  # noqa: E402
from fault_injection import FT_FLAGS, make_corpus  # noqa: E402

COLUMNS = ["check", "path", "precision", "detail", "seconds", "result"]
TEXT_FLAGS = [*FT_FLAGS, "--no-pretrained", "--clas-min-steps", "0"]
TEXT_FLAGS += ["--clas-lr-full-at", "0", "--lm-epochs", "1", "--lm-ft-epochs", "1"]
# cuBLAS is deterministic only with a fixed workspace (for the kill + resume check)
ENV = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
ENV["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
# tabular predicts in float64 on the CPU anywhere; text on CUDA in bf16 (to fp32 on a
# CPU), or on a CPU in fp32 both times (thread counts may differ in the last bits)
TAB_TOL, TEXT_TOL, CPU_TOL = 1e-9, 0.03, 1e-5


# ---- the runs ----------------------------------------------------------------------------
@contextlib.contextmanager
def forced_precision(mp: str, seen: list):
    """Every Learner that the tabular estimator and the text stages build trains in
    ``mp``; ``seen`` collects them (to report their dtype and scaler)."""
    import tabtext.nlp.training.learners as stages
    import tabtext.tabular.training as training
    from tabtext.core import Learner

    def make(*args, **kwargs):
        learn = Learner(*args, **{**kwargs, "mixed_precision": mp})
        seen.append(learn)
        return learn

    modules = (stages, training)
    for m in modules:
        m.Learner = make
    try:
        yield
    finally:
        for m in modules:
            m.Learner = Learner


def table(n: int, seed: int):
    import pandas as pd

    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 5, n), rng.integers(0, 20, n)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    logit = np.linspace(-2, 2, 5)[a] + np.random.default_rng(9).normal(size=20)[b]
    y = (logit + 2 * x1 - x2**2 + rng.logistic(size=n) * 0.5 > 0).astype(int)
    frame = pd.DataFrame({"a": [f"a{v}" for v in a], "b": [f"b{v}" for v in b]})
    return frame.assign(x1=x1, x2=x2), y


def fit_tabular(device: str, mp: str, ckpt: str | None = None, epochs: int = 4):
    from tabtext.tabular import EmbeddingClassifier

    seen: list = []
    X, y = table(2000, seed=0)
    est = EmbeddingClassifier(
        layers=(32, 16), ps=(0.0, 0.0), epochs=epochs, lr=1e-2, batch_size=64,
        random_state=0, device=device, checkpoint_dir=ckpt,
    )  # fmt: skip
    with forced_precision(mp, seen):
        est.fit(X, y)
    Xt, yt = table(500, seed=1)
    return est, Xt, float((est.predict(Xt) == yt).mean()), seen


def fit_text(device: str, mp: str, data: Path, out: Path, extra=()) -> tuple:
    from tabtext.nlp import finetune

    seen: list = []
    args = ["--data", str(data), "--out", str(out), "--device", device, *TEXT_FLAGS]
    with forced_precision(mp, seen):
        metrics = finetune.main([*args, "--cache-dir", str(out) + "-cache", *extra])
    return metrics, seen


def _trained(seen: list) -> str:
    """How the last learner trained: its dtype, and fp16's final loss scale."""
    learn = seen[-1]
    dtype = str(learn.mixed_precision or "float32").replace("torch.", "")
    scaler = learn.scaler
    return dtype + ("" if scaler is None else f", scale {scaler.get_scale():g}")


# ---- the checks --------------------------------------------------------------------------
class Checks:
    def __init__(self):
        self.rows: list[dict] = []

    @contextlib.contextmanager
    def check(self, name: str, path: str = "", precision: str = ""):
        row = {"check": name, "path": path, "precision": precision, "result": "FAIL"}
        t0 = time.perf_counter()
        try:
            yield row
        except Exception as e:  # one failed check must not hide the others
            row["detail"] = f"{type(e).__name__}: {str(e)[-300:]}".replace("\n", " ")
            row["ok"] = False
        row["seconds"] = round(time.perf_counter() - t0, 1)
        row["result"] = "pass" if row.get("ok") else "FAIL"
        self.rows.append(row)
        print(f"{row['result']:>4}  {name} {path} {precision}: {row.get('detail')}")


def run_pytest(checks: Checks) -> None:
    with checks.check("pytest -m gpu") as row:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "tests", "-p", "no:cacheprovider"],
            cwd=REPO, env=ENV, capture_output=True, text=True, timeout=240,
        )  # fmt: skip
        lines = proc.stdout.strip().splitlines()
        row["detail"] = lines[-1] if lines else proc.stderr[-300:]
        row["ok"] = proc.returncode in (0, 5)  # 5: every test deselected


def train_and_save(checks, device, precisions, work: Path) -> dict:
    """Fit both models per precision on ``device``; their predictions there."""
    data = work / "texts.parquet"
    make_corpus(data, n=400)
    texts = __import__("pandas").read_parquet(data)["text"].tolist()[:200]
    saved = {}
    for mp in precisions["tabular"]:
        with checks.check("train + save", "tabular", mp) as row:
            est, Xt, acc, seen = fit_tabular(device, mp)
            est.save(work / f"tab_{mp}")
            saved[f"tab_{mp}"] = est.predict_proba(Xt)
            row["detail"] = f"accuracy {acc:.3f}; trained in {_trained(seen)}"
            row["ok"] = acc > 0.75
    for mp in precisions["text"]:
        with checks.check("train + save", "text", mp) as row:
            metrics, seen = fit_text(device, mp, data, work / f"text_{mp}")
            from tabtext.nlp import load_text_model

            model = load_text_model(work / f"text_{mp}" / "model")
            saved[f"text_{mp}"] = model.predict_proba(texts, device=device)
            acc = metrics["valid_accuracy"]
            row["detail"] = f"accuracy {acc:.3f}; trained in {_trained(seen)}"
            row["ok"] = acc > 0.8
    for name, probs in saved.items():
        np.save(work / f"{name}.device.npy", probs)
    return saved


def compare_on_cpu(checks, device, saved: dict, work: Path) -> None:
    """Load every saved model in a process without a GPU; compare predictions."""
    with checks.check("load without GPU", "all", "") as row:
        env = {**ENV, "CUDA_VISIBLE_DEVICES": ""}
        cmd = [sys.executable, __file__, "--worker", "predict", str(work)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stderr[-1000:]
        row["detail"] = proc.stdout.strip().splitlines()[-1]
        row["ok"] = "cuda False" in row["detail"]
    for name, probs in saved.items():
        path, mp = name.split("_", 1)
        path = "tabular" if path == "tab" else path
        with checks.check("same predictions on a CPU", path, mp) as row:
            cpu = np.load(work / f"{name}.cpu.npy")
            diff = float(np.abs(cpu - probs).max())
            same = float((cpu.argmax(1) == probs.argmax(1)).mean())
            tol = (
                TAB_TOL
                if path == "tabular"
                else (CPU_TOL if device == "cpu" else TEXT_TOL)
            )
            row["detail"] = (
                f"max abs diff {diff:.2e} (tol {tol:g}); same class {same:.3f}"
            )
            row["ok"] = diff <= tol and same >= 0.98


def kill_and_resume(checks, device: str, mp: str, work: Path) -> None:
    """A fit SIGKILLed after epoch 2's checkpoint, rerun: the same weights."""
    with checks.check("kill + resume", "tabular", mp) as row:
        runs = {}
        for name, kill in (("full", 0), ("killed", 2), ("resumed", 0)):
            ckpt = work / ("ckpt_full" if name == "full" else "ckpt_kill")
            cmd = [sys.executable, __file__, "--worker", "fit", device, mp, str(ckpt)]
            cmd += [str(work / f"fit_{name}"), str(kill)]
            runs[name] = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
        assert runs["killed"].returncode == -signal.SIGKILL, runs["killed"].stderr
        for name in ("full", "resumed"):
            assert runs[name].returncode == 0, runs[name].stderr[-1000:]
        ran = [runs[n].stdout.split()[-1] for n in ("full", "resumed")]
        diff = _weight_diff(work / "fit_full", work / "fit_resumed")
        row["detail"] = (
            f"killed after epoch 2 of 4, {ran[1]} epochs resumed (uninterrupted: "
            f"{ran[0]}); max abs weight diff {diff:g}"
        )
        row["ok"] = diff == 0.0 and ran == ["4", "2"]


def _weight_diff(a: Path, b: Path) -> float:
    from safetensors.torch import load_file

    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys()
    return max(float((wa[k].double() - wb[k].double()).abs().max()) for k in wa)


def torchrun(checks, device: str, precisions: dict, work: Path) -> None:
    """One rank under torchrun on each path, its process group on the device."""
    backend = "nccl" if device == "cuda" else "gloo"
    for path in ("tabular", "text"):
        mp = precisions[path][-1]
        with checks.check(f"torchrun 1 proc, {backend}", path, mp) as row:
            out = work / f"ddp_{path}"
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
            cmd += ["--nproc_per_node=1", __file__, "--worker", "ddp", path, device]
            cmd += [mp, str(out)]
            proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
            assert proc.returncode == 0, proc.stderr[-1500:]
            rep = json.loads((out.parent / f"{out.name}.json").read_text())
            row["detail"] = (
                f"backend {rep['backend']}, DDP {rep['ddp']}, "
                f"accuracy {rep['accuracy']:.3f}"
            )
            row["ok"] = (
                rep["backend"] == backend and rep["ddp"] and rep["accuracy"] > 0.75
            )


# ---- the workers (subprocesses) --------------------------------------------------------
def worker_predict(work: Path) -> None:
    import torch

    from tabtext.nlp import load_text_model
    from tabtext.tabular import EmbeddingClassifier

    texts = __import__("pandas").read_parquet(work / "texts.parquet")["text"]
    for f in sorted(work.glob("*.device.npy")):
        name = f.name.split(".")[0]
        if name.startswith("tab_"):
            probs = EmbeddingClassifier.load(work / name).predict_proba(
                table(500, 1)[0]
            )
        else:
            model = load_text_model(work / name / "model")
            probs = model.predict_proba(texts.tolist()[:200], device="cpu")
        np.save(work / f"{name}.cpu.npy", probs)
    print(f"cuda {torch.cuda.is_available()}")


def worker_fit(device: str, mp: str, ckpt: str, save: str, kill_after: str) -> None:
    """Fit (deterministic kernels) and save; SIGKILL self after epoch ``kill_after``."""
    import torch

    from tabtext.core import Checkpoint

    torch.use_deterministic_algorithms(True, warn_only=True)
    after_epoch, epochs = Checkpoint.after_epoch, []

    def counting(self, learn):
        after_epoch(self, learn)
        epochs.append(learn.epoch)
        if learn.epoch + 1 == int(kill_after):
            os.kill(os.getpid(), signal.SIGKILL)

    Checkpoint.after_epoch = counting
    est = fit_tabular(device, mp, ckpt)[0]
    est.save(save)
    print(f"epochs run {len(epochs)}")  # a resumed fit runs only those left


def worker_ddp(path: str, device: str, mp: str, out: str) -> None:
    """Under torchrun: a group of one counts as distributed (see the module doc)."""
    import torch.distributed as dist

    from tabtext.core import distributed

    distributed.launched = lambda: True
    distributed.active = distributed.initialized
    if path == "tabular":
        acc, seen = fit_tabular(device, mp)[2:]
    else:
        data = Path(out + ".parquet")
        make_corpus(data, n=400)
        metrics, seen = fit_text(device, mp, data, Path(out))
        acc = metrics["valid_accuracy"]
    ddp = all(type(lrn._ddp).__name__ == "DistributedDataParallel" for lrn in seen)
    report = {"backend": dist.get_backend(), "ddp": ddp, "accuracy": acc}
    Path(out + ".json").write_text(json.dumps(report))


# ---- main --------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        workers = {"predict": worker_predict, "fit": worker_fit, "ddp": worker_ddp}
        workers[argv[1]](*(Path(a) if argv[1] == "predict" else a for a in argv[2:]))
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="folder for the table and the runs")
    p.add_argument("--skip-pytest", action="store_true", help="skip pytest -m gpu")
    args = p.parse_args(argv)
    import torch

    from tabtext.core.precision import cpu_has_bf16

    device = "cuda" if torch.cuda.is_available() else "cpu"
    text = (
        ["bf16", "fp16"] if device == "cuda" else ["bf16" if cpu_has_bf16() else "fp32"]
    )
    precisions = {"tabular": ["bf16", "fp16"], "text": text}
    work = Path(args.out) / "runs"
    work.mkdir(parents=True, exist_ok=True)
    t0, checks = time.perf_counter(), Checks()
    if not args.skip_pytest:
        run_pytest(checks)
    saved = train_and_save(checks, device, precisions, work)
    compare_on_cpu(checks, device, saved, work)
    kill_and_resume(checks, device, "fp16", work)
    torchrun(checks, device, precisions, work)
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    head = f"gpu_check on {name} (torch {torch.__version__}), "
    head += f"{time.perf_counter() - t0:.0f} s\n\n"
    md = head + markdown_table(checks.rows, COLUMNS)
    print("\n" + md)
    (Path(args.out) / "gpu_check.md").write_text(md + "\n")
    (Path(args.out) / "gpu_check.json").write_text(json.dumps(checks.rows, indent=1))
    return 0 if all(r["ok"] for r in checks.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
