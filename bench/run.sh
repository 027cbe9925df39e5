#!/usr/bin/env bash
# Builds and runs every benchmark, printing figures and ratios against
# baselines (local disk, plain curl, the empty namespace) measured in the same run.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
"$ROOT/scripts/build.sh" >/dev/null
for b in put_get_bench replication_bench fuse_bench tiny_put_bench namespace_bench; do
  echo "== $b"
  "$BUILD_DIR/bin/$b"
  echo
done
