"""ONNX export on real data: onnxruntime against torch, and the tabular predict CLI.

- Adult (../shared/data/adult): an EmbeddingClassifier fitted for ``--epochs`` on a
  stratified 80% of ``train.parquet``, saved, exported; the max absolute difference of
  the class probabilities (onnxruntime against ``predict_proba``) on the held-out 20%,
  the share of equal labels, and both prediction times; then the wall time of
  ``python -m tabtext.tabular.predict MODEL_DIR train.parquet --out ...`` (a fresh
  process: imports, loading, reading, predicting, scoring, writing).
- Text: the shipped LM's encoder (en_wiki_small) under a seeded random classifier head
  (its BatchNorm statistics measured on the reviews), ``quick`` preset's
  ``max_tokens``/``max_len``; the max absolute difference of the
  probabilities on ``--reviews`` IMDB reviews (``encode_texts`` + onnxruntime against
  ``TextModel.predict_proba``) and both times (tokenization excluded).

Everything runs on one thread (torch and onnxruntime). Prints one markdown table.

    python benchmarks/onnx_export.py [--epochs 2] [--reviews 200]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data_dir, markdown_table  # noqa: E402

DATA = data_dir()


def session(path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def adult(tmp: Path, epochs: int) -> list[dict]:
    from tabtext.tabular import EmbeddingClassifier

    frame = pd.read_parquet(DATA / "adult" / "train.parquet")
    X, y = frame.drop(columns="income"), frame["income"]
    Xt, Xv, yt, yv = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    est = EmbeddingClassifier(epochs=epochs, batch_size=512, random_state=0)
    est.fit(Xt, yt)
    est.save(tmp / "adult")
    t0 = time.perf_counter()
    path = est.export_onnx(tmp / "adult.onnx")
    export_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = est.predict_proba(Xv)
    torch_s = time.perf_counter() - t0
    cats, conts = est.preprocessor_.transform(Xv)
    sess = session(path)
    t0 = time.perf_counter()
    proba, idx = sess.run(None, {"cats": cats, "conts": conts})
    ort_s = time.perf_counter() - t0
    cli = [sys.executable, "-m", "tabtext.tabular.predict", str(tmp / "adult")]
    cli += [str(DATA / "adult" / "train.parquet"), "--out", str(tmp / "p.parquet")]
    t0 = time.perf_counter()
    res = subprocess.run([*cli, "--json"], capture_output=True, text=True, check=True)
    cli_s = time.perf_counter() - t0
    m = json.loads(res.stdout)
    return [
        {
            "model": f"Adult EmbeddingClassifier, {epochs} epochs",
            "rows": len(Xv),
            "max abs diff of probabilities": f"{np.abs(proba - ref).max():.2e}",
            "same labels": f"{np.mean(est.classes_[idx] == est.predict(Xv)):.4%}",
            "std of p(class 1)": f"{ref[:, 1].std():.3f}",
            "torch s": f"{torch_s:.3f}",
            "onnxruntime s": f"{ort_s:.3f}",
            "export s": f"{export_s:.1f}",
        },
        {
            "model": "`tabtext.tabular.predict` on all of train.parquet",
            "rows": m["n"],
            "max abs diff of probabilities": "",
            "same labels": f"accuracy {m['accuracy']:.4f}, AUC {m['auc']:.4f}",
            "std of p(class 1)": "",
            "torch s": f"{m['seconds']:.3f} (predict only)",
            "onnxruntime s": "",
            "export s": f"CLI wall {cli_s:.1f}",
        },
    ]


def text(tmp: Path, n_reviews: int) -> dict:
    from tabtext.nlp import (
        TextClassifierModel,
        TextModel,
        Tokenizer,
        encode_texts,
        export_onnx,
        load_lm,
        make_config,
    )
    from tabtext.nlp.pretrained import resolve_pretrained

    lm_dir = resolve_pretrained("auto")
    lm, vocab = load_lm(lm_dir)
    tok = Tokenizer(**json.loads((lm_dir / "config.json").read_text())["tokenizer"])
    cfg = make_config("quick")
    torch.manual_seed(0)
    model = TextClassifierModel(lm.config, 2, cfg.bptt, cfg.max_len)
    model.load_encoder(lm.encoder.state_dict())
    tm = TextModel(model.eval(), vocab, tok, cfg, ["neg", "pos"])
    reviews = pd.read_parquet(DATA / "imdb" / "train.parquet", columns=["text"])
    texts = reviews["text"].sample(n_reviews, random_state=0).tolist()
    docs = tm.numericalize(texts, progress=False)
    ids = encode_texts(tm, texts)
    _calibrate_head(model, ids)
    t0 = time.perf_counter()
    path = export_onnx(tm, tmp / "text.onnx")
    export_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = tm.predict_proba(texts)
    torch_s = time.perf_counter() - t0 - _tokenize_s(tm, texts)
    sess = session(path)
    order = np.argsort([-len(d) for d in docs], kind="stable")  # as predict_docs
    proba = np.empty_like(ref)
    t0 = time.perf_counter()
    for start in range(0, len(order), 64):
        rows = order[start : start + 64]
        width = int(max(min(len(docs[i]), cfg.max_tokens or 10**9) for i in rows))
        proba[rows] = sess.run(None, {"ids": ids[rows, :width]})[0]
    ort_s = time.perf_counter() - t0
    return {
        "model": "en_wiki_small encoder + random head, quick preset",
        "rows": len(texts),
        "max abs diff of probabilities": f"{np.abs(proba - ref).max():.2e}",
        "same labels": f"{np.mean(proba.argmax(1) == ref.argmax(1)):.4%}",
        "std of p(class 1)": f"{ref[:, 1].std():.3f}",
        "torch s": f"{torch_s:.3f}",
        "onnxruntime s": f"{ort_s:.3f}",
        "export s": f"{export_s:.1f}",
    }


def _calibrate_head(model, ids: np.ndarray) -> None:
    """Give the random head's BatchNorm layers the statistics of these reviews and
    larger output weights, so that the probabilities spread (a random head with unit
    statistics gives about 0.5 for every review, a weak comparison)."""
    bns = [m for m in model.head.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    model.eval()
    with torch.no_grad():
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # a cumulative average over the batches
            bn.train()
        for start in range(0, len(ids), 64):
            model(torch.from_numpy(ids[start : start + 64]))
        model.head.layers[-1].weight.mul_(3.0)
    model.eval()


def _tokenize_s(tm, texts) -> float:
    """The time ``predict_proba`` spends tokenizing (measured again: it is cached by
    nothing, so a second run costs the same)."""
    t0 = time.perf_counter()
    tm.numericalize(texts, progress=False)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--reviews", type=int, default=200)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        rows = [*adult(Path(tmp), args.epochs), text(Path(tmp), args.reviews)]
    print(markdown_table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
