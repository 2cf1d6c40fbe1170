#!/usr/bin/env bash
# Recipe of smol's own model (models/smol-kjv-19m): a SmolLM2-architecture model (hidden 256,
# 8 layers, 4 heads / 2 KV heads, tied embeddings, the real SmolLM2 tokenizer) pretrained from
# scratch on the King James Bible (public domain, Debian package bible-kjv-text) on 2 CPU cores.
#   bash scripts/train-own-model.sh            # ~1-1.5 h on 2 cores
# Environment: SMOL (binary, default build/smol), WORK (scratch folder), STEPS, THREADS.
set -euo pipefail
cd "$(dirname "$0")/.."
SMOL=${SMOL:-build/smol}
WORK=${WORK:-build/own-model}
STEPS=${STEPS:-1400}
THREADS=${THREADS:-2}
OUT=models/smol-kjv-19m
mkdir -p "$WORK"

command -v bible >/dev/null || { echo "train-own-model: install the corpus first: apt-get install bible-kjv-text" >&2; exit 1; }
# The whole Bible, one verse per line (verse numbers dropped, wrapped lines joined), a blank
# line and the "Book N" heading before each chapter.
bible "Gen1:1-Rev22:21" | awk '
  /^$/ { next }
  /^[A-Z0-9][A-Za-z0-9 ]* [0-9]+$/ { if (v != "") print v; v = ""; print ""; print $0; next }
  /^  [0-9]+ / { if (v != "") print v; sub(/^  [0-9]+ /, ""); v = $0; next }
  { v = v " " $0 }
  END { if (v != "") print v }' > "$WORK/kjv.txt"

# Shape and tokenizer: our config plus the SmolLM2 tokenizer files.
mkdir -p "$WORK/shape"
cp models/own/config.json "$WORK/shape/"
for f in tokenizer.json tokenizer_config.json special_tokens_map.json; do
  cp models/tiny-random-bf16/"$f" "$WORK/shape/" 2>/dev/null || cp ../shared/models/SmolLM2-135M-Instruct/"$f" "$WORK/shape/"
done
"$SMOL" init --config "$WORK/shape/config.json" --out "$WORK/init" --seed 1 --dtype f32

# 1400 steps x 16 x 256 tokens = 5.7M tokens (about 5.5 epochs of the 1.03M-token corpus);
# WSD schedule as SmolLM2 was trained, bf16 matmuls with fp32 master weights; the last 5% of
# the token stream (the end of Revelation) is held out for validation.
"$SMOL" train -m "$WORK/init" --data "$WORK/kjv.txt" --out "$WORK/run" -t "$THREADS" \
  --steps "$STEPS" --batch 16 --seq-len 256 --lr 2e-3 --schedule wsd --warmup 60 --min-lr 1e-4 \
  --decay-fraction 0.25 --weight-decay 0.1 --grad-clip 1.0 --precision bf16 --save-every 100 \
  --eval-every 100 --eval-batches 8 --val-fraction 0.05 --save-dtype bf16 --seed 1 --log-every 10 \
  ${RESUME:+--resume "$RESUME"}

mkdir -p "$OUT"
cp "$WORK/run"/{config.json,model.safetensors,tokenizer.json,tokenizer_config.json,loss_curve.svg,train_log.jsonl} "$OUT/"
cp "$WORK/run"/generation_config.json "$OUT/" 2>/dev/null || true
echo "train-own-model: wrote $OUT"
