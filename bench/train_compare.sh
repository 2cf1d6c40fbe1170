#!/usr/bin/env bash
# Training throughput, smol vs Debian's python3-torch, on a random-weight model of the
# SmolLM2-135M shape (seq 256, batch 4 by default), fp32 and bf16, the same threads, one after
# the other in this run. Prints one JSON line per run (tokens/s, seconds per step, peak RSS).
#   bench/train_compare.sh [BUILD_DIR]      env: THREADS=2 STEPS=1 LAYERS=30 BATCH=4 SEQ=256
#                                           PRECISIONS="fp32 bf16"
# Each implementation first runs one untimed warm-up step. Note that Debian's torch does its
# float32 matmuls with the reference BLAS it links (see `python3 -c "import torch;
# print(torch.__config__.show())"`; "blas" in its JSON line says which one it mapped), and its
# bf16 autocast matmuls with oneDNN. Where Debian's OpenBLAS is installed
# (apt-get install libopenblas0-pthread), torch runs a second time with it preloaded in place
# of the system's libblas.so.3, so the float32 comparison is also made against a tuned BLAS.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
THREADS=${THREADS:-2} STEPS=${STEPS:-1} LAYERS=${LAYERS:-30} BATCH=${BATCH:-4} SEQ=${SEQ:-256}
PRECISIONS=${PRECISIONS:-fp32 bf16}
OPENBLAS_DIR=/usr/lib/x86_64-linux-gnu/openblas-pthread
cmake --build "$BUILD" --target train_bench >/dev/null
common=(--threads "$THREADS" --steps "$STEPS" --layers "$LAYERS" --batch "$BATCH" --seq-len "$SEQ")
echo "# $(date -u +%FT%TZ) $(nproc) cpus, $(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
for precision in $PRECISIONS; do
  "$BUILD/train_bench" "${common[@]}" --precision "$precision"
  if /usr/bin/python3 -c "import torch" 2>/dev/null; then
    OMP_NUM_THREADS=$THREADS /usr/bin/python3 bench/train_torch.py "${common[@]}" --precision "$precision"
    if [ -e "$OPENBLAS_DIR/libblas.so.3" ] && [ "$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)" != "$(readlink -f "$OPENBLAS_DIR/libblas.so.3")" ]; then
      LD_LIBRARY_PATH=$OPENBLAS_DIR OPENBLAS_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS \
        /usr/bin/python3 bench/train_torch.py "${common[@]}" --precision "$precision"
    fi
  else
    echo "{\"impl\": \"pytorch\", \"skipped\": \"python3-torch is not installed (apt-get install python3-torch)\"}"
  fi
done
