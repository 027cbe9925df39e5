#!/usr/bin/env bash
# Configures and builds dfs into BUILD_DIR (default: build/). Extra args go to cmake.
#   scripts/build.sh --programs [cmake args]   only the five programs (what running needs)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
TARGETS=()
if [ "${1:-}" = "--programs" ]; then
  shift
  TARGETS=(--target dfs-master dfs-storage dfs-replicator dfs mount.dfs)
  "$ROOT/scripts/install-deps.sh" --run
else
  "$ROOT/scripts/install-deps.sh"
fi
cmake -S "$ROOT" -B "$BUILD_DIR" -DDFS_WERROR=ON "$@" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" "${TARGETS[@]}"
