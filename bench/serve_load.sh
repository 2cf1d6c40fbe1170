#!/usr/bin/env bash
# Load test of smol serve with a random-weight model of SmolLM2-135M's shape (see
# serve_load.mjs). Usage: bench/serve_load.sh [BUILD_DIR] [extra serve_load.mjs flags]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
shift || true
SHARED=${SMOL_SHARED:-$(cd .. && pwd)/shared}
[ -d "$SHARED/models" ] || SHARED=/work/shared
MODEL=${SMOL_BENCH_MODEL:-${TMPDIR:-/tmp}/smol-135m-random}
if [ ! -f "$MODEL/model.safetensors" ]; then
  "$BUILD/smol" init --config "$SHARED/models/SmolLM2-135M-Instruct/config.json" --out "$MODEL" >&2
fi
exec node bench/serve_load.mjs --smol "$BUILD/smol" --model "$MODEL" "$@"
