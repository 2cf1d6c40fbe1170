#!/usr/bin/env bash
# Decode speed with a grammar vs without: a random-weight model of SmolLM2-135M's shape
# (bf16, real tokenizer), 2 threads, --temp 1, N tokens, alternating runs so that machine
# noise hits both alike. Prints one line per run and the median tok/s of each mode.
# Usage: bench/grammar_decode.sh [BUILD_DIR] [RUNS=3] [N=128]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-3}
N=${3:-128}
SHARED=${SMOL_SHARED:-$(cd .. && pwd)/shared}
[ -d "$SHARED/models" ] || SHARED=/work/shared
MODEL=${SMOL_BENCH_MODEL:-${TMPDIR:-/tmp}/smol-135m-random}
if [ ! -f "$MODEL/model.safetensors" ]; then
  "$BUILD/smol" init --config "$SHARED/models/SmolLM2-135M-Instruct/config.json" --out "$MODEL" >&2
fi
run() {  # mode seed flags... → tok/s
  local mode=$1 seed=$2
  shift 2
  local err
  err=$("$BUILD/smol" generate -m "$MODEL" -p "Answer in JSON:" -n "$N" --temp 1 --seed "$seed" -t 2 "$@" 2>&1 >/dev/null)
  local line
  line=$(grep -o 'generated [0-9]* tokens in [0-9.]* s ([0-9.]* tok/s)' <<<"$err")
  echo "$mode seed $seed: $line" >&2
  sed -E 's/.*\(([0-9.]+) tok\/s\)/\1/' <<<"$line"
}
declare -A rates
for ((i = 1; i <= RUNS; i++)); do
  rates[free]+="$(run free "$i") "
  rates[json]+="$(run json "$i" --json) "
  rates[schema]+="$(run schema "$i" --json-schema tests/grammars/schemas/01-person.json) "
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
free=$(median "${rates[free]}")
for mode in free json schema; do
  m=$(median "${rates[$mode]}")
  echo "$mode: median $m tok/s ($(awk -v a="$m" -v b="$free" 'BEGIN {printf "%.1f%%", 100 * a / b}') of unconstrained)"
done
