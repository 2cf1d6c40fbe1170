#!/usr/bin/env bash
# smol beside llama.cpp on the same GGUF files, same machine, same run.
#
# Builds randomly initialised models of the SmolLM2-135M, -360M and -1.7B shapes (`smol init`),
# converts each to GGUF with `smol convert` (q8_0, f16, bf16), then times prompt processing
# (pp, one batch of P tokens) and generation (tg, N single-token steps) with `smol bench` and
# with llama.cpp's prebuilt libraries (../shared/peers/prebuilt_bench), and prints a table of
# both and the ratios. Also measures the memory read bandwidth (a small C loop, same threads,
# right before each pair of runs, as the machine's bandwidth drifts when neighbours are busy)
# over 1 GiB and over a buffer the size of the model, and how close decode comes to those
# limits (weight bytes per token / bandwidth); a model that fits a large L3 can beat the first,
# the second is what reading the same bytes again and again costs,
# each program's peak RSS, and its load time: smol's own (Model::load, from `smol bench`) and,
# for both programs alike, the wall time of a process that loads the model and runs one token.
#
# usage: bench/compare_llamacpp.sh [BUILD_DIR]      (default: build)
# env:   ROUNDS (2: smol and llama.cpp alternate, so drift hits both), REPS (2 per round), PP (512), TG (128), SHAPES ("135M 360M"), THREADS ("1 2") and TYPES
#        ("q8_0 f16 bf16") for 135M, THREADS_LARGE ("2") and TYPES_LARGE ("q8_0 f16") for the
#        larger shapes, TYPES_HUGE ("q8_0"), REPS_HUGE (1), PP_HUGE (128), TG_HUGE (32) for 1.7B,
#        WORK (a temp folder; kept if given, so models are reused)
# The default run takes about 9 minutes on an idle 2-core machine (1.7B: ~3 of them).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SMOL=${SMOL:-$ROOT/${1:-build}/smol}
SHARED=${SMOL_SHARED:-$ROOT/../shared}
ROUNDS=${ROUNDS:-2}
REPS=${REPS:-2}
PP=${PP:-512}
TG=${TG:-128}
THREADS=${THREADS:-"1 2"}
SHAPES=${SHAPES:-"135M 360M 1.7B"}
TYPES=${TYPES:-"q8_0 f16 bf16"}
THREADS_LARGE=${THREADS_LARGE:-"2"}
TYPES_LARGE=${TYPES_LARGE:-"q8_0 f16"}
TYPES_HUGE=${TYPES_HUGE:-"q8_0"}
REPS_HUGE=${REPS_HUGE:-1}
PP_HUGE=${PP_HUGE:-128}
TG_HUGE=${TG_HUGE:-32}
[ -x "$SMOL" ] || { echo "no smol binary at $SMOL (build first, or pass the build folder)" >&2; exit 2; }
D=${D:-$("$SHARED/peers/setup.sh")}
L=$D/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
if [ -z "${WORK:-}" ]; then
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$WORK"
RESULTS=$WORK/results.jsonl
: > "$RESULTS"

# Memory read bandwidth: threads summing disjoint halves of a buffer (MB, default 1 GiB), best of 5.
cat > "$WORK/membw.c" <<'EOF'
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static size_t N = 1u << 27;  /* 2^27 doubles = 1 GiB */
static double *buf; static int nt;
static void *sum(void *arg) {
  long t = (long)arg; size_t b = N / nt * t, e = N / nt * (t + 1);
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (size_t i = b; i < e; i += 4) { s0 += buf[i]; s1 += buf[i + 1]; s2 += buf[i + 2]; s3 += buf[i + 3]; }
  static volatile double sink; sink = s0 + s1 + s2 + s3; return NULL;
}
int main(int argc, char **argv) {
  nt = atoi(argv[1]);
  if (argc > 2) N = (size_t)atol(argv[2]) << 17;  /* MB -> doubles */
  N -= N % (4 * nt);
  buf = malloc(sizeof(double) * N); memset(buf, 1, sizeof(double) * N);
  double best = 0;
  for (int r = 0; r < 5; r++) {
    struct timespec a, b; pthread_t th[64];
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long t = 0; t < nt; t++) pthread_create(&th[t], NULL, sum, (void *)t);
    for (int t = 0; t < nt; t++) pthread_join(th[t], NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double gbs = sizeof(double) * N / ((b.tv_sec - a.tv_sec) + 1e-9 * (b.tv_nsec - a.tv_nsec)) / 1e9;
    if (gbs > best) best = gbs;
  }
  printf("%.2f\n", best);
  return 0;
}
EOF
cc -O2 -o "$WORK/membw" "$WORK/membw.c" -lpthread

