#!/usr/bin/env bash
# fuzz/run.sh SECONDS [TARGET...]: builds the libFuzzer targets with clang (in build-fuzz/, or
# $SMOL_FUZZ_BUILD; configured on first use) and fuzzes each for SECONDS seconds, every target
# by default (the list is fuzz/CMakeLists.txt's). Each run starts from a working corpus
# (<build>/corpus/TARGET, kept between runs), the hand-written seeds in fuzz/seeds/TARGET/ and
# the seeds fuzz/make_seeds.py makes from the fixtures (<build>/seeds/TARGET/). Prints one line
# per target: executions, executions/s, coverage (libFuzzer's cov: edges and ft: features),
# corpus size; exits 1 if any target crashed. A crashing input is written to
# fuzz/crashes/TARGET/: turn it into a regression test beside the parser, then delete it.
# Environment: SMOL_FUZZ_PARALLEL (targets run at once, default 1), SMOL_FUZZ_JOBS (build
# jobs, default nproc), SMOL_FUZZ_MAX_LEN (default 16384), SMOL_SHARED (the shared folder).
set -euo pipefail
seconds=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SMOL_FUZZ_BUILD:-$root/build-fuzz}
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(sed -n 's/^smol_add_fuzzer(\([a-z0-9_]*\).*/\1/p' "$root/fuzz/CMakeLists.txt")
fi

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ \
    -DSMOL_FUZZ=ON "${launcher[@]}" >/dev/null
fi
cmake --build "$build" --target "${targets[@]}" -j"${SMOL_FUZZ_JOBS:-$(nproc)}"
python3 "$root/fuzz/make_seeds.py" "$build/seeds" >/dev/null

# libFuzzer's dictionary format has no include: a "#include json.dict" line is expanded here.
dict_for() {
  local src=$root/fuzz/$1.dict out=$build/dicts/$1.dict
  [ -f "$src" ] || return 0
  mkdir -p "$build/dicts"
  while IFS= read -r line; do
    if [[ $line == "#include "* ]]; then cat "$root/fuzz/${line#\#include }"; else printf '%s\n' "$line"; fi
  done <"$src" >"$out"
  echo "$out"
}

run_one() {
  local target=$1 corpus=$build/corpus/$1 crashes=$root/fuzz/crashes/$1 log=$build/logs/$1.log
  mkdir -p "$corpus" "$crashes" "$build/logs"
  local args=(-max_total_time="$seconds" -max_len="${SMOL_FUZZ_MAX_LEN:-16384}" -rss_limit_mb=2048 -timeout=10
              -print_final_stats=1 -artifact_prefix="$crashes/")
  local dict
  dict=$(dict_for "$target")
  [ -n "$dict" ] && args+=(-dict="$dict")
  local seeds=()
  for d in "$root/fuzz/seeds/$target" "$build/seeds/$target"; do [ -d "$d" ] && seeds+=("$d"); done
  # New inputs go to the first folder (the working corpus); the seed folders are read only.
  # A copy runs, so the targets can be rebuilt (a fix being tried) while a long session goes on.
  mkdir -p "$build/run"
  cp "$build/$target" "$build/run/$target"
  local rc=0
  "$build/run/$target" "${args[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1 || rc=$?
  local execs rate cov ft corp
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1 | cut -d' ' -f2)
  local status=ok
  if [ "$rc" -ne 0 ]; then
    status="CRASH (exit $rc; log $log)"
    grep -m1 -E 'ERROR: (AddressSanitizer|libFuzzer|UndefinedBehaviorSanitizer)|runtime error:|==ERROR' "$log" || true
    grep -m1 'Test unit written to' "$log" || true
  fi
  printf '%-24s %5ss  execs %10s  exec/s %6s  cov %5s  ft %6s  corpus %-14s %s\n' "$target" "$seconds" \
    "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$status"
  [ "$rc" -eq 0 ]
}

parallel=${SMOL_FUZZ_PARALLEL:-1}
failed=0
running=0
for target in "${targets[@]}"; do
  if [ "$running" -ge "$parallel" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
  run_one "$target" &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz: a target crashed: see the log and the input under fuzz/crashes/" >&2
  exit 1
fi
