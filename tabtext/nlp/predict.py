"""Score a labeled (or unlabeled) text file with a trained classifier:
``python -m tabtext.nlp.predict MODEL_DIR FILE``.

Writes the predicted label and each class' probability per row (``--out``, CSV); when
the file has labels, prints the accuracy (``--json``: the metrics as one JSON line).
Documents are batched by length; the only per-review Python work is tokenization.
``--explain why.html`` also writes word attributions of the first ``--explain-n`` texts
(integrated gradients, :mod:`tabtext.nlp.explain`) as a self-contained HTML page.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tabtext.nlp.predict",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "model_dir", help="output directory of finetune (or its model/ folder)"
    )
    p.add_argument("file", help="parquet or CSV file, or an aclImdb-style folder")
    p.add_argument("--text-col", default="text", help="text column")
    p.add_argument(
        "--label-col",
        default="label",
        help="label column; scored when present in the file",
    )
    p.add_argument("--split", default="test", help="split folder of an aclImdb layout")
    p.add_argument("--out", default=None, help="write predictions to this CSV")
    p.add_argument("--json", action="store_true", help="print metrics as one JSON line")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: auto)")
    p.add_argument(
        "--explain",
        default=None,
        metavar="HTML",
        help="also write word attributions (integrated gradients) of the first "
        "--explain-n texts to this HTML page",
    )
    p.add_argument(
        "--explain-n", type=int, default=20, help="how many texts --explain shows"
    )
    p.add_argument(
        "--explain-steps", type=int, default=32, help="integration steps per text"
    )
    return p


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not Path(args.model_dir).exists():
        parser.error(f"MODEL_DIR {args.model_dir}: no such directory")
    if args.explain_n < 1 or args.explain_steps < 1:
        parser.error("--explain-n and --explain-steps must be >= 1")
    from .loading import load_texts
    from .text_classifier import TextClassifier

    clf = TextClassifier.load(args.model_dir)
    data = _load(load_texts, args)
    t0 = time.perf_counter()
    proba = clf.predict_proba(data.texts, device=args.device)
    seconds = time.perf_counter() - t0
    classes = np.asarray(clf.classes_, dtype=object)
    pred = classes[proba.argmax(1)]
    metrics = {
        "n": len(data.texts),
        "seconds": round(seconds, 2),
        "reviews_per_s": round(len(data.texts) / seconds, 1),
    }
    if data.labels is not None:
        truth = np.asarray(data.classes, dtype=object)[data.labels]
        metrics["accuracy"] = float(np.mean(pred.astype(str) == truth.astype(str)))
    if args.out:
        from ..core.io import atomic_write_text

        frame = pd.DataFrame({"predicted": pred})
        for j, c in enumerate(classes):
            frame[f"proba_{c}"] = proba[:, j]
        atomic_write_text(args.out, frame.to_csv(index=False))
    if args.explain:
        t0 = time.perf_counter()
        texts = data.texts[: args.explain_n]
        clf.explain(texts, args.explain, n_steps=args.explain_steps)
        metrics["explain_seconds_per_text"] = round(
            (time.perf_counter() - t0) / len(texts), 3
        )
    if args.json:
        print(json.dumps(metrics))
    else:
        acc = f"accuracy {metrics['accuracy']:.4f}  " if "accuracy" in metrics else ""
        print(
            f"{acc}{metrics['n']} reviews in {seconds:.1f}s "
            f"({metrics['reviews_per_s']:.0f}/s)",
            file=sys.stdout,
        )
        if args.explain:
            print(
                f"explained {min(args.explain_n, len(data.texts))} texts in "
                f"{args.explain} ({metrics['explain_seconds_per_text']:.2f}s each)"
            )
    return metrics


def _load(load_texts, args):
    try:
        return load_texts(args.file, args.text_col, args.label_col, split=args.split)
    except ValueError as e:
        if args.label_col and args.label_col in str(e):  # an unlabeled file
            return load_texts(args.file, args.text_col, None, split=args.split)
        raise


if __name__ == "__main__":
    main()
