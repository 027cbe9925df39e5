#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang into build-fuzz/ and runs
# each for SECONDS (default 30) from its seed corpus and regressions.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# A crash fails the run (exit 1) and leaves the input as build-fuzz/<target>-crash-*:
# copy it to fuzz/regressions/<target>/ so every ctest run replays it
# (fuzz_replay_test), then fix the bug. New corpus entries found during a run
# stay in build-fuzz/corpus-<target>/ (not in git). fuzz/<target>.dict, when
# there is one, is libFuzzer's dictionary for that target.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECONDS_EACH="${1:-30}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(path collision_name replication_job endpoint error_body master_requests master_http storage_http)

"$ROOT/scripts/install-deps.sh"
# clang and its libFuzzer/sanitizer runtimes are needed here only.
missing=()
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "fuzz: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq  # a fresh machine has no package lists yet
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

BUILD="$ROOT/build-fuzz"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDFS_FUZZ=ON >/dev/null
targets=()
for t in "${TARGETS[@]}"; do targets+=("fuzz_$t"); done
cmake --build "$BUILD" -j"${JOBS:-2}" --target "${targets[@]}" >/dev/null

cd "$BUILD"
status=0
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus-$t"
  seeds=("$ROOT/fuzz/corpus/$t")
  [ -d "$ROOT/fuzz/regressions/$t" ] && seeds+=("$ROOT/fuzz/regressions/$t")
  dict=()
  [ -f "$ROOT/fuzz/$t.dict" ] && dict=(-dict="$ROOT/fuzz/$t.dict")
  echo "== fuzz_$t for ${SECONDS_EACH}s"
  if ! "./bin/fuzz_$t" -max_total_time="$SECONDS_EACH" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$t-" "${dict[@]}" "corpus-$t" "${seeds[@]}" >"fuzz_$t.log" 2>&1; then
    echo "fuzz_$t FAILED: see $BUILD/fuzz_$t.log; crash input:" >&2
    ls -1 "$BUILD/$t"-crash-* "$BUILD/$t"-leak-* "$BUILD/$t"-timeout-* "$BUILD/$t"-oom-* 2>/dev/null >&2 || true
    tail -30 "fuzz_$t.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_runs|cov:" "fuzz_$t.log" | tail -2
  fi
done
exit $status
