#!/usr/bin/env bash
# The long run of the constrained-sampling test: RUNS completions (default 100) per schema
# in tests/grammars/schemas (10 schemas) at temperature 1 from the random-weight model
# models/tiny-random-bf16; every output must parse strictly and validate.
# Usage: bench/grammar_json_runs.sh [BUILD_DIR] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SMOL_GRAMMAR_RUNS=${2:-100} exec "$BUILD/test_generate" --gtest_filter='GrammarSampling.EveryCompletionUnderEverySchemaParsesAndValidates'
