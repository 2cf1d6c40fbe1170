#!/usr/bin/env bash
# Keeps docs/ARCHITECTURE.md's code map true: every folder under src/ must be named there as
# `src/<name>/`, and every src/ folder it names must exist.
# Usage: scripts/check-code-map.sh [ROOT]   (default: the checkout holding this script)
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
doc="$root/docs/ARCHITECTURE.md"
[ -f "$doc" ] || { echo "code map: $doc is missing"; exit 1; }
# The code map is the "## Code map" section, up to the next "## " heading.
map=$(awk '/^## Code map/{on=1; next} /^## /{on=0} on' "$doc")
[ -n "$map" ] || { echo "code map: docs/ARCHITECTURE.md has no '## Code map' section"; exit 1; }
errors=0
for dir in "$root"/src/*/; do
  name=$(basename "$dir")
  if ! grep -qF "\`src/$name/\`" <<<"$map"; then
    echo "code map: src/$name/ exists but docs/ARCHITECTURE.md's code map does not name it:" \
         "add a line '- \`src/$name/\`: <its one-line purpose>'"
    errors=$((errors + 1))
  fi
done
for name in $(grep -oE '`src/[A-Za-z0-9_]+/`' <<<"$map" | sed -E 's#`src/([^/]+)/`#\1#' | sort -u); do
  if [ ! -d "$root/src/$name" ]; then
    echo "code map: docs/ARCHITECTURE.md names src/$name/, which does not exist (list only folders that do)"
    errors=$((errors + 1))
  fi
done
[ "$errors" -eq 0 ] || exit 1
echo "code map: ok (every folder under src/ is named, every named one exists)"
