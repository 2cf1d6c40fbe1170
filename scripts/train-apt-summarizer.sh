#!/usr/bin/env bash
# Recipe of models/smol-apt-summarizer: turns a Debian package's long description into its
# one-line synopsis. A Marian-architecture model (d_model 256, 3+3 layers, 4 heads, FFN 1024,
# an English SentencePiece vocabulary of 8000 shared by the encoder, decoder and output
# layer) trained from scratch by smol on apt's Translation-en index, on 2 CPU cores; scored
# against the "first sentence of the description" baseline on the held-out packages.
#   bash scripts/train-apt-summarizer.sh        # ~95 min on 2 cores (training + test decoding)
# Environment: SMOL, CORPUS, THREADS (scripts/apt-seq2seq-lib.sh), WORK (scratch folder),
# STEPS, BATCH.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/apt-seq2seq-lib.sh
WORK=${WORK:-build/apt-summarizer}
STEPS=${STEPS:-11000}
BATCH=${BATCH:-16}
SOURCE_LEN=${SOURCE_LEN:-128}
OUT=models/smol-apt-summarizer
mkdir -p "$WORK"

apt_corpus
SPLIT=$CORPUS/summarize

# The tokenizer learns from the train split alone (descriptions and synopses).
# No repeated trigram in a synopsis (transformers' BART summarizers decode the same way): it
# stops the rare loops of an undertrained model ("A A A A ... assembler").
marian_shape "$WORK/shape" "$SPLIT/train.jsonl" en en 64 3
"$SMOL" init --config "$WORK/shape/config.json" --out "$WORK/init" --seed 1 --dtype f32
VAL=$(pairs_with_validation "$SPLIT" "$WORK/pairs.jsonl")

# bf16 matmuls (fp32 master weights), AdamW, WSD schedule with warmup, label smoothing 0.1,
# dropout 0.1; descriptions cut to their first 128 tokens (the synopsis is about the start;
# 8856 of the 57833 are longer). Validation: the first 1024 pairs of the valid split (by
# package) every 1000 steps. The learning rate is the translator's, with a longer warmup
# (scripts/train-apt-translator.sh says why post-norm Marian needs one).
[ -n "${RESUME:-}" ] || rm -rf "$WORK/run"
"$SMOL" train -m "$WORK/init" --data "$WORK/pairs.jsonl" --out "$WORK/run" -t "$THREADS" \
  --steps "$STEPS" --batch "$BATCH" --lr 6e-4 --schedule wsd --warmup 500 --min-lr 1e-5 \
  --decay-fraction 0.3 --beta2 0.98 --weight-decay 0.01 --grad-clip 1.0 --precision bf16 \
  --label-smoothing 0.1 --dropout 0.1 --max-source-len "$SOURCE_LEN" --max-target-len 64 \
  --val-fraction "$VAL" --eval-every 1000 --eval-batches 64 --save-every 1000 --save-dtype bf16 \
  --seed 1 --log-every 10 ${RESUME:+--resume "$RESUME"}

ship "$WORK/run" "$OUT"
# Held-out scores (ROUGE-1/2/L): beam search as generation_config.json says (4 beams), the
# test descriptions cut as the training ones were; then the first-sentence baseline on the
# same references (the whole description's first sentence).
truncate_sources "$SPLIT/test.source.txt" "$WORK/test.source.txt" "$OUT/source.spm" "$SOURCE_LEN"
"$SMOL" eval-seq2seq -m "$OUT" -f "$WORK/test.source.txt" --refs "$SPLIT/test.target.txt" \
  -o "$WORK/test.hyp.txt" --json -t "$THREADS" --batch 16 > "$OUT/test_scores.json"
"$SMOL" eval-seq2seq --hyps "$SPLIT/test.first-sentence.txt" --refs "$SPLIT/test.target.txt" --json \
  > "$OUT/test_scores.first-sentence-baseline.json"
echo "train-apt-summarizer: wrote $OUT; test: $(cat "$OUT/test_scores.json")"
echo "  first-sentence baseline: $(cat "$OUT/test_scores.first-sentence-baseline.json")"
