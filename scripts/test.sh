#!/usr/bin/env bash
# The whole test suite: installs missing dependencies, builds, runs ctest.
#   scripts/test.sh              normal build in build/
#   scripts/test.sh --sanitize   AddressSanitizer + UBSan build in build-asan/
# Extra arguments after the flags go to ctest (e.g. -R Master -L unit).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR="$ROOT/build"
CMAKE_ARGS=()
if [ "${1:-}" = "--sanitize" ]; then
  shift
  BUILD_DIR="$ROOT/build-asan"
  CMAKE_ARGS+=(-DDFS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
fi
BUILD_DIR="$BUILD_DIR" "$ROOT/scripts/build.sh" "${CMAKE_ARGS[@]}"
cd "$BUILD_DIR"
# Integration tests start whole clusters: two at a time suits 2 cores.
exec ctest --output-on-failure -j2 --timeout 600 "$@"
