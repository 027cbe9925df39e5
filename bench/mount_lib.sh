# bench/mount_lib.sh: sourced by the shell benchmarks that need a cluster and a mount of it.
# Before sourcing, set PORT (the master's) and WORK (a fresh folder, removed at exit). Gives
# BIN, MASTER, MNT ($WORK/mnt), and: start_cluster (3 nodes, 3 copies, on 127.0.0.1),
# mount_dfs (a mount with an empty cache_dir), unmount_dfs, drop_caches. Whatever happens, at exit
# the mount and the cluster are stopped (by pid) and WORK is removed.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${DFS_BIN_DIR:-$ROOT/build/bin}"
MASTER="http://127.0.0.1:$PORT"
MNT="$WORK/mnt"
MOUNT_PID=""
[ -x "$BIN/mount.dfs" ] || { echo "$BIN/mount.dfs is not built" >&2; exit 2; }
mkdir -p "$MNT"
cleanup() {
  if [ -n "$MOUNT_PID" ]; then fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true; kill "$MOUNT_PID" 2>/dev/null || true; fi
  DFS_BIN_DIR="$BIN" "$ROOT/scripts/dfs-cluster" down --dir "$WORK/cluster" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
start_cluster() { DFS_BIN_DIR="$BIN" "$ROOT/scripts/dfs-cluster" up --nodes 3 --port "$PORT" --dir "$WORK/cluster" >/dev/null; }
mount_dfs() {
  rm -rf "$WORK/cache"
  "$BIN/mount.dfs" "$MASTER" "$MNT" -f -o "cache_dir=$WORK/cache" >>"$WORK/mount.log" 2>&1 &
  MOUNT_PID=$!
  for _ in $(seq 100); do mountpoint -q "$MNT" && return 0; sleep 0.1; done
  echo "mount.dfs did not mount; see $WORK/mount.log" >&2; exit 1
}
unmount_dfs() {
  fusermount3 -u "$MNT"
  wait "$MOUNT_PID" 2>/dev/null || true
  MOUNT_PID=""
}
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
