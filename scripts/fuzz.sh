#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang++ with ASan + UBSan, build-fuzz/)
# and runs each for SECONDS (default 30) from its seed corpus. Fails when any
# target crashes or breaks a property; the input is saved under
# build-fuzz/crashes/<target>/ — add it to fuzz/regressions/<target>/ (then
# every ctest replays it) and fix the bug.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#   FUZZ_JOBS=2 scripts/fuzz.sh 3600 master_http    a longer run, 2 processes
# New inputs that reach new code collect in build-fuzz/corpus/<target>/
# (kept between runs); copy small interesting ones into fuzz/corpus/.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-fuzz}"
SECONDS_EACH="${1:-30}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(path collision_name http_util replication_job master_requests master_http)

"$ROOT/scripts/install-deps.sh"
# clang and its libFuzzer/sanitizer runtimes (libclang-rt-14-dev) are only needed here.
missing=()
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "fuzz: installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
fi

CXX=clang++ cmake -S "$ROOT" -B "$BUILD_DIR" -DDFS_FUZZ=ON -DDFS_WERROR=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target "${TARGETS[@]/%/_fuzz}"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=()
for t in "${TARGETS[@]}"; do
  corpus="$BUILD_DIR/corpus/$t" crashes="$BUILD_DIR/crashes/$t"
  mkdir -p "$corpus" "$crashes"
  args=(-max_total_time="$SECONDS_EACH" -max_len=8192 -timeout=10 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$crashes/")
  [ -f "$ROOT/fuzz/$t.dict" ] && args+=(-dict="$ROOT/fuzz/$t.dict")
  if [ -n "${FUZZ_JOBS:-}" ]; then args+=(-fork="$FUZZ_JOBS"); fi
  echo "== fuzz $t (${SECONDS_EACH}s)"
  log="$BUILD_DIR/fuzz-$t.log"
  seeds=("$ROOT/fuzz/corpus/$t")
  [ -d "$ROOT/fuzz/regressions/$t" ] && seeds+=("$ROOT/fuzz/regressions/$t")
  if "$BUILD_DIR/bin/${t}_fuzz" "${args[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1; then
    grep -E "^stat::number_of_executed_units|^Done" "$log" | tr '\n' ' '; echo
  else
    echo "fuzz: $t FAILED; input saved in $crashes/ (log: $log):" >&2
    grep -E "FUZZ_CHECK|ERROR: |SUMMARY|Test unit written" "$log" | cut -c1-300 >&2 || tail -20 "$log" >&2
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failing targets: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#TARGETS[@]} targets ran ${SECONDS_EACH}s each without a crash"
