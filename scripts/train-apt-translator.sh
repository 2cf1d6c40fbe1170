#!/usr/bin/env bash
# Recipe of models/smol-apt-en-de: an English->German translator of Debian package
# descriptions (synopses and long-description paragraphs), a Marian-architecture model
# (d_model 256, 3+3 layers, 4 heads, FFN 1024, one joint en+de SentencePiece vocabulary of
# 8000 shared by the encoder, decoder and output layer) trained from scratch by smol on the
# English/German description pairs of apt's Translation-en/-de indexes, on 2 CPU cores.
#   bash scripts/train-apt-translator.sh        # ~30 min on 2 cores (training + test decoding)
# Environment: SMOL, CORPUS, THREADS (scripts/apt-seq2seq-lib.sh), WORK (scratch folder),
# STEPS, BATCH.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/apt-seq2seq-lib.sh
WORK=${WORK:-build/apt-en-de}
STEPS=${STEPS:-1300}
BATCH=${BATCH:-16}
OUT=models/smol-apt-en-de
mkdir -p "$WORK"

apt_corpus
SPLIT=$CORPUS/translate-en-de

# The tokenizer learns from the train split alone (English sources and German targets).
marian_shape "$WORK/shape" "$SPLIT/train.jsonl" en de 256
"$SMOL" init --config "$WORK/shape/config.json" --out "$WORK/init" --seed 1 --dtype f32
VAL=$(pairs_with_validation "$SPLIT" "$WORK/pairs.jsonl")

# bf16 matmuls (fp32 master weights), AdamW, WSD schedule with warmup, label smoothing 0.1,
# dropout 0.1; pairs of up to 256 tokens a side (41 sources and 61 targets of the 28722 are
# longer and cut). Validation: the first 1024 pairs of the valid split (by package) every 250
# steps. Post-norm (Marian) needs its warmup: with --lr 1e-3 and 100 warmup steps the encoder
# collapsed to one output for every source within 1000 steps (the decoder then wrote the same
# German sentence for all 1651 test sources).
[ -n "${RESUME:-}" ] || rm -rf "$WORK/run"
"$SMOL" train -m "$WORK/init" --data "$WORK/pairs.jsonl" --out "$WORK/run" -t "$THREADS" \
  --steps "$STEPS" --batch "$BATCH" --lr 6e-4 --schedule wsd --warmup 300 --min-lr 1e-5 \
  --decay-fraction 0.3 --beta2 0.98 --weight-decay 0.01 --grad-clip 1.0 --precision bf16 \
  --label-smoothing 0.1 --dropout 0.1 --max-source-len 256 --max-target-len 256 \
  --val-fraction "$VAL" --eval-every 250 --eval-batches 64 --save-every 250 --save-dtype bf16 \
  --seed 1 --log-every 10 ${RESUME:+--resume "$RESUME"}

ship "$WORK/run" "$OUT"
# Held-out scores: beam search as generation_config.json says (4 beams), BLEU and chrF.
"$SMOL" eval-seq2seq -m "$OUT" -f "$SPLIT/test.source.txt" --refs "$SPLIT/test.target.txt" \
  -o "$WORK/test.hyp.txt" --json -t "$THREADS" --batch 16 > "$OUT/test_scores.json"
echo "train-apt-translator: wrote $OUT; test: $(cat "$OUT/test_scores.json")"
