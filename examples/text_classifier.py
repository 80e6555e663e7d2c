"""Your own CSV -> a ULMFiT text classifier -> predictions -> explanations.

Reads a CSV file with a text column and a label column (``--csv``; without it, a CSV
is written from IMDB's ``train.parquet`` in ../shared/data/imdb, as a stand-in for
yours), holds out 20% of the rows, fine-tunes a :class:`~tabtext.nlp.TextClassifier`
from the shipped English LM, prints the held-out accuracy, writes the predictions to
``<out>/predictions.csv`` and an explanation page of a few texts to ``<out>/why.html``,
and saves the model to ``<out>/model``.

    python examples/text_classifier.py --csv my_reviews.csv --text-col review --label-col stars
    python examples/text_classifier.py                      # IMDB, 5,000 reviews
    python examples/text_classifier.py --quick              # 300 review openings, a tiny model
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from tabtext.nlp import TextClassifier

IMDB = Path(__file__).resolve().parents[2] / "shared" / "data" / "imdb"

#: --quick: a tiny LM trained from the texts themselves, a few steps of each stage
QUICK = dict(
    emb_sz=16, n_hid=24, n_layers=2, max_vocab=2000, min_freq=2, max_tokens=64,
    max_len=64, bptt=16, lm_bs=16, clas_bs=32, lm_ft_epochs=0, clas_min_steps=0,
    clas_lr_full_at=0,
)  # fmt: skip


def stand_in_csv(out: Path, n: int, chars: int | None = None) -> Path:
    """A CSV of ``n`` IMDB reviews (text, label), as if it were the user's own file;
    ``chars``: keep only the opening of each review."""
    frame = pd.read_parquet(IMDB / "train.parquet", columns=["text", "label"])
    frame = frame.sample(n, random_state=0)
    frame["text"] = frame["text"].str[:chars]
    path = out / "reviews.csv"
    frame.to_csv(path, index=False)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, default=None, help="your labeled texts")
    ap.add_argument("--text-col", default="text")
    ap.add_argument("--label-col", default="label")
    ap.add_argument("--out", type=Path, default=Path("out/text_classifier"))
    ap.add_argument("--preset", default="quick", choices=("quick", "cpu", "paper"))
    ap.add_argument("--rows", type=int, default=5000, help="IMDB reviews without --csv")
    ap.add_argument("--quick", action="store_true", help="300 texts, a tiny model")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    quick = dict(n=300, chars=400) if args.quick else dict(n=args.rows)
    csv = args.csv or stand_in_csv(args.out, **quick)
    frame = pd.read_csv(csv)
    texts, labels = frame[args.text_col].astype(str), frame[args.label_col]
    X_tr, X_te, y_tr, y_te = train_test_split(
        texts, labels, test_size=0.2, stratify=labels, random_state=0
    )

    clf = TextClassifier(
        args.preset,
        overrides=QUICK if args.quick else None,
        pretrained=None if args.quick else "auto",
        work_dir=str(args.out / "work"),
        verbose=1,
    )
    clf.fit(X_tr, y_tr)
    pred = clf.predict(X_te)
    print(
        f"held-out accuracy: {(pred == y_te.to_numpy()).mean():.4f} on {len(y_te)} texts"
    )

    proba = clf.predict_proba(X_te)
    result = pd.DataFrame({"text": X_te, "label": y_te, "predicted": pred})
    for i, cls in enumerate(clf.classes_):
        result[f"proba_{cls}"] = proba[:, i]
    result.to_csv(args.out / "predictions.csv", index=False)

    explanations = clf.explain(list(X_te[:3]), args.out / "why.html")
    for ex in explanations:
        scored = [(s, w) for w, s in zip(ex.words, ex.word_scores) if s == s]
        top = [w for _, w in sorted(scored, reverse=True)[:5]]
        print(f"{ex.label} ({ex.proba:.2f}): strongest words {top}")
    print(f"predictions: {args.out / 'predictions.csv'}; page: {args.out / 'why.html'}")
    print(f"model: {clf.save(args.out / 'model')}")


if __name__ == "__main__":
    main()
