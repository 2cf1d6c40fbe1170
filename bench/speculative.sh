#!/usr/bin/env bash
# Speculative decoding against plain decoding: `smol generate --temp 0` (greedy, so every
# configuration prints the same text), THREADS threads, weights converted to WEIGHTS at load.
#
# 1. Real pairs of random-weight models of the SmolLM2 shapes (`smol init` from the configs in
#    ../shared/models): 1.7B with a 135M draft, 360M with a 135M draft. Random models agree on
#    almost nothing, so this measures what a useless draft costs.
# 2. Drafts that are noisy copies of the target (`smol init --from TARGET --noise X`), one per
#    NOISES level: acceptance then falls as the noise grows. Such a draft costs as much as the
#    target, so its own speed is printed but is not the point; the "with a 135M draft" column
#    replaces the copy's measured drafting time by the 135M model's measured time per token
#    (one forward pass per drafted token): the speed a draft of the 135M's cost would give at
#    that acceptance. It is a projection from measured times, labelled as such.
#
# usage: bench/speculative.sh [BUILD_DIR]      (default: build)
# env:   N (64 tokens), THREADS (2), WEIGHTS (q8_0), DRAFT_MAX (4), TARGETS ("1.7B 360M"),
#        NOISES ("0.01 0.03 0.06 0.1"), WORK (a temp folder; kept if given, so models are reused)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SMOL=${SMOL:-$ROOT/${1:-build}/smol}
SHARED=${SMOL_SHARED:-$ROOT/../shared}
N=${N:-64}
THREADS=${THREADS:-2}
WEIGHTS=${WEIGHTS:-q8_0}
DRAFT_MAX=${DRAFT_MAX:-4}
TARGETS=${TARGETS:-"1.7B 360M"}
NOISES=${NOISES:-"0.01 0.03 0.06 0.1"}
PROMPT="The history of the printing press begins"
[ -x "$SMOL" ] || { echo "no smol binary at $SMOL (build first, or pass the build folder)" >&2; exit 2; }
if [ -z "${WORK:-}" ]; then
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$WORK"

model() {  # shape -> folder of a random bf16 model of that shape
  local dir=$WORK/random-$1
  [ -f "$dir/model.safetensors" ] || "$SMOL" init --config "$SHARED/models/SmolLM2-$1-Instruct/config.json" \
    --out "$dir" --dtype bf16 --seed 1 >&2
  echo "$dir"
}

# Runs generate; prints "tok_per_s decode_seconds generated drafted accepted draft_seconds".
run() {
  local err
  err=$("$SMOL" generate -m "$1" --weights "$WEIGHTS" -t "$THREADS" -p "$PROMPT" -n "$N" --temp 0 "${@:2}" 2>&1 >/dev/null)
  python3 - "$err" <<'PY'
import re, sys
e = sys.argv[1]
g = re.search(r"generated (\d+) tokens in ([\d.]+) s \(([\d.]+) tok/s\)", e)
if not g: sys.exit("unexpected output: " + e)
s = re.search(r"drafted (\d+) tokens, accepted (\d+).* ([\d.]+) s drafting", e)
d, a, ds = (s.group(1), s.group(2), s.group(3)) if s else ("0", "0", "0")
print(g.group(3), g.group(2), g.group(1), d, a, ds)
PY
}

small=$(model 135M)
read -r small_tps _ <<<"$(run "$small")"
echo "135M plain: $small_tps tok/s ($WEIGHTS, $THREADS threads)"
echo
echo "| target | draft | plain tok/s | speculative tok/s | speed-up | acceptance | with a 135M draft (projected) |"
echo "|---|---|---|---|---|---|---|"
for shape in $TARGETS; do
  target=$(model "$shape")
  read -r plain_tps _ <<<"$(run "$target")"
  row() {  # label draft-folder
    read -r tps secs gen drafted accepted draft_s <<<"$(run "$target" --draft "$2" --draft-max "$DRAFT_MAX" --draft-p-min 0)"
    python3 - "$shape" "$1" "$plain_tps" "$tps" "$secs" "$gen" "$drafted" "$accepted" "$draft_s" "$small_tps" <<'PY'
import sys
shape, label, plain, tps, secs, gen, drafted, accepted, draft_s, small = sys.argv[1:]
plain, tps, secs, draft_s, small = map(float, (plain, tps, secs, draft_s, small))
gen, drafted, accepted = int(gen), int(drafted), int(accepted)
rate = accepted / drafted if drafted else 0.0
projected = gen / (secs - draft_s + drafted / small)
print(f"| {shape} | {label} | {plain:.2f} | {tps:.2f} | {tps / plain:.2f}x | {rate:.2f} | "
      f"{projected:.2f} tok/s ({projected / plain:.2f}x) |")
PY
  }
  row "random 135M" "$small"
  for noise in $NOISES; do
    copy=$WORK/copy-$shape-$noise
    [ -f "$copy/model.safetensors" ] || "$SMOL" init --from "$target" --noise "$noise" --out "$copy" --seed 2 >&2
    row "copy, noise $noise" "$copy"
    [ -n "${KEEP_COPIES:-}" ] || rm -rf "$copy"
  done
done