for shape in $SHAPES; do
  config=$SHARED/models/SmolLM2-$shape-Instruct/config.json
  hf=$WORK/$shape-hf
  [ -f "$hf/model.safetensors" ] || "$SMOL" init --config "$config" --out "$hf" --dtype bf16 >&2
  types=$TYPES threads=$THREADS reps=$REPS pp=$PP tg=$TG
  [ "$shape" = 135M ] || { types=$TYPES_LARGE; threads=$THREADS_LARGE; }
  # 1.7B is ~13x the work of 135M: one type, fewer and shorter runs keep the default run short.
  [ "$shape" = 1.7B ] && { types=$TYPES_HUGE; reps=$REPS_HUGE; pp=$PP_HUGE; tg=$TG_HUGE; }
  for type in $types; do
    gguf=$WORK/$shape-$type.gguf
    [ -f "$gguf" ] || "$SMOL" convert "$hf" "$gguf" --type "$type" >&2
    bytes=$(stat -c %s "$gguf")
    for t in $threads; do
      echo "== $shape $type threads $t" >&2
      bw_dram=$("$WORK/membw" "$t" 1024)
      bw_model=$("$WORK/membw" "$t" $(( (bytes >> 20) + 1 )))
      # smol bench prints [{test, tokens_per_second, ...}]; prebuilt_bench {"pp512": {"mean": ...}, ...}.
      smol_runs=() llama_runs=() smol_rss=0 llama_rss=0
      for round in $(seq "$ROUNDS"); do
        /usr/bin/time -f "%M" -o "$WORK/rss" "$SMOL" bench -m "$gguf" -p "$pp" -n "$tg" -t "$t" -r "$reps" --json \
          > "$WORK/smol-$round.json"
        smol_rss=$(( $(tail -1 "$WORK/rss") > smol_rss ? $(tail -1 "$WORK/rss") : smol_rss ))
        smol_runs+=("$WORK/smol-$round.json")
        LLAMA_BINS=$L /usr/bin/time -f "%M" -o "$WORK/rss" "$D/prebuilt_bench" "$gguf" "$t" "$pp" "$tg" "$reps" \
          > "$WORK/llama-$round.json" 2> "$WORK/llama.err" || { cat "$WORK/llama.err" >&2; exit 1; }
        llama_rss=$(( $(tail -1 "$WORK/rss") > llama_rss ? $(tail -1 "$WORK/rss") : llama_rss ))
        llama_runs+=("$WORK/llama-$round.json")
      done
      # Load, one prompt token, one decode step, exit (page cache warm for both).
      /usr/bin/time -f "%e" -o "$WORK/wall" "$SMOL" bench -m "$gguf" -p 1 -n 1 -t "$t" -r 1 --json > /dev/null
      smol_wall=$(tail -1 "$WORK/wall")
      LLAMA_BINS=$L /usr/bin/time -f "%e" -o "$WORK/wall" "$D/prebuilt_bench" "$gguf" "$t" 1 1 1 > /dev/null 2>&1
      llama_wall=$(tail -1 "$WORK/wall")
      python3 - "$shape" "$type" "$t" "$bytes" "$smol_rss" "$llama_rss" "$smol_wall" "$llama_wall" "$bw_dram" \
        "$bw_model" "${smol_runs[*]}" "${llama_runs[*]}" >> "$RESULTS" <<'EOF'
import json, statistics, sys
(shape, type_, threads, size, smol_rss, llama_rss, smol_wall, llama_wall, bw_dram, bw_model, smol_files,
 llama_files) = sys.argv[1:]
