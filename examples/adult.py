"""Adult census income with entity embeddings (Guo & Berkhahn 2016).

Predicts whether a person earns more than $50K a year from the UCI Adult census
extract (../shared/data/adult). A stratified 20% of ``train.parquet`` is held out; an
:class:`~tabtext.tabular.EmbeddingClassifier` embeds the 8 string columns (workclass,
education, occupation, ...) and standardises the 6 numeric ones. The held-out rows are
passed as ``eval_set`` (``history_`` shows the validation loss per epoch and the best
epoch's weights are kept).

Prints validation accuracy and ROC AUC, the fit time and training rows/s, and writes
the embedding of ``education`` (projected on 2 principal components) to ``<out>/``.

    python examples/adult.py
    python examples/adult.py --quick           # 30% of the rows, 2 epochs: a smoke test

On a machine busy with other work, set OMP_WAIT_POLICY=PASSIVE before running this:
torch's OpenMP threads spin between ops, which can make 2 threads 5-15x slower than
1 there (on a quiet 2-core machine the default policy trains ~2x faster).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
import torch
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split

from tabtext.tabular import EmbeddingClassifier

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "adult"
CONTS = [
    "age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"
]  # fmt: skip
TARGET = "income"


def load(data: Path, quick: bool, seed: int):
    """Stratified 80/20 split of train.parquet: (X_train, X_valid, y_train, y_valid)."""
    frame = pd.read_parquet(data / "train.parquet")
    y = frame.pop(TARGET)
    if quick:
        frame, _, y, _ = train_test_split(
            frame, y, train_size=0.3, stratify=y, random_state=seed
        )
    return train_test_split(frame, y, test_size=0.2, stratify=y, random_state=seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA, help="folder with the parquet")
    ap.add_argument("--out", type=Path, default=Path("out"), help="where plots go")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", type=Path, default=None, help="save the model here")
    ap.add_argument("--quick", action="store_true", help="small subset, 2 epochs")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    X_train, X_valid, y_train, y_valid = load(args.data, args.quick, args.seed)
    cats = [c for c in X_train.columns if c not in CONTS]
    model = EmbeddingClassifier(
        cat_cols=cats,
        cont_cols=CONTS,
        ps=(0.1, 0.1),
        emb_drop=0.1,
        weight_decay=0.1,
        epochs=2 if args.quick else args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        n_iter_no_change=None,
        random_state=args.seed,
        device="cpu",
    )
    start = time.perf_counter()
    model.fit(X_train, y_train, eval_set=(X_valid, y_valid))
    fit_s = time.perf_counter() - start

    proba = model.predict_proba(X_valid)[:, list(model.classes_).index(">50K")]
    epochs = len(model.history_)
    print(model.history_.to_string(index=False))
    print(f"validation accuracy: {accuracy_score(y_valid, model.predict(X_valid)):.4f}")
    print(f"validation ROC AUC:  {roc_auc_score(y_valid == '>50K', proba):.4f}")
    print(
        f"fit: {fit_s:.1f} s for {len(X_train):,} rows x {epochs} epochs = "
        f"{len(X_train) * epochs / fit_s:,.0f} rows/s"
    )
    png = model.plot_embedding("education", args.out / "adult_education.png")
    print(f"plot: {png}")
    if args.save is not None:
        print(f"saved: {model.save(args.save)}")


if __name__ == "__main__":
    main()
