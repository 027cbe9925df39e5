#!/usr/bin/env bash
# bench/write_bench.sh [FILE_MB] [APPENDS]: what the mount uploads for small changes to a big file,
# counted from the storage nodes' dfs_http_received_bytes_total (copies included) on its own
# cluster (3 nodes, 3 copies, 64 MiB chunks, 127.0.0.1 from build/bin; stopped on any exit):
#   - a 4 KiB change inside a FILE_MB file (default 300)
#   - APPENDS (default 50) appends of 1 MiB, each followed by fsync, timed beside the same on local disk
#   - the background compaction of the chunks those appends left (--compact-after-ms 5 s): chunks
#     before and after, and what it stored.
# Waits until every chunk has its copies before each count (the replicator's copies are counted).
set -euo pipefail
FILE_MB=${1:-300}
APPENDS=${2:-50}
PORT=${WRITE_BENCH_PORT:-18880}
WORK=$(mktemp -d /var/tmp/dfs-write-bench.XXXXXX)
source "$(dirname "$0")/mount_lib.sh"
mkdir -p "$WORK/local"
start_cluster
mount_dfs

meta() { curl -fsS "$MASTER/api/v1/meta/$1"; }
received() {  # request body bytes all nodes have received
  local total=0 url
  for url in $(curl -fsS "$MASTER/api/v1/nodes" | python3 -c 'import json,sys; [print(n["url"]) for n in json.load(sys.stdin)["nodes"]]'); do
    total=$((total + $(curl -fsS "$url/metrics" | awk '/^dfs_http_received_bytes_total\{/ {s += $2} END {printf "%d", s}')))
  done
  echo "$total"
}
replicated() {  # waits (up to 120 s) until every chunk of $1 has its copies
  for _ in $(seq 1200); do
    meta "$1" | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin).get("fully_replicated") else 1)' && return 0
    sleep 0.1
  done
  echo "$1 never got all its copies" >&2; exit 1
}
chunks() { meta "$1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["chunks"]))'; }
now_ms() { date +%s%3N; }
mib() { awk -v b="$1" 'BEGIN{printf "%.1f MiB", b/1048576}'; }

head -c "$((FILE_MB << 20))" /dev/urandom > "$WORK/src"
cp "$WORK/src" "$MNT/big"
replicated big
echo "file: $FILE_MB MiB, $(chunks big) chunks, 3 copies"

before=$(received)
python3 - "$MNT/big" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.pwrite(fd, os.urandom(4096), 5 * 2**20 + 12345)
os.close(fd)
PY
replicated big
echo "4 KiB change inside it:        nodes received $(mib $(($(received) - before)))"

append_loop() {  # append_loop FILE: APPENDS x (1 MiB append + fsync); prints ms
  python3 - "$1" "$APPENDS" <<'PY'
import os, sys, time
path, n = sys.argv[1], int(sys.argv[2])
data = __import__("random").Random(7).randbytes(2**20)  # the same bytes on both
t = time.perf_counter()
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
for _ in range(n):
    os.write(fd, data)
    os.fsync(fd)
os.close(fd)
print(int((time.perf_counter() - t) * 1000))
PY
}
before=$(received)
cp "$MNT/big" "$WORK/local/big" && sync  # with the 4 KiB change
dfs_ms=$(append_loop "$MNT/big")
local_ms=$(append_loop "$WORK/local/big")
replicated big
appended=$(chunks big)
echo "$APPENDS x (1 MiB append + fsync): nodes received $(mib $(($(received) - before))) for $APPENDS MiB appended; $dfs_ms ms (local disk $local_ms ms, $(awk -v a="$dfs_ms" -v b="$local_ms" 'BEGIN{printf "%.2fx", a/b}') the time); $appended chunks"
before=$(received)
start=$(now_ms)
for _ in $(seq 600); do [ "$(chunks big)" -lt "$appended" ] && break; sleep 0.1; done
want=$(( (FILE_MB + APPENDS + 63) / 64 ))
for _ in $(seq 1200); do [ "$(chunks big)" -le "$want" ] && break; sleep 0.1; done
replicated big
echo "compaction: $appended -> $(chunks big) chunks within $(( $(now_ms) - start )) ms of the last check; nodes received $(mib $(($(received) - before))) (copies included)"
cmp "$WORK/local/big" "$MNT/big" && echo "content: the same as the local copy"
