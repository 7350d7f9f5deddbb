#!/usr/bin/env bash
# The tracked tree's budget: the device tool copies the working tree (≤ 64 MiB with what a run
# carries), so the tracked files stay ≤ 48 MiB — the committed study's weights and five seeds
# included. A CI check, not a unit test: it is about the repository, not the code.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=$(( 48 * 1024 * 1024 ))
total=$(git ls-files -z | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
awk -v t="$total" -v l="$limit" 'BEGIN {printf "== tracked tree: %.1f MiB of %d MiB\n", t / 1048576, l / 1048576}'
if (( total > limit )); then
  echo "error: the tracked tree is over its budget: move large artifacts out of git (the full" \
       "study's weights are float16 already; see docs/maintainers.md)" >&2
  exit 1
fi
