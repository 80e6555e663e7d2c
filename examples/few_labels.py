"""Few labels and many unlabeled texts: ULMFiT with self-training on IMDB.

Keeps ``--labels`` labeled reviews of IMDB's ``train.parquet`` (class-balanced) and
adds the reviews of ``unsup.parquet`` as unlabeled texts: they join the vocabulary and
the language model's fine-tuning, and self-training then lets the classifier label the
texts it is surest of and train again on them. Prints the validation metrics (the
results page compares them with TF-IDF + logistic regression on the same labels).

    python examples/few_labels.py --labels 1000
    python examples/few_labels.py --labels 100 --self-train 2000 --rounds 2
    python examples/few_labels.py --quick          # 400 review openings, a tiny model
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from tabtext.nlp import load_texts, make_config, run_ulmfit

IMDB = Path(__file__).resolve().parents[2] / "shared" / "data" / "imdb"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=IMDB)
    ap.add_argument("--labels", type=int, default=1000, help="labeled reviews kept")
    ap.add_argument(
        "--self-train", type=int, default=2000, help="pseudo-labels per class"
    )
    ap.add_argument("--rounds", type=int, default=2, help="self-training rounds")
    ap.add_argument("--out", type=Path, default=Path("out/few_labels"))
    ap.add_argument(
        "--quick", action="store_true", help="400 review openings, a tiny model"
    )
    args = ap.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    source = args.data / "train.parquet"
    unlabeled = pd.read_parquet(args.data / "unsup.parquet", columns=["text"])["text"]
    overrides = dict(
        max_labels=args.labels, self_train=args.self_train,
        self_train_rounds=args.rounds, lm_docs=None,
    )  # fmt: skip
    if args.quick:
        sample = pd.read_parquet(source).sample(400, random_state=0)
        sample["text"] = sample["text"].str[:400]  # the opening of each review
        source = args.out / "sample.parquet"
        sample.to_parquet(source)
        unlabeled = unlabeled[:200].str[:400]
        overrides.update(
            max_labels=min(args.labels, 100), self_train=40, self_train_pool=200,
            self_train_rounds=1, emb_sz=16, n_hid=24, n_layers=2, max_vocab=2000,
            min_freq=2, max_tokens=64, max_len=64, bptt=16, lm_bs=16,
            lm_ft_epochs=0, clas_min_steps=20,
        )  # fmt: skip
    cfg = make_config("quick", **overrides)
    metrics = run_ulmfit(
        load_texts(source),
        None,  # finetune's stratified 10% validation split
        cfg,
        args.out,
        pretrained=None if args.quick else "auto",
        unlabeled=list(unlabeled),
        progress="lines",
    )
    print(json.dumps({k: v for k, v in metrics.items() if k != "phases"}, indent=1))
    print(f"model: {args.out / 'model'} (TextClassifier.load or tabtext.nlp.predict)")


if __name__ == "__main__":
    main()
