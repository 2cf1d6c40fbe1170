#!/usr/bin/env bash
# Builds smol and runs the whole test suite (unit, fixture parity, CLI, sanitizer tests).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --parallel "$(nproc)"
ctest --test-dir "$BUILD" --output-on-failure --parallel "$(nproc)" "$@"

# End to end: smol serve through the official OpenAI client (npm `openai`) and the web chat
# page in Debian's headless Chromium (playwright-core). Offline once `npm ci` has run.
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error && BUILD="$BUILD" npm test)
