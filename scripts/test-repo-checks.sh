#!/usr/bin/env bash
# Tests the repository checks themselves (scripts/check-layering.py, scripts/check-code-map.sh):
# on a copy of the tree each must pass, then fail with a message naming the file, the line and
# the rule for each deliberately wrong change.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fresh() {
  rm -rf "$tmp/tree"
  mkdir -p "$tmp/tree"
  cp -r "$repo/src" "$repo/include" "$repo/docs" "$repo/CMakeLists.txt" "$tmp/tree/"
}
# expect_fail NAME PATTERN [CHECK...]: the check (default: the layering check) exits 1 and
# prints a line matching PATTERN.
expect_fail() {
  local name=$1 pattern=$2 out rc=0
  shift 2
  [ $# -gt 0 ] || set -- "$python" "$repo/scripts/check-layering.py"
  out=$("$@" "$tmp/tree" 2>&1) || rc=$?
  set -- "$name" "$pattern"
  if [ "$rc" -ne 1 ] || ! grep -qE -- "$2" <<<"$out"; then
    echo "FAIL: $1: expected exit 1 and a line matching '$2', got exit $rc:"
    echo "$out"
    failures=$((failures + 1))
  else
    echo "ok: $1: $(grep -E -- "$2" <<<"$out" | head -1)"
  fi
}

fresh
if ! "$python" "$repo/scripts/check-layering.py" "$tmp/tree"; then
  echo "FAIL: the unchanged tree does not pass"
  failures=$((failures + 1))
fi

fresh
printf '#include "model/bind_weights.hpp"\n' >>"$tmp/tree/src/formats/dtype.cpp"
expect_fail "formats including model/" \
  '^layering: src/formats/dtype.cpp:[0-9]+: formats may not include model/bind_weights.hpp \(layer model\); formats may use: core$'

fresh
printf '#include "smol/tokenizer.hpp"\n' >>"$tmp/tree/src/kernels/dot.cpp"
expect_fail "kernels including a tokenizer public header" \
  '^layering: src/kernels/dot.cpp:[0-9]+: kernels may not include smol/tokenizer.hpp \(layer tokenizer\)'

fresh
printf '#include "smol/model.hpp"\n' >>"$tmp/tree/include/smol/gguf.hpp"
expect_fail "a formats public header including model" \
  '^layering: include/smol/gguf.hpp:[0-9]+: formats may not include smol/model.hpp \(layer model\)'

fresh
printf '#include "test_support/fixtures.hpp"\n' >>"$tmp/tree/src/model/model.cpp"
expect_fail "product code including a test double" \
  '^layering: src/model/model.cpp:[0-9]+: product code may not include test_support/fixtures.hpp'

fresh
printf '#include "server/job.hpp"\n' >>"$tmp/tree/src/generate/sampler_test.cpp"
expect_fail "a test reaching above its layer" \
  '^layering: src/generate/sampler_test.cpp:[0-9]+: tests of generate may not include server/job.hpp \(layer server\)'

fresh
printf '#pragma once\n' >"$tmp/tree/include/smol/unplaced.hpp"
expect_fail "a public header in no layer" \
  '^layering: include/smol/unplaced.hpp: belongs to no layer'

fresh
mkdir -p "$tmp/tree/src/extras" && printf 'int x;\n' >"$tmp/tree/src/extras/x.cpp"
expect_fail "a folder that is not a layer" \
  '^layering: src/extras/x.cpp: src/extras/ is not a layer'

fresh
sed -i 's/^set(smol_deps_formats \(.*\))/set(smol_deps_formats \1 smol_model)/' "$tmp/tree/CMakeLists.txt"
expect_fail "CMake linking formats to model" \
  '^layering: CMakeLists.txt: smol_deps_formats links smol_model, but the table says formats uses core'

fresh
sed -i 's/^set(smol_deps_cli smol_server smol_train smol_convert smol_hub/set(smol_deps_cli smol_server smol_train smol_convert/' "$tmp/tree/CMakeLists.txt"
expect_fail "CMake missing a link the table has" \
  '^layering: CMakeLists.txt: smol_deps_cli links smol_server smol_train smol_convert smol_eval, but the table says cli uses'

fresh
if ! bash "$repo/scripts/check-code-map.sh" "$tmp/tree"; then
  echo "FAIL: the unchanged tree's code map does not pass"
  failures=$((failures + 1))
fi

fresh
mkdir -p "$tmp/tree/src/unmapped"
expect_fail "a src/ folder the code map does not name" \
  '^code map: src/unmapped/ exists but docs/ARCHITECTURE.md.s code map does not name it' \
  bash "$repo/scripts/check-code-map.sh"

fresh
rm -rf "$tmp/tree/src/hub"
expect_fail "a code map naming a folder that is gone" \
  '^code map: docs/ARCHITECTURE.md names src/hub/, which does not exist' \
  bash "$repo/scripts/check-code-map.sh"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) of the repository checks failed"
  exit 1
fi
echo "the layering and code-map checks catch every wrong change tried"
