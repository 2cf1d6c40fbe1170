#!/usr/bin/env bash
# Training throughput, smol vs Debian's python3-torch, on a random-weight model of the
# SmolLM2-135M shape (seq 256, batch 4 by default), fp32 and bf16, the same threads, one after
# the other in this run. Prints one JSON line per run (tokens/s, seconds per step, peak RSS).
#   bench/train_compare.sh [BUILD_DIR]      env: THREADS=2 STEPS=1 LAYERS=30 BATCH=4 SEQ=256
# Each implementation first runs one untimed warm-up step. Note that Debian's torch does its
# float32 matmuls with the reference BLAS it links (see `python3 -c "import torch;
# print(torch.__config__.show())"`), and its bf16 autocast matmuls with oneDNN.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
THREADS=${THREADS:-2} STEPS=${STEPS:-1} LAYERS=${LAYERS:-30} BATCH=${BATCH:-4} SEQ=${SEQ:-256}
cmake --build "$BUILD" --target train_bench >/dev/null
common=(--threads "$THREADS" --steps "$STEPS" --layers "$LAYERS" --batch "$BATCH" --seq-len "$SEQ")
for precision in fp32 bf16; do
  "$BUILD/train_bench" "${common[@]}" --precision "$precision"
  if /usr/bin/python3 -c "import torch" 2>/dev/null; then
    OMP_NUM_THREADS=$THREADS /usr/bin/python3 bench/train_torch.py "${common[@]}" --precision "$precision"
  else
    echo "{\"impl\": \"pytorch\", \"skipped\": \"python3-torch is not installed (apt-get install python3-torch)\"}"
  fi
done
