#!/usr/bin/env bash
# Encoder-decoder training throughput, smol vs Debian's python3-torch, on a random-weight
# model of the opus-mt-en-de shape (Marian: d_model 512, 6+6 layers, 8 heads, FFN 2048, vocab
# 58101, shared + tied embeddings), batch 16 pairs of ~64 source and ~64 target tokens, fp32
# and bf16, the same threads, one after the other in this run. Prints one JSON line per run
# (tokens/s = source + target tokens per second, padding not counted; peak RSS).
#   bench/train_seq2seq_compare.sh [BUILD_DIR]   env: THREADS=2 STEPS=2 BATCH=16 LEN=64
#                                                PRECISIONS="fp32 bf16" WORK=/tmp/smol-s2s-bench
# Both run one untimed warm-up step, then STEPS timed steps on the same pairs (AdamW, clipping,
# no dropout). PyTorch (tests/oracle/train_seq2seq_torch.py: float32 eager autograd, bf16 via
# autocast) runs with Debian's OpenBLAS preloaded, as bench/train_compare.sh does.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
THREADS=${THREADS:-2} STEPS=${STEPS:-2} BATCH=${BATCH:-16} LEN=${LEN:-64}
PRECISIONS=${PRECISIONS:-fp32 bf16}
WORK=${WORK:-/tmp/smol-s2s-bench}
OPENBLAS_DIR=/usr/lib/x86_64-linux-gnu/openblas-pthread
cmake --build "$BUILD" --target train_seq2seq_bench >/dev/null
mkdir -p "$WORK"
[ -f "$WORK/model/model.safetensors" ] ||
  /usr/bin/python3 tests/oracle/make_random_model.py --family marian --shape opus-mt-en-de --out "$WORK/model" --dtype f32 >/dev/null
# Pairs of LEN +- 8 tokens ending in </s>, random ids (no pad / eos inside), the same for both.
/usr/bin/python3 - "$WORK/model/config.json" "$WORK/pairs.json" "$BATCH" "$STEPS" "$LEN" <<'PY'
import json, random, sys
cfg, out, batch, steps, length = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
c = json.load(open(cfg))
rng = random.Random(0)
def seq():
    n = rng.randint(length - 8, length + 8)
    ids = [rng.randrange(1, c["vocab_size"] - 1) for _ in range(n - 1)]
    return ids + [c["eos_token_id"]]
n = batch * (steps + 1)
json.dump({"sources": [seq() for _ in range(n)], "targets": [seq() for _ in range(n)]}, open(out, "w"))
PY
common=(--threads "$THREADS" --steps "$STEPS" --batch "$BATCH")
echo "# $(date -u +%FT%TZ) $(nproc) cpus, $(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
for precision in $PRECISIONS; do
  "$BUILD/train_seq2seq_bench" "$WORK/model" "$WORK/pairs.json" "${common[@]}" --precision "$precision"
  if /usr/bin/python3 -c "import torch" 2>/dev/null; then
    env_blas=()
    [ -e "$OPENBLAS_DIR/libblas.so.3" ] && env_blas=(LD_LIBRARY_PATH=$OPENBLAS_DIR OPENBLAS_NUM_THREADS=$THREADS)
    env "${env_blas[@]}" OMP_NUM_THREADS=$THREADS /usr/bin/python3 tests/oracle/train_seq2seq_torch.py \
      "$WORK/model" "$WORK/pairs.json" "${common[@]}" --precision "$precision"
  else
    echo "{\"impl\": \"pytorch\", \"skipped\": \"python3-torch is not installed (apt-get install python3-torch)\"}"
  fi
done
