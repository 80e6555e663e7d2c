"""The language-model half of ``text_pipeline.py``, fastai's side (peer interpreter).

Both scripts build fastai's small config (``awd_lstm_lm_config`` with emb 200, hidden
400, 2 layers: tied full softmax) the way ``language_model_learner`` does (an
``LMLearner`` with its AR/TAR and reset callbacks, ``awd_lstm_lm_split``), and time
training with a callback like tabtext's ``TrainClock``: training time only, warm-up
batches excluded, ``CancelFitException`` to stop.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
from _common import run_peer

_PRELUDE = """
import json, math, os, time
args = json.loads(os.environ["PEER_ARGS"])
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np, torch
import torch.nn.functional as F
torch.set_num_threads(args["threads"])
import fastai.callback.schedule  # noqa: F401  (patches Learner.fit_one_cycle)
from fastai.callback.core import Callback, CancelFitException
from fastai.callback.training import GradientClip
from fastai.data.core import DataLoaders
from fastai.losses import CrossEntropyLossFlat
from fastai.text.data import LMDataLoader
from fastai.text.learner import LMLearner
from fastai.text.models.awdlstm import AWD_LSTM, awd_lstm_lm_config, awd_lstm_lm_split
from fastai.text.models.core import get_language_model

class Clock(Callback):
    order = 0  # before ParamScheduler (60), which reads learn.pct_train
    def __init__(self, warmup=0, n_timed=None, budget=None):
        self.warmup, self.n_timed, self.budget = warmup, n_timed, budget
        self.elapsed, self.n, self.tokens, self.t_start = 0.0, 0, 0, 0.0
        self.seconds, self.mark = None, None
    def now(self):
        return self.elapsed + (0.0 if self.mark is None else time.perf_counter() - self.mark)
    def before_train(self): self.mark = time.perf_counter()
    def after_train(self): self.elapsed, self.mark = self.now(), None
    def stop(self):
        self.seconds = self.now() - self.t_start
        raise CancelFitException()
    def before_batch(self):
        if not self.learn.training or self.budget is None: return
        spent = self.now()
        if spent >= self.budget: self.stop()
        self.learn.pct_train = spent / self.budget  # the 1cycle ends with the budget
    def after_batch(self):
        if not self.learn.training: return
        self.n += 1
        if self.n == self.warmup: self.t_start = self.now()
        elif self.n > self.warmup: self.tokens += self.learn.xb[0].numel()
        if self.n_timed is not None and self.n == self.warmup + self.n_timed: self.stop()

def small_config():
    return dict(awd_lstm_lm_config, emb_sz=200, n_hid=400, n_layers=2)

def learner(train_docs, valid_docs, vocab_sz, drop_mult, clock, extra=()):
    torch.manual_seed(0)
    trn = LMDataLoader(train_docs, bs=args["bs"], seq_len=args["bptt"], shuffle=True)
    val = LMDataLoader(valid_docs, bs=args["bs"], seq_len=args["bptt"])
    model = get_language_model(AWD_LSTM, vocab_sz, config=small_config(),
                               drop_mult=drop_mult)
    return LMLearner(DataLoaders(trn, val), model, loss_func=CrossEntropyLossFlat(),
                     splitter=awd_lstm_lm_split, cbs=[clock, *extra])

def n_params(model):
    return sum(p.numel() for p in model.parameters())  # tied decoder counted once
"""

FASTAI_LM_THROUGHPUT = (
    _PRELUDE
    + """
data = np.load(args["ids"])
ids, offsets = data["ids"].astype(np.int64), data["offsets"]
docs = [torch.from_numpy(ids[a:b]) for a, b in zip(offsets[:-1], offsets[1:])]
clock = Clock(args["warmup"], args["n_timed"])
learn = learner(docs, docs[:50], args["vocab"], 1.0, clock)
with learn.no_bar(), learn.no_logging():
    learn.fit(10_000, 1e-3)
print()
print(json.dumps({"tokens/s": clock.tokens / clock.seconds, "params": n_params(learn.model),
                  "batches": args["n_timed"]}))
"""
)

FASTAI_LM_BUDGET = (
    _PRELUDE
    + """
from collections import Counter
import pandas as pd
from fastai.text.core import tokenize_df
from fastai.text.data import make_vocab
df = pd.read_parquet(args["texts"])
t0 = time.perf_counter()
toks, _ = tokenize_df(df[["text"]], text_cols="text", n_workers=args["n_workers"])
tok_s = time.perf_counter() - t0
is_valid = df["is_valid"].to_numpy()
toks = list(toks["text"])
count = Counter(t for doc, v in zip(toks, is_valid) if not v for t in doc)
vocab = make_vocab(count, min_freq=args["min_freq"], max_vocab=args["max_vocab"])
o2i = {w: i for i, w in enumerate(vocab) if w != "xxfake"}  # as Numericalize; 0 = xxunk
num = [torch.tensor([o2i.get(t, 0) for t in doc]) for doc in toks]
train = [d for d, v in zip(num, is_valid) if not v]
valid = [d for d, v in zip(num, is_valid) if v]
clock = Clock(budget=args["budget_s"])
learn = learner(train, valid, len(vocab), args["drop_mult"], clock,
                [GradientClip(args["clip"])])
with learn.no_bar(), learn.no_logging():
    learn.fit_one_cycle(10_000, args["lr"], moms=tuple(args["moms"]), wd=args["wd"])
seconds = clock.seconds if clock.seconds is not None else clock.now()
model = learn.model.eval()
model.reset()
nll, n = 0.0, 0
with torch.no_grad():
    for xb, yb in learn.dls.valid:
        out = model(xb.as_subclass(torch.Tensor))[0]
        y = yb.as_subclass(torch.Tensor).reshape(-1)
        nll += F.cross_entropy(out.reshape(-1, out.size(-1)).float(), y, reduction="sum").item()
        n += y.numel()
n_valid = sum(len(d) for d in valid)
unk = sum(int((d == 0).sum()) for d in valid)
print()
print(json.dumps({"train tokens": clock.tokens, "train s": seconds,
                  "tokens/s": clock.tokens / seconds, "nll": nll, "targets": n,
                  "vocab": len(vocab), "valid tokens": n_valid, "unk": unk,
                  "tokenize s": tok_s, "params": n_params(model)}))
"""
)


def fastai_throughput(
    python: str, ids, offsets, vocab: int, common: dict
) -> dict | None:
    """fastai's small config on the same token-id documents as tabtext's rows."""
    with tempfile.TemporaryDirectory(prefix="tabtext-bench-") as tmp:
        path = Path(tmp) / "ids.npz"
        np.savez(path, ids=np.asarray(ids), offsets=np.asarray(offsets))
        args = dict(common, ids=str(path), vocab=vocab)
        return run_peer(python, FASTAI_LM_THROUGHPUT, args)


def fastai_budget(
    python: str, train_texts: list[str], valid_texts: list[str], common: dict
) -> dict | None:
    """fastai tokenizes, builds its vocabulary on the training texts, trains, evaluates."""
    import pandas as pd

    df = pd.DataFrame(
        {
            "text": list(train_texts) + list(valid_texts),
            "is_valid": [False] * len(train_texts) + [True] * len(valid_texts),
        }
    )
    with tempfile.TemporaryDirectory(prefix="tabtext-bench-") as tmp:
        path = Path(tmp) / "texts.parquet"
        df.to_parquet(path)
        args = dict(common, texts=str(path))
        json.dumps(args)  # fail here, not in the peer, on an unserialisable value
        return run_peer(python, FASTAI_LM_BUDGET, args, timeout=4 * 3600)
