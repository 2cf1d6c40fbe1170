#!/usr/bin/env bash
# Installs the Debian 12 packages smol needs to build and test. Idempotent.
set -euo pipefail
PKGS=(build-essential cmake ninja-build pkg-config
      nlohmann-json3-dev libpcre2-dev libsentencepiece-dev libcli11-dev libfmt-dev
      libgtest-dev libgmock-dev libbenchmark-dev libhwy-dev
      zlib1g-dev libopenmpi-dev openmpi-bin libcpp-httplib-dev libcurl4-openssl-dev libssl-dev
      python3 python3-jinja2 chromium  # python3-jinja2: tests/oracle/render_chat_template.py (e2e)
      clang libclang-rt-14-dev)  # the libFuzzer targets in fuzz/ (.ci/run fuzzes each briefly)
# Regenerating fixtures (tests/oracle/) and the PyTorch benchmarks need more, not installed here:
#   python3-torch python3-numpy python3-sentencepiece python3-regex libopenblas0-pthread
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
