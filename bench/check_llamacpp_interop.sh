#!/usr/bin/env bash
# Does llama.cpp load the GGUF files smol writes, and compute what smol and the reference do?
#
# For each fixture, `smol convert` writes f32, q8_0 and q4_0 GGUF files; llama.cpp (prebuilt,
# through ../shared/peers/llamacpp_logits.mjs) then scores the prompts of expected.json (all
# six at f32, the first three of tiny-f32 and tiny-f16-untied-sharded when quantized) and
# continues them greedily for 24 tokens. Each llama.cpp call pays ~6 s of node start-up, so
# the run takes about 5 minutes. Checks (exit 1 if one fails):
#   f32:  llama.cpp's greedy ids equal the fixture's, its nll within 1e-4 relative;
#   q8_0, q4_0: llama.cpp loads the file and its nll_mean agrees with smol's on the same file
#         within 2% relative (same weights, two independent implementations of the block
#         formats); greedy agreement is printed, not required (random tiny models have
#         near-ties that 8-bit activations flip).
# Not part of ctest: it needs node and the npm package (see ../shared/peers/README.md).
#
# usage: bench/check_llamacpp_interop.sh [BUILD_DIR]   (default: build)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SMOL=${SMOL:-$ROOT/${1:-build}/smol}
SHARED=${SMOL_SHARED:-$ROOT/../shared}
D=${D:-$("$SHARED/peers/setup.sh")}
[ -x "$SMOL" ] || { echo "no smol binary at $SMOL (build first, or pass the build folder)" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

for fixture in tiny-f32 tiny-bf16 tiny-f16-untied-sharded; do
  for type in f32 q8_0 q4_0; do
    [ "$fixture-$type" = tiny-bf16-q8_0 ] || [ "$fixture-$type" = tiny-bf16-q4_0 ] && continue
    "$SMOL" convert "$SHARED/fixtures/$fixture" "$WORK/$fixture-$type.gguf" --type "$type" 2>/dev/null
  done
done

SMOL="$SMOL" SHARED="$SHARED" D="$D" WORK="$WORK" python3 - <<'EOF'
import json, os, subprocess, sys

smol, shared, peers, work = (os.environ[k] for k in ("SMOL", "SHARED", "D", "WORK"))

def llama(model, ids):
    out = subprocess.run(["node", f"{peers}/llamacpp_logits.mjs", "--model", model, "--tokens", ",".join(map(str, ids)),
                          "--n-gen", "24", "--fa", "off", "--kv", "f32", "--all-positions"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)

def smol_nll(model, text):
    path = f"{work}/prompt.txt"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    out = subprocess.run([smol, "perplexity", "-m", model, "-f", path, "--json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)["nll_mean"]

def prefix(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n

failures = 0
print(f"{'fixture':<26}{'type':<6}{'prompt':>7}{'nll ref':>10}{'nll smol':>10}{'nll llama':>10}{'greedy llama=ref':>18}")
for fixture in ("tiny-f32", "tiny-bf16", "tiny-f16-untied-sharded"):
    expected = json.load(open(f"{shared}/fixtures/{fixture}/expected.json"))
    for type_ in ("f32", "q8_0", "q4_0"):
        model = f"{work}/{fixture}-{type_}.gguf"
        if type_ != "f32" and fixture == "tiny-bf16":
            continue
        for i, p in enumerate(expected["prompts"][: 6 if type_ == "f32" else 3]):
            got = llama(model, p["ids"])
            llama_nll = got["nll_sum"] / got["nll_count"]
            same = prefix(got["greedy"], p["greedy_ids"])
            ours = smol_nll(model, p["text"])
            ok = True
            if type_ == "f32":
                ok = same == len(p["greedy_ids"]) and abs(llama_nll - p["nll_mean"]) <= 1e-4 * p["nll_mean"]
            else:
                ok = abs(llama_nll - ours) <= 0.02 * ours
            failures += not ok
            print(f"{fixture:<26}{type_:<6}{i:>7}{p['nll_mean']:>10.4f}{ours:>10.4f}{llama_nll:>10.4f}{same:>15}/24"
                  + ("" if ok else "  FAIL"))
print("interop: all checks passed" if failures == 0 else f"interop: {failures} checks failed")
sys.exit(1 if failures else 0)
EOF