smol_rounds = [{r["test"]: r for r in json.load(open(f))} for f in smol_files.split()]
llama_rounds = [json.load(open(f)) for f in llama_files.split()]
row = {"kind": "bench", "shape": shape, "type": type_, "threads": int(threads), "file_bytes": int(size),
       "smol_rss_kb": int(smol_rss), "llama_rss_kb": int(llama_rss),
       "smol_load_s": statistics.mean(next(iter(r.values())).get("load_seconds", float("nan")) for r in smol_rounds),
       "smol_wall_s": float(smol_wall), "llama_wall_s": float(llama_wall),
       "bw_dram_gbs": float(bw_dram), "bw_model_gbs": float(bw_model)}
for test in ("pp", "tg"):
    key = next(k for k in smol_rounds[0] if k.startswith(test))
    row[test] = key
    # Every timed run of every round: smol bench reports each round's mean and sd, prebuilt_bench its runs.
    smol_means = [r[key]["tokens_per_second"] for r in smol_rounds]
    row["smol_" + test] = statistics.mean(smol_means)
    row["smol_" + test + "_sd"] = max([r[key]["stddev"] for r in smol_rounds] +
                                     [statistics.stdev(smol_means)] if len(smol_means) > 1 else [0.0])
    llama_runs = [v for r in llama_rounds for v in r[key]["runs"]]
    row["llama_" + test] = statistics.mean(llama_runs)
    row["llama_" + test + "_sd"] = statistics.stdev(llama_runs) if len(llama_runs) > 1 else 0.0
print(json.dumps(row))
EOF
    done
  done
done

python3 - "$RESULTS" "$SMOL" "$ROUNDS" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print("| shape | type | threads | smol pp | llama.cpp pp | ratio | smol tg | llama.cpp tg | ratio | read bandwidth 1 GiB / model-size (GB/s) | smol tg, % of those limits | peak RSS smol / llama.cpp (MB) | smol load (s) | load + 1 token, smol / llama.cpp (s) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    if r["kind"] != "bench":
        continue
    # Decode reads every weight once per token; the file is the weights (the tied embedding is
    # the output matrix, read whole), so file bytes / bandwidth bounds tokens/s.
    limit_dram = r["bw_dram_gbs"] * 1e9 / r["file_bytes"]
    limit_model = r["bw_model_gbs"] * 1e9 / r["file_bytes"]
    pct = (f"{100 * r['smol_tg'] / limit_dram:.0f}% of {limit_dram:.0f} / "
           f"{100 * r['smol_tg'] / limit_model:.0f}% of {limit_model:.0f}")
    print(f"| {r['shape']} | {r['type']} | {r['threads']} "
          f"| {r['smol_pp']:.1f} ± {r['smol_pp_sd']:.1f} | {r['llama_pp']:.1f} ± {r['llama_pp_sd']:.1f} "
          f"| {r['smol_pp'] / r['llama_pp']:.2f}x "
          f"| {r['smol_tg']:.1f} ± {r['smol_tg_sd']:.1f} | {r['llama_tg']:.1f} ± {r['llama_tg_sd']:.1f} "
          f"| {r['smol_tg'] / r['llama_tg']:.2f}x "
          f"| {r['bw_dram_gbs']:.1f} / {r['bw_model_gbs']:.1f} | {pct} "
          f"| {r['smol_rss_kb'] / 1024:.0f} / {r['llama_rss_kb'] / 1024:.0f} "
          f"| {r['smol_load_s']:.2f} | {r['smol_wall_s']:.2f} / {r['llama_wall_s']:.2f} |")
bench = [r for r in rows if r["kind"] == "bench"]
if bench:
    print()
    tests = ", ".join(sorted({f"{r['shape']}: {r['pp']}/{r['tg']}" for r in bench}))
    print(f"pp/tg tokens ({tests}), tokens/s, mean ± sd over {sys.argv[3]} alternating rounds; smol: smol bench; "
          "llama.cpp: node-llama-cpp's prebuilt CPU libraries via prebuilt_bench (runs after a warm-up)")
EOF
