"""Score a labeled (or unlabeled) text file with a trained model:
``python -m tabtext.nlp.predict MODEL_DIR FILE``.

Writes one row per text (``--out``, CSV): ``predicted`` and ``proba_<class>`` per
class (classification); ``predicted`` (the labels joined with the model's
separator, e.g. ``a|b``) and ``proba_<label>`` per label (multilabel);
``predicted``, a number on the label's scale (regression). When the file has labels
it prints the task's metrics: accuracy; micro-F1 and subset accuracy; MAE and RMSE
(``--json``: the metrics as one JSON line). Documents are batched by length; the
only per-review Python work is tokenization. ``--explain why.html`` also writes word
attributions of the first ``--explain-n`` texts (integrated gradients,
:mod:`tabtext.nlp.api.explanation`) as a self-contained HTML page (classification models).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .._cli import HelpFormatter


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tabtext.nlp.predict",
        description=__doc__.split("\n\n")[0],
        formatter_class=HelpFormatter,
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
    from ..core.io import CheckpointError
    from .api.persistence import load_text_model
    from .api.prediction import file_scores, predictions_frame
    from .text.reading import load_texts

    try:
        tm = load_text_model(args.model_dir)
        data = _load(load_texts, args, tm.task)
    except (CheckpointError, ValueError, TypeError) as e:
        parser.error(str(e))
    if args.explain and tm.task.kind != "classification":
        parser.error(f"--explain explains class predictions; this model's task is "
                     f"{tm.task.kind}")  # fmt: skip
    t0 = time.perf_counter()
    outputs = tm.predict_outputs(data.texts, device=args.device)
    seconds = time.perf_counter() - t0
    metrics = {
        "n": len(data.texts),
        "seconds": round(seconds, 2),
        "reviews_per_s": round(len(data.texts) / seconds, 1),
    }
    if data.labels is not None:
        metrics.update(file_scores(tm, outputs, data))
    if args.out:
        from ..core.io import atomic_write_text

        frame = predictions_frame(tm, outputs)
        atomic_write_text(args.out, frame.to_csv(index=False))
    if args.explain:
        from .api.explanation import explain_texts, write_html

        t0 = time.perf_counter()
        texts = data.texts[: args.explain_n]
        explained = explain_texts(
            tm, texts, list(tm.classes), args.explain_steps, device=args.device
        )
        write_html(explained, args.explain)
        metrics["explain_seconds_per_text"] = round(
            (time.perf_counter() - t0) / len(texts), 3
        )
    if args.json:
        print(json.dumps(metrics))
    else:
        shown = "".join(
            f"{k.replace('_', ' ')} {v:.4f}  "
            for k, v in metrics.items()
            if k in ("accuracy", "micro_f1", "subset_accuracy", "mae", "rmse")
        )
        print(
            f"{shown}{metrics['n']} reviews in {seconds:.1f}s "
            f"({metrics['reviews_per_s']:.0f}/s)",
            file=sys.stdout,
        )
        if args.explain:
            print(
                f"explained {min(args.explain_n, len(data.texts))} texts in "
                f"{args.explain} ({metrics['explain_seconds_per_text']:.2f}s each)"
            )
    return metrics


def _load(load_texts, args, task):
    kind, sep = task.kind, task.label_sep
    try:
        return load_texts(args.file, args.text_col, args.label_col, split=args.split,
                          task=kind, label_sep=sep)  # fmt: skip
    except ValueError as e:
        unlabeled = f"no column {args.label_col!r}" in str(e)
        if args.label_col and (unlabeled or "distinct label(s)" in str(e)):
            # no labels, or one class only (not scored, as before)
            return load_texts(args.file, args.text_col, None, split=args.split)
        raise


if __name__ == "__main__":
    main()
