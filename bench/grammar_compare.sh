#!/usr/bin/env bash
# Grammar-constrained decode, smol vs llama.cpp, in one run: a random-weight model of
# SmolLM2-135M's shape (real tokenizer) converted once to a Q8_0 GGUF that both engines read,
# 2 threads, --temp 1, up to N tokens after the prompt "Answer in JSON:", unconstrained and
# under the same GBNF file (tests/grammars/json.gbnf; smol's --json-schema of
# tests/grammars/schemas/01-person.json too). Runs alternate between the modes so machine noise
# hits all alike; prints each run and then, per mode, the median tok/s and the share of the
# same engine's unconstrained speed. llama.cpp is driven by bench/peers/llamacpp_grammar_bench.cpp
# (its prebuilt libraries from ../shared/peers, applying the grammar as llama.cpp's
# common_sampler does: check the drawn token first, mask and redraw only when refused).
# Usage: bench/grammar_compare.sh [BUILD_DIR] [RUNS=5] [N=256]      env: THREADS=2 WORK=/tmp/...
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-5}
N=${3:-256}
THREADS=${THREADS:-2}
WORK=${WORK:-${TMPDIR:-/tmp}/smol-grammar-bench}
SHARED=${SMOL_SHARED:-$(cd .. && pwd)/shared}
[ -d "$SHARED/models" ] || SHARED=/work/shared
GRAMMAR=tests/grammars/json.gbnf
SCHEMA=tests/grammars/schemas/01-person.json
PROMPT="Answer in JSON:"
cmake --build "$BUILD" --target smol >/dev/null
mkdir -p "$WORK"
PEERS=$(bash "$SHARED/peers/setup.sh" "$WORK/peers")
export LLAMA_BINS=$PEERS/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
if [ ! -x "$WORK/llamacpp_grammar_bench" ] || [ bench/peers/llamacpp_grammar_bench.cpp -nt "$WORK/llamacpp_grammar_bench" ]; then
  H=$(mktemp -d)
  git clone -q "$PEERS/node_modules/node-llama-cpp/llama/gitRelease.bundle" "$H/src" 2>/dev/null
  g++ -O2 -std=c++17 -I "$H/src/include" -I "$H/src/ggml/include" bench/peers/llamacpp_grammar_bench.cpp \
    -o "$WORK/llamacpp_grammar_bench" -L "$LLAMA_BINS" -l:libllama.v0.4.0.so -l:libggml.v0.4.0.so \
    -l:libggml-base.so -Wl,-rpath,"$LLAMA_BINS"
  rm -rf "$H"
fi
if [ ! -f "$WORK/model-q8_0.gguf" ]; then
  "$BUILD/smol" init --config "$SHARED/models/SmolLM2-135M-Instruct/config.json" --out "$WORK/model" >&2
  "$BUILD/smol" convert "$WORK/model" "$WORK/model-q8_0.gguf" --type q8_0 >&2
fi
M=$WORK/model-q8_0.gguf

smol_run() {  # seed flags... -> tok/s (stderr: the run)
  local seed=$1 err line
  shift
  err=$("$BUILD/smol" generate -m "$M" -p "$PROMPT" -n "$N" --temp 1 --seed "$seed" -t "$THREADS" "$@" 2>&1 >/dev/null)
  line=$(grep -o 'generated [0-9]* tokens in [0-9.]* s ([0-9.]* tok/s)' <<<"$err")
  echo "smol $* seed $seed: $line" >&2
  sed -E 's/.*\(([0-9.]+) tok\/s\)/\1/' <<<"$line"
}
llama_run() {  # seed [grammar] -> tok/s (stderr: the JSON line)
  local out
  out=$("$WORK/llamacpp_grammar_bench" "$M" "$THREADS" "$N" "$@" 2>/dev/null | tail -1)
  echo "$out" >&2
  sed -E 's/.*"tok_s":([0-9.]+).*/\1/' <<<"$out"
}
echo "# $(date -u +%FT%TZ) $(nproc) cpus, $(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A rates
for ((i = 1; i <= RUNS; i++)); do
  rates[smol_free]+="$(smol_run "$i") "
  rates[smol_gbnf]+="$(smol_run "$i" --grammar "$GRAMMAR") "
  rates[smol_schema]+="$(smol_run "$i" --json-schema "$SCHEMA") "
  rates[llama_free]+="$(llama_run "$i" "$PROMPT") "
  rates[llama_gbnf]+="$(llama_run "$i" "$PROMPT" "$GRAMMAR") "
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for mode in smol_free smol_gbnf smol_schema llama_free llama_gbnf; do
  base=$(median "${rates[${mode%%_*}_free]}")
  m=$(median "${rates[$mode]}")
  echo "$mode: median $m tok/s ($(awk -v a="$m" -v b="$base" 'BEGIN {printf "%.1f%%", 100 * a / b}') of the same engine unconstrained)"
done
sg=$(median "${rates[smol_gbnf]}")
lg=$(median "${rates[llama_gbnf]}")
echo "smol json.gbnf / llama.cpp json.gbnf: $(awk -v a="$sg" -v b="$lg" 'BEGIN {printf "%.2fx", a / b}')"
