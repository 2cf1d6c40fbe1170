#!/usr/bin/env bash
# Encoder-decoder generation speed: `smol translate --ids` (float32 and Q8_0 weights) against
# the float32 PyTorch reference with its own KV caching (tests/oracle/bench_seq2seq_torch.py),
# same random-weight model, same source ids, same threads, in one run. Shapes: opus-mt-en-de
# (Marian, translate) and distilbart-cnn-6-6 (BART, summarize). EOS is banned on both sides
# (smol: --min-length; random weights rarely emit it anyway) so every row decodes MAX_NEW
# tokens and both do the same work.
#
#   bench/seq2seq_compare.sh [BUILD_DIR]
#   env: THREADS=2 BATCH=16 MAX_NEW=32 TRANSLATE_SRC=32 SUMMARIZE_SRC=256 WORK=/tmp/smol-seq2seq-bench
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SMOL="$BUILD/smol"
THREADS=${THREADS:-2}
BATCH=${BATCH:-16}
SUMMARIZE_BATCH=${SUMMARIZE_BATCH:-$BATCH}
MAX_NEW=${MAX_NEW:-32}
TRANSLATE_SRC=${TRANSLATE_SRC:-32}
SUMMARIZE_SRC=${SUMMARIZE_SRC:-256}
WORK=${WORK:-/tmp/smol-seq2seq-bench}
PY=/usr/bin/python3
# PyTorch's float32 matmuls go to whatever libblas.so.3 the system selects; Debian's default
# is the unoptimised reference BLAS, which would make any ratio meaningless. With Debian's
# OpenBLAS installed (apt-get install libopenblas0-pthread) torch runs on it.
OPENBLAS_DIR=/usr/lib/x86_64-linux-gnu/openblas-pthread
if [ ! -e "$OPENBLAS_DIR/libblas.so.3" ]; then
  echo "install libopenblas0-pthread first: PyTorch on the reference BLAS is not a fair baseline" >&2
  exit 1
fi
export LD_LIBRARY_PATH="$OPENBLAS_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" OPENBLAS_NUM_THREADS=${THREADS:-2} OMP_NUM_THREADS=${THREADS:-2}
mkdir -p "$WORK"
[ -x "$SMOL" ] || { echo "build smol first: cmake --build $BUILD --target smol" >&2; exit 1; }

make_model() {  # family shape dir
  [ -f "$3/model.safetensors" ] || $PY tests/oracle/make_random_model.py --family "$1" --shape "$2" --out "$3" --dtype f32 >&2
}

make_sources() {  # dir length out -> out.jsonl and out.json ($BATCH sources)
  $PY - "$1" "$2" "$BATCH" "$3" <<'EOF'
import json, sys, numpy as np
folder, length, batch, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
c = json.load(open(folder + "/config.json"))
rng = np.random.default_rng(0)
srcs = [[int(x) for x in rng.integers(4, c["vocab_size"] - 2, size=length - 1)] + [c["eos_token_id"]] for _ in range(batch)]
json.dump(srcs, open(out + ".json", "w"))
open(out + ".jsonl", "w").write("".join(json.dumps(s) + "\n" for s in srcs))
EOF
}

# smol with /usr/bin/time for peak RSS; prints "sentences/s tokens/s rss_mb".
run_smol() {  # cmd dir beams extra...
  local cmd=$1 dir=$2 beams=$3; shift 3
  local out err
  out=$(mktemp) err=$(mktemp)
  /usr/bin/time -f "%M" "$SMOL" "$cmd" -m "$dir" -f "$SOURCES.jsonl" --ids --json --batch 64 -t "$THREADS" \
    --beams "$beams" -n "$MAX_NEW" --min-length $((MAX_NEW + 1)) --length-penalty 1 --no-repeat-ngram-size 0 \
    --repeat-penalty 1 "$@" >"$out" 2>"$err"
  $PY - "$out" "$(tail -1 "$err")" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))["timings"]
print(f'{t["sentences_per_second"]:.3f} {t["tokens_per_second"]:.1f} {int(sys.argv[2]) / 1024:.0f}')
EOF
  rm -f "$out" "$err"
}

run_torch() {  # dir mode -> "sentences/s tokens/s rss_mb"
  $PY tests/oracle/bench_seq2seq_torch.py "$1" --sources "$SOURCES.json" --max-new "$MAX_NEW" --threads "$THREADS" \
    --ban-eos --modes "$2" | tail -1 | $PY -c '
import json, sys
r = json.loads(sys.stdin.read())
print("%.3f %.1f %.0f" % (r["sentences_per_s"], r["target_tokens_per_s"], r["peak_rss_mb"]))'
}

echo "| shape | command | search | PyTorch f32 sent/s | tok/s | smol f32 sent/s | tok/s | ratio | smol Q8_0 sent/s | tok/s | ratio | peak RSS MB torch / smol f32 / smol q8_0 |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for spec in "marian opus-mt-en-de translate $TRANSLATE_SRC" "bart distilbart-cnn-6-6 summarize $SUMMARIZE_SRC"; do
  read -r family shape cmd src_len <<<"$spec"
  dir="$WORK/$shape"
  make_model "$family" "$shape" "$dir"
  batch=$BATCH
  [ "$cmd" = summarize ] && batch=$SUMMARIZE_BATCH
  SOURCES="$WORK/$shape.src$src_len.b$batch"
  BATCH=$batch make_sources "$dir" "$src_len" "$SOURCES"
  for beams in 1 4; do
    mode=$([ "$beams" = 1 ] && echo greedy || echo beam4)
    read -r t_sps t_tps t_rss <<<"$(run_torch "$dir" "$mode")"
    read -r s_sps s_tps s_rss <<<"$(run_smol "$cmd" "$dir" "$beams")"
    read -r q_sps q_tps q_rss <<<"$(run_smol "$cmd" "$dir" "$beams" --weights q8_0)"
    ratio() { $PY -c "print(f'{float($1) / float($2):.2f}x')"; }
    echo "| $shape | $cmd | $mode | $t_sps | $t_tps | $s_sps | $s_tps | $(ratio "$s_tps" "$t_tps") | $q_sps | $q_tps | $(ratio "$q_tps" "$t_tps") | $t_rss / $s_rss / $q_rss |"
  done
done
echo "batch $BATCH sources (summarize: $SUMMARIZE_BATCH, $SUMMARIZE_SRC source tokens; translate: $TRANSLATE_SRC), $MAX_NEW new tokens each, $THREADS threads, torch $($PY -c 'import torch; print(torch.__version__)') on OpenBLAS; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
