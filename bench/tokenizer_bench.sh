#!/usr/bin/env bash
# Encode throughput, single thread: smol's tokenizer vs Hugging Face tokenizers.js on the same
# corpus (built by tokenizer_bench; see kCorpus there), plus a check that both give the same ids.
#
#   bench/tokenizer_bench.sh [TOKENIZER_JSON]
# Environment: BUILD_DIR (default build), BENCH_BIN (a prebuilt tokenizer_bench, skips the
# build), SMOL_SHARED (the shared fixtures folder), BENCH_SECONDS (per side, default 3).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
if [[ -z "${SMOL_SHARED:-}" ]]; then
  if [[ -d "$root/../shared/fixtures" ]]; then SMOL_SHARED=$(cd "$root/../shared" && pwd); else SMOL_SHARED=/work/shared; fi
fi
export SMOL_SHARED
tokenizer=${1:-$SMOL_SHARED/models/SmolLM2-135M-Instruct/tokenizer.json}
seconds=${BENCH_SECONDS:-3}

bin=${BENCH_BIN:-}
if [[ -z "$bin" ]]; then
  [[ -f "$build/build.ninja" || -f "$build/Makefile" ]] || cmake -S "$root" -B "$build" -G Ninja >/dev/null
  cmake --build "$build" --target tokenizer_bench >/dev/null
  bin=$build/tokenizer_bench
fi

js_dir=$root/bench/tokenizers_js
[[ -d "$js_dir/node_modules/@huggingface/tokenizers" ]] || (cd "$js_dir" && npm install --no-audit --no-fund >/dev/null)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== smol (C++) =="
"$bin" --tokenizer "$tokenizer" --seconds "$seconds" --write-corpus "$tmp/corpus.jsonl" \
  --ids-out "$tmp/smol_ids.jsonl" | tee "$tmp/smol.out"
echo "== Hugging Face tokenizers.js $(node -p "require('$js_dir/node_modules/@huggingface/tokenizers/package.json').version") (node $(node --version)) =="
node "$js_dir/bench.mjs" "$tokenizer" "$tmp/corpus.jsonl" --seconds "$seconds" \
  --ids-out "$tmp/js_ids.jsonl" | tee "$tmp/js.out"

smol=$(awk '/^SMOL_MBPS/ {print $2}' "$tmp/smol.out")
js=$(awk '/^JS_MBPS/ {print $2}' "$tmp/js.out")
docs=$(wc -l < "$tmp/corpus.jsonl")
differ=$(paste -d '\t' "$tmp/smol_ids.jsonl" "$tmp/js_ids.jsonl" | awk -F '\t' '$1 != $2' | wc -l)
echo "== summary =="
printf 'encode, single thread, warm: smol %.1f MB/s, tokenizers.js %.1f MB/s, ratio %.1fx\n' \
  "$smol" "$js" "$(awk -v a="$smol" -v b="$js" 'BEGIN {print a / b}')"
echo "documents whose ids differ: $differ of $docs"
if [[ "$differ" != 0 ]]; then
  echo "(tokenizers.js's Digits pre-tokenizer splits only ASCII digits; Hugging Face's Rust library," \
       "the fixtures and smol split every Unicode numeric character, e.g. '½')"
fi
