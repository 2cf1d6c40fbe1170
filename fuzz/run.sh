#!/usr/bin/env bash
# fuzz/run.sh TARGET SECONDS: builds the libFuzzer target TARGET with clang (in build-fuzz/, or
# $SMOL_FUZZ_BUILD) and fuzzes it for SECONDS seconds on a working corpus seeded from
# fuzz/seeds/TARGET/. Crashing inputs are written to fuzz/crashes/TARGET/: turn each into a
# regression test beside the parser, then delete it.
set -euo pipefail
target=${1:?usage: fuzz/run.sh TARGET SECONDS}
seconds=${2:?usage: fuzz/run.sh TARGET SECONDS}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SMOL_FUZZ_BUILD:-$root/build-fuzz}
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DSMOL_FUZZ=ON "${launcher[@]}"
fi
cmake --build "$build" --target "$target" -j"${SMOL_FUZZ_JOBS:-2}"

corpus=$build/corpus/$target
crashes=$root/fuzz/crashes/$target
mkdir -p "$corpus" "$crashes"
args=(-max_total_time="$seconds" -max_len="${SMOL_FUZZ_MAX_LEN:-16384}" -rss_limit_mb=2048 -timeout=10
      -print_final_stats=1 -artifact_prefix="$crashes/")
[ -f "$root/fuzz/$target.dict" ] && args+=(-dict="$root/fuzz/$target.dict")
# New inputs go to the first folder (the working corpus); the committed seeds are read only.
"$build/$target" "${args[@]}" "$corpus" "$root/fuzz/seeds/$target"
