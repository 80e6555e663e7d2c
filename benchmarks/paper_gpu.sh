#!/usr/bin/env bash
# The paper-size ULMFiT run for a GPU (issue 10), as one prepared script:
# pretrain the 400/1152/3 AWD-LSTM on Wikipedia within a budget, then
# `finetune --preset paper` on IMDB from it; prints time per stage, tokens/s and
# accuracy as a markdown table. Both stages run with `--resume` (a fresh OUT simply
# starts), so a call cut off by a time limit continues in the next one.
#
#   WIKI=../shared/data/wikipedia IMDB=../shared/data/imdb/train.parquet \
#     PT_MIN=20 OUT=/tmp/paper bash benchmarks/paper_gpu.sh
#
# Knobs (environment): WIKI (a parquet file or folder), IMDB (train.parquet), OUT,
# PT_MIN (pretraining minutes, default 20), DEVICE (default cuda), PT_FLAGS and
# FT_FLAGS (extra flags for pretrain / finetune, e.g. FT_FLAGS="--lm-ft-epochs 2"
# to fit a shorter budget). A CPU smoke run of the same path:
#   DEVICE=cpu PT_MIN=0.3 PT_FLAGS="--max-docs 200 --emb-sz 16 --n-hid 32" \
#     FT_FLAGS="--lm-docs 300 --clas-docs 300 --lm-ft-epochs 1 --clas-epochs 1
#     --max-tokens 64 --max-len 64 --unfreeze 1 --clas-min-steps 0" bash benchmarks/paper_gpu.sh
set -euo pipefail
WIKI=${WIKI:-../shared/data/wikipedia}
IMDB=${IMDB:-../shared/data/imdb/train.parquet}
OUT=${OUT:-/tmp/tabtext_paper}
PT_MIN=${PT_MIN:-20}
DEVICE=${DEVICE:-cuda}
PY=${PYTHON:-python}
mkdir -p "$OUT"

# shellcheck disable=SC2086  # PT_FLAGS / FT_FLAGS are word lists on purpose
$PY -m tabtext.nlp.pretrain --data "$WIKI" --out "$OUT/pretrain" --model paper \
  --budget-min "$PT_MIN" --device "$DEVICE" --export "$OUT/lm" --resume ${PT_FLAGS:-}
# shellcheck disable=SC2086
$PY -m tabtext.nlp.finetune --preset paper --data "$IMDB" --pretrained "$OUT/lm" \
  --device "$DEVICE" --out "$OUT/finetune" --cache-dir "$OUT/cache" --resume ${FT_FLAGS:-}

$PY - "$OUT" <<'EOF'
import json, sys
from pathlib import Path
sys.path.insert(0, "benchmarks")
from _common import markdown_table
out = Path(sys.argv[1])
pt = json.loads((out / "pretrain" / "metrics.json").read_text())
ft = json.loads((out / "finetune" / "metrics.json").read_text())
rows = [{"stage": f"pretrain ({pt['tokens_seen']:,} tokens, {pt['precision']})",
         "wall_s": pt["train_s"], "tokens_per_s": pt["tokens_per_s"],
         "valid_perplexity": pt["valid_perplexity"]}]
rows += [{"stage": name, **ph} for name, ph in ft["phases"].items()]
cols = ["stage", "wall_s", "tokens_per_s", "valid_perplexity", "accuracy"]
print(markdown_table(rows, cols))
print(f"\nvalidation accuracy {ft['valid_accuracy']:.4f} (finetune's 10% split)")
EOF
