#!/usr/bin/env bash
# The whole test suite: installs missing dependencies, builds, runs ctest.
#   scripts/test.sh              normal build in build/
#   scripts/test.sh --sanitize   AddressSanitizer + UBSan build in build-asan/; any report (from a
#                                test or a server it started, leaks at exit included) fails the run
#   scripts/test.sh --tsan -L tsan   ThreadSanitizer build in build-tsan/ of the tests labelled
#                                    tsan and the programs they start; any TSan report (from a test
#                                    or a dfs-master/-storage/-replicator it started) fails the run
# Extra arguments after the flags go to ctest (e.g. -R Master -L unit).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# Everything the tests need (PostgreSQL and haproxy for the many-masters tests included).
"$ROOT/scripts/install-deps.sh"
BUILD_DIR="$ROOT/build"
CMAKE_ARGS=()
SANITIZE=0
if [ "${1:-}" = "--sanitize" ]; then
  shift
  SANITIZE=1
  BUILD_DIR="$ROOT/build-asan"
  CMAKE_ARGS+=(-DDFS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
fi
if [ "${1:-}" = "--tsan" ]; then
  shift
  BUILD_DIR="$ROOT/build-tsan"
  "$ROOT/scripts/install-deps.sh"
  cmake -S "$ROOT" -B "$BUILD_DIR" -DDFS_WERROR=ON -DDFS_TSAN=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target label_tsan
  REPORTS="$BUILD_DIR/tsan-reports"
  rm -rf "$REPORTS" && mkdir -p "$REPORTS"
  # Reports go to files so races in child processes are caught too.
  export TSAN_OPTIONS="log_path=$REPORTS/tsan second_deadlock_stack=1 suppressions=$ROOT/scripts/tsan.supp ${TSAN_OPTIONS:-}"
  cd "$BUILD_DIR"
  status=0
  ctest --output-on-failure --no-tests=error -j2 --timeout 600 "$@" || status=$?
  if compgen -G "$REPORTS/tsan.*" >/dev/null; then
    echo "ThreadSanitizer reports ($REPORTS):" >&2
    cat "$REPORTS"/tsan.* >&2
    exit 1
  fi
  exit $status
fi
BUILD_DIR="$BUILD_DIR" "$ROOT/scripts/build.sh" "${CMAKE_ARGS[@]}"
cd "$BUILD_DIR"
if [ "$SANITIZE" = 0 ]; then
  # Integration tests start whole clusters: two at a time suits 2 cores.
  exec ctest --output-on-failure --no-tests=error -j2 --timeout 600 "$@"
fi
# The servers the tests start write their reports to files too: their stderr
# goes to logs in temp folders that are deleted with the test, and a server
# that reports at exit (a leak) is not checked by the test that stopped it.
REPORTS="$BUILD_DIR/sanitizer-reports"
rm -rf "$REPORTS" && mkdir -p "$REPORTS"
export ASAN_OPTIONS="log_path=$REPORTS/asan:log_exe_name=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="log_path=$REPORTS/ubsan:log_exe_name=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
status=0
ctest --output-on-failure --no-tests=error -j2 --timeout 600 "$@" || status=$?
if compgen -G "$REPORTS/*" >/dev/null; then
  echo "AddressSanitizer/UBSan reports ($REPORTS):" >&2
  for f in "$REPORTS"/*; do echo "== $f" >&2; cat "$f" >&2; done
  exit 1
fi
exit $status
