"""The Learner's time per batch against a bare PyTorch loop (and fastai's Learner).

Same small MLP, same synthetic data, same AdamW, batch 512, CPU. Prints a markdown table
of seconds per batch and the ratio to the bare loop.

    python benchmarks/core_overhead.py [--fastai-python /tmp/fastai-venv/bin/python]
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from torch import nn

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from _common import markdown_table, peer_python, run_peer  # noqa: E402

N_ROWS, N_IN, BS = 65_536, 32, 512


def make_data(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N_ROWS, N_IN, generator=g)
    y = (x[:, :4].sum(1) + 0.1 * torch.randn(N_ROWS, generator=g)).unsqueeze(1)
    return x, y


def make_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(N_IN, 200),
        nn.ReLU(),
        nn.Linear(200, 100),
        nn.ReLU(),
        nn.Linear(100, 1),
    )


def make_opt(params, lr=1e-3, weight_decay=0.01):
    return torch.optim.AdamW(
        params,
        lr=lr,
        betas=(0.9, 0.99),
        eps=1e-5,
        weight_decay=weight_decay,
        foreach=True,
    )


def bare_loop(epochs: int) -> float:
    x, y = make_data()
    model, g = make_model(), torch.Generator().manual_seed(0)
    opt = make_opt(model.parameters())
    n_batches = 0
    t0 = time.perf_counter()
    for _ in range(epochs):
        idx = torch.randperm(N_ROWS, generator=g)
        for b in range(0, N_ROWS, BS):
            sel = idx[b : b + BS]
            loss = nn.functional.mse_loss(model(x[sel]), y[sel])
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            n_batches += 1
    return (time.perf_counter() - t0) / n_batches


def tabtext_loop(epochs: int) -> float:
    from tabtext.core import Learner, TensorLoader

    x, y = make_data()
    dl = TensorLoader(x, y, batch_size=BS, shuffle=True, seed=0)
    learn = Learner(
        make_model(),
        dl,
        loss_fn=nn.functional.mse_loss,
        opt_func=make_opt,
        device="cpu",
        progress=False,
    )
    t0 = time.perf_counter()
    learn.fit_one_cycle(epochs, 1e-3)
    return (time.perf_counter() - t0) / (epochs * len(dl))


FASTAI_SCRIPT = r"""
import json, os, time, torch
from torch import nn
from fastai.learner import Learner
import fastai.callback.progress, fastai.callback.schedule  # noqa: F401 (patch Learner)
from fastai.data.core import DataLoaders
from fastai.optimizer import Adam
args = json.loads(os.environ["PEER_ARGS"])
torch.set_num_threads(args["threads"])
N, D, BS, E = args["rows"], args["n_in"], args["bs"], args["epochs"]
g = torch.Generator().manual_seed(0)
x = torch.randn(N, D, generator=g)
y = (x[:, :4].sum(1) + 0.1 * torch.randn(N, generator=g)).unsqueeze(1)

class Batches:  # whole-tensor batches, so only fastai's Learner loop is measured
    def __init__(self): self.g = torch.Generator().manual_seed(0)
    def __len__(self): return (N + BS - 1) // BS
    def __iter__(self):
        idx = torch.randperm(N, generator=self.g)
        for b in range(0, N, BS):
            sel = idx[b:b + BS]
            yield x[sel], y[sel]

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(D, 200), nn.ReLU(), nn.Linear(200, 100), nn.ReLU(), nn.Linear(100, 1))
dls = DataLoaders(Batches(), Batches(), device=torch.device("cpu"))
learn = Learner(dls, model, loss_func=nn.functional.mse_loss, opt_func=Adam)
with learn.no_logging(), learn.no_bar():
    learn.fit_one_cycle(1, 1e-3)  # warm-up
    t0 = time.perf_counter()
    learn.fit_one_cycle(E, 1e-3)
    dt = time.perf_counter() - t0
n_batches = E * len(dls.train)
# fastai validates every epoch: subtract its validation time measured separately
t1 = time.perf_counter()
with learn.no_logging(), learn.no_bar():
    for _ in range(E): learn.validate()
dv = time.perf_counter() - t1
print(json.dumps({"per_batch": (dt - dv) / n_batches}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5, help="best of N runs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fastai-python", default=None, help="python of a fastai venv")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    bare_loop(1), tabtext_loop(1)  # warm-up
    bares, ours_ = [], []
    for _ in range(args.repeats):  # interleaved, so a noisy moment hits both loops
        bares.append(bare_loop(args.epochs))
        ours_.append(tabtext_loop(args.epochs))
    bare, ours = min(bares), min(ours_)
    rows = [
        {"loop": "bare PyTorch", "ms/batch": bare * 1e3, "ratio": 1.0},
        {"loop": "tabtext Learner", "ms/batch": ours * 1e3, "ratio": ours / bare},
    ]
    py = peer_python(args.fastai_python)
    if py:
        peer_args = {
            "threads": args.threads,
            "rows": N_ROWS,
            "n_in": N_IN,
            "bs": BS,
            "epochs": args.epochs,
        }
        res = [run_peer(py, FASTAI_SCRIPT, peer_args) for _ in range(args.repeats)]
        res = [r["per_batch"] for r in res if r]
        if res:
            rows.append(
                {
                    "loop": "fastai Learner",
                    "ms/batch": min(res) * 1e3,
                    "ratio": min(res) / bare,
                }
            )
    print(
        f"MLP {N_IN}-200-100-1, batch {BS}, {N_ROWS} rows, {args.epochs} epochs, "
        f"{args.threads} threads, best of {args.repeats}\n"
    )
    print(markdown_table(rows, ["loop", "ms/batch", "ratio"]))


if __name__ == "__main__":
    main()
