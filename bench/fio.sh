#!/usr/bin/env bash
# bench/fio.sh [SIZE_MB] [IO_MB]: fio with verify=md5 through a dfs mount, beside the same jobs on
# local disk (and on a MooseFS mount when MFS_MNT names one), measured in one run:
#   seq-write   SIZE_MB sequentially in 1 MiB writes, then fsync            (fio --rw=write)
#   seq-verify  that file read back cold and every block checked (md5)    (--verify_only)
#   rand-write  IO_MB of 4 KiB writes at random offsets over it, fsync      (--rw=randwrite)
#   rand-verify those 4 KiB blocks read back cold at the same offsets, checked
# Each target's cache is dropped before a read: the dfs mount is remounted with an empty cache_dir,
# the kernel's page cache dropped. Starts its own cluster (3 nodes, 3 copies) on 127.0.0.1 from
# build/bin and stops it, by pid, on any exit. Prints MiB/s per job and target, and dfs / local.
set -euo pipefail
SIZE_MB=${1:-1024}
IO_MB=${2:-64}
PORT=${FIO_PORT:-18870}
WORK=$(mktemp -d /var/tmp/dfs-fio.XXXXXX)
source "$(dirname "$0")/mount_lib.sh"
LOCAL="$WORK/local"
command -v fio >/dev/null || { echo "fio is not installed (apt-get install -y fio)" >&2; exit 2; }
mkdir -p "$LOCAL"
start_cluster

# fio_job TARGET_DIR NAME ARGS...: prints the job's MiB/s (reads or writes, whichever it did).
fio_job() {
  local dir=$1 name=$2; shift 2
  local out; out=$(fio --name="$name" --filename="$dir/fio.dat" --ioengine=psync --verify=md5 \
    --verify_fatal=1 --verify_state_save=0 --randrepeat=1 --output-format=json "$@")
  python3 -c 'import json,sys; j=json.loads(sys.stdin.read())["jobs"][0]
err=j.get("error",0)
if err: sys.exit("fio error %d" % err)
kb=max(j["read"]["bw"], j["write"]["bw"]); print("%.1f" % (kb/1024))' <<<"$out"
}

declare -A RESULT
run_target() {  # run_target LABEL DIR REMOUNT(0/1)
  local label=$1 dir=$2 remount=$3
  local common=(--size="${SIZE_MB}M")
  RESULT[$label,seq-write]=$(fio_job "$dir" seq "${common[@]}" --rw=write --bs=1M --end_fsync=1 --do_verify=0)
  if [ "$remount" = 1 ]; then unmount_dfs; drop_caches; mount_dfs; else drop_caches; fi
  RESULT[$label,seq-verify]=$(fio_job "$dir" seq "${common[@]}" --rw=write --bs=1M --verify_only)
  RESULT[$label,rand-write]=$(fio_job "$dir" rnd "${common[@]}" --io_size="${IO_MB}M" --rw=randwrite --bs=4k \
    --end_fsync=1 --do_verify=0)
  if [ "$remount" = 1 ]; then unmount_dfs; drop_caches; mount_dfs; else drop_caches; fi
  RESULT[$label,rand-verify]=$(fio_job "$dir" rnd "${common[@]}" --io_size="${IO_MB}M" --rw=randwrite --bs=4k \
    --verify_only)
  rm -f "$dir/fio.dat"
}

mount_dfs
run_target dfs "$MNT" 1
run_target local "$LOCAL" 0
targets=(dfs local)
if [ -n "${MFS_MNT:-}" ]; then
  mkdir -p "$MFS_MNT/dfs-fio.$$"
  run_target moosefs "$MFS_MNT/dfs-fio.$$" 0
  rmdir "$MFS_MNT/dfs-fio.$$"
  targets+=(moosefs)
fi
echo "fio verify=md5: ${SIZE_MB} MiB file, ${IO_MB} MiB of 4 KiB random writes (MiB/s; every read checked)"
printf '%-12s' job; for t in "${targets[@]}"; do printf '%12s' "$t"; done; printf '%12s' "dfs/local"
[ -n "${MFS_MNT:-}" ] && printf '%12s' "dfs/moosefs"; echo
for job in seq-write seq-verify rand-write rand-verify; do
  printf '%-12s' "$job"
  for t in "${targets[@]}"; do printf '%12s' "${RESULT[$t,$job]}"; done
  awk -v a="${RESULT[dfs,$job]}" -v b="${RESULT[local,$job]}" 'BEGIN{printf "%11.2fx", a/b}'
  [ -n "${MFS_MNT:-}" ] && awk -v a="${RESULT[dfs,$job]}" -v b="${RESULT[moosefs,$job]}" 'BEGIN{printf "%11.2fx", a/b}'
  echo
done
