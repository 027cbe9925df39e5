#!/usr/bin/env bash
# test-compose.sh: builds the dfs image from ./Dockerfile and runs docker-compose.yml end to end
# on this machine, which has no Docker engine running and no image registry.
#
# It starts a private dockerd (no bridge, no iptables; its own data root, exec root and socket
# in a temp dir), makes the debian:bookworm-slim base image offline with debootstrap (rootfs
# cached in $DFS_TEST_CACHE, default /var/cache/dfs-test), builds the image with host
# networking, and runs the cluster with docker-compose.test.yml on top of docker-compose.yml:
# every service on the host's network on free 127.0.0.1 ports. Then: put/get with md5 checks
# (curl and the image's dfs CLI), a storage container stopped -> reads still correct, a node
# container added -> it registers and takes placements, the stopped one restarted -> same node,
# and `down -v` leaves no container or volume. Then the `postgres` profile the same way:
# PostgreSQL, three masters and haproxy; put/get through the balancer, every master serving the
# same files, one master killed -> put/get still work, `down -v` leaves nothing. The daemon it
# started is stopped by pid and the temp dir removed, also when a check fails. Needs root.
# Usage: scripts/test-compose.sh
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${DFS_TEST_CACHE:-/var/cache/dfs-test}"
JOBS="${DFS_TEST_JOBS:-2}"
PROJECT=dfstest
IMAGE=dfs:test
START=$(date +%s)

log() { echo "test-compose [$(( $(date +%s) - START ))s]: $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "needs root (it starts its own dockerd)"

# ---- tools (Debian packages), installed only when missing ----
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
for tool in curl python3 md5sum; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
python3 -c 'import yaml' 2>/dev/null || missing+=(python3-yaml)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Where systemd runs, installing docker.io would start the system's dockerd (with its
  # docker0 bridge): forbid service starts during the install.
  made_policy=""
  if [ -d /run/systemd/system ] && [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]/md5sum/coreutils}" >/dev/null
  [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
fi
# The docker CLI that comes with dockerd (another one earlier in PATH may not match it).
DOCKER="$(dirname "$(command -v dockerd)")/../bin/docker"
[ -x "$DOCKER" ] || DOCKER="$(command -v docker)"
export DOCKER_BUILDKIT=0   # the classic builder: `--network host` without buildkit entitlements

WORK="$(mktemp -d /tmp/dfs-compose.XXXXXX)"
export DOCKER_HOST="unix://$WORK/docker.sock"
DOCKERD_PID=""
DATA_ROOT="$WORK/data"
COMPOSE=()

# The test runs a rendering of docker-compose.yml + docker-compose.test.yml (`config`) without
# the master's published port: on the host's network nothing is published, and compose v1
# refuses `ports` with network_mode host, while an override file cannot remove a list entry.
PROFILES=(--profile scale)
compose_sources() {
  "${COMPOSE[@]}" -p "$PROJECT" -f "$ROOT/docker-compose.yml" -f "$ROOT/docker-compose.test.yml" \
    "${PROFILES[@]}" "$@"
}
compose() { "${COMPOSE[@]}" -p "$PROJECT" -f "$WORK/compose.yml" "${PROFILES[@]}" "$@"; }

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

cleanup() {
  local rc=$?
  set +e
  if alive "$DOCKERD_PID"; then
    if [ "$rc" -ne 0 ] && [ ${#COMPOSE[@]} -gt 0 ] && [ -n "$("$DOCKER" ps -aq 2>/dev/null)" ]; then
      log "logs of the failed run:"; compose logs --no-color --tail 40 >&2 2>&1
    fi
    local ids; ids=$("$DOCKER" ps -aq 2>/dev/null)
    [ -n "$ids" ] && [ ${#COMPOSE[@]} -gt 0 ] && compose down -v --remove-orphans >/dev/null 2>&1
    ids=$("$DOCKER" ps -aq 2>/dev/null)
    [ -n "$ids" ] && "$DOCKER" rm -f -v $ids >/dev/null 2>&1
    log "stopping dockerd (pid $DOCKERD_PID)"
    kill -TERM "$DOCKERD_PID"
    for _ in $(seq 1 150); do alive "$DOCKERD_PID" || break; sleep 0.2; done
    alive "$DOCKERD_PID" && { log "dockerd still running after 30s: SIGKILL"; kill -KILL "$DOCKERD_PID"; }
  fi
  # containerd and shims that dockerd started name our temp dir in their command lines.
  local pid
  for pid in $(pgrep -f -- "$WORK" 2>/dev/null); do
    [ "$pid" != "$$" ] && kill -KILL "$pid" 2>/dev/null
  done
  local mnt
  for mnt in $(awk -v w="$WORK" -v d="$DATA_ROOT" 'index($2, w) == 1 || index($2, d) == 1 {print $2}' /proc/mounts | sort -r); do
    umount "$mnt" 2>/dev/null || umount -l "$mnt"
  done
  rm -rf --one-file-system "$WORK"
  [ -n "$DOCKERD_PID" ] && log "daemon stopped, temp dir removed"
  if [ "$rc" -eq 0 ]; then log "PASS in $(( $(date +%s) - START ))s"; else log "FAILED (exit $rc)"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- a private dockerd: no bridge network, no iptables, everything under $WORK ----
# DFS_TEST_DATA_ROOT=DIR keeps images and build cache there between runs (for development;
# containers and volumes are still removed). By default everything lives in the temp dir.
DATA_ROOT="${DFS_TEST_DATA_ROOT:-$WORK/data}"
echo '{}' > "$WORK/daemon.json"
dockerd --config-file "$WORK/daemon.json" --bridge=none --iptables=false --ip-masq=false \
  --data-root "$DATA_ROOT" --exec-root "$WORK/exec" --pidfile "$WORK/dockerd.pid" \
  -H "$DOCKER_HOST" --storage-driver overlay2 >"$WORK/dockerd.log" 2>&1 &
DOCKERD_PID=$!
for _ in $(seq 1 150); do
  "$DOCKER" version >/dev/null 2>&1 && break
  alive "$DOCKERD_PID" || { tail -20 "$WORK/dockerd.log" >&2; fail "dockerd exited"; }
  sleep 0.2
done
"$DOCKER" version >/dev/null 2>&1 || { tail -20 "$WORK/dockerd.log" >&2; fail "dockerd did not answer"; }
if "$DOCKER" compose version >/dev/null 2>&1; then COMPOSE=("$DOCKER" compose); else COMPOSE=(docker-compose); fi
log "dockerd pid $DOCKERD_PID ($("$DOCKER" version --format '{{.Server.Version}}')), compose: ${COMPOSE[*]}"

# ---- base image, offline: debootstrap once, then import the cached tarball ----
ROOTFS_TAR="$CACHE/debian-bookworm-minbase.tar"
if [ ! -s "$ROOTFS_TAR" ]; then
  mirror="${DFS_TEST_MIRROR:-}"
  if [ -z "$mirror" ]; then
    mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
      grep -oE '^(URIs:|deb)[[:space:]]+(\[[^]]*\][[:space:]]+)?https?://[^[:space:]]+' | grep -oE 'https?://[^[:space:]]+' |
      grep -E '/debian/?$' | head -1 || true)
  fi
  [ -n "$mirror" ] || fail "no Debian mirror in the apt sources (/etc/apt/sources.list*); set DFS_TEST_MIRROR=URL"
  log "debootstrap bookworm (minbase) from $mirror (cached in $ROOTFS_TAR for next time)"
  debootstrap --variant=minbase bookworm "$WORK/rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/debootstrap.log" >&2; fail "debootstrap failed"; }
  rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"*
  mkdir -p "$CACHE"
  tar -C "$WORK/rootfs" --numeric-owner -cf "$ROOTFS_TAR.tmp" . && mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
  rm -rf --one-file-system "$WORK/rootfs"
fi
# (Kept when DFS_TEST_DATA_ROOT already has it: a new import would defeat the build cache.)
if ! "$DOCKER" image inspect debian:bookworm-slim >/dev/null 2>&1; then
  "$DOCKER" import -c 'CMD ["bash"]' "$ROOTFS_TAR" debian:bookworm-slim >/dev/null
  log "base image debian:bookworm-slim imported"
fi

# ---- the image ----
log "docker build (-j$JOBS) ..."
t0=$(date +%s)
"$DOCKER" build --network host --build-arg JOBS="$JOBS" -t "$IMAGE" "$ROOT" >"$WORK/build.log" 2>&1 ||
  { tail -40 "$WORK/build.log" >&2; fail "docker build failed"; }
log "image built in $(( $(date +%s) - t0 ))s: $("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"
"$DOCKER" run --rm --network host "$IMAGE" sh -ec '
  for b in dfs-master dfs-storage dfs-replicator dfs /sbin/mount.dfs redis-server; do
    p=$(command -v "$b"); if ldd "$p" | grep "not found"; then echo "$b: missing libraries"; exit 1; fi
  done
  for b in dfs-master dfs-storage dfs-replicator dfs; do "$b" --help >/dev/null || { echo "$b --help failed"; exit 1; }; done
  mount.dfs --help >/dev/null 2>&1 || { echo "mount.dfs --help failed"; exit 1; }
  redis-server --version >/dev/null
  haproxy -v >/dev/null && /usr/lib/postgresql/15/bin/postgres --version >/dev/null
  command -v dfs-postgres >/dev/null && dfs-haproxy-config --help >/dev/null
  [ "$(id -un)" = dfs ] || { echo "runs as $(id -un), not dfs"; exit 1; }' || fail "image check"
log "image: all programs start (PostgreSQL and haproxy too), no missing libraries, user dfs"

# ---- the cluster: docker-compose.yml + docker-compose.test.yml (host network, free ports) ----
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
export DFS_IMAGE="$IMAGE" DFS_TEST_MASTER_PORT="$(free_port)" DFS_TEST_REDIS_PORT="$(free_port)" \
  DFS_TEST_REPLICATOR_PORT="$(free_port)"
for i in 1 2 3 4; do export "DFS_TEST_STORAGE${i}_PORT=$(free_port)"; done
export DFS_TEST_PG_PORT="$(free_port)" DFS_TEST_MASTER2_PORT="$(free_port)" DFS_TEST_MASTER3_PORT="$(free_port)" \
  DFS_TEST_LB_PORT="$(free_port)"
M="http://127.0.0.1:$DFS_TEST_MASTER_PORT"
export DFS_TEST_MASTERS="$M"

# Renders the compose files for PROFILES into $WORK/compose.yml, checking it has $1 services
# (compose v1's `config` lists every service, whatever the profiles; `up` names what it starts).
render() {
  compose_sources config > "$WORK/compose.merged.yml" || fail "compose config"
  # Never a bridge network here: every service must be on the host's network, no network declared.
  python3 - "$WORK/compose.merged.yml" "$WORK/compose.yml" "$1" <<'PY' || fail "the test config is not host-network only"
import sys, yaml
config = yaml.safe_load(open(sys.argv[1]))
services = config["services"]
assert len(services) == int(sys.argv[3]), sorted(services)
for name, service in services.items():
    assert service.get("network_mode") == "host", name + " is not on network_mode host"
    assert "networks" not in service, name + " names networks"
    service.pop("ports", None)
assert not config.get("networks"), "networks declared"
yaml.safe_dump(config, open(sys.argv[2], "w"), default_flow_style=False)
PY
}
render 11

log "compose up (master on $M)"
compose up -d --no-build redis master replicator storage1 storage2 storage3 >"$WORK/up.log" 2>&1 ||
  { cat "$WORK/up.log" >&2; fail "compose up failed"; }
[ -z "$("$DOCKER" network ls -q --filter driver=bridge)" ] || fail "a bridge network was created"

json() {  # url python-expression-on-d
  curl -fsS --max-time 5 "$1" | python3 -c "import json,sys; d=json.load(sys.stdin); print($2)"
}
nodes_up() { json "$M/api/v1/nodes" 'sum(1 for n in d["nodes"] if n["state"] == "up")' 2>/dev/null || echo 0; }
wait_for() {  # seconds description command...
  local secs="$1" what="$2" deadline; shift 2
  deadline=$(( $(date +%s) + secs ))
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "timed out after ${secs}s waiting for $what"
    sleep 0.5
  done
}
all_healthy() {
  local c s
  for c in $(compose ps -q); do
    s=$("$DOCKER" inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$c")
    [ "$s" = healthy ] || [ "$s" = running ] || return 1
  done
}
three_up() { [ "$(nodes_up)" -ge 3 ]; }
wait_for 60 "3 storage nodes up" three_up
wait_for 60 "every container healthy" all_healthy
log "cluster up: 3 nodes registered, health checks green"

# ---- put / get through the master, md5 compared ----
mkdir -p "$WORK/files" && chmod 755 "$WORK/files"
sizes=(1 65536 1048577 8388608 20000000)
for i in "${!sizes[@]}"; do head -c "${sizes[$i]}" /dev/urandom > "$WORK/files/f$i"; done
chmod 644 "$WORK/files/"*
md5() { md5sum < "$1" | cut -c1-32; }
put() {  # local name -> prints the primary node's url
  curl -fsS --max-time 60 -T "$1" -H "X-Dfs-Md5: $(md5 "$1")" "$M/api/v1/files/$2?conflict=overwrite" >/dev/null ||
    fail "put $2"
  json "$M/api/v1/files/$2/locations" 'd["primary"]["url"]'
}
check_get() {  # local name
  local got; got=$(curl -fsS --max-time 60 "$M/api/v1/files/$2" | md5sum | cut -c1-32) || fail "get $2"
  [ "$got" = "$(md5 "$1")" ] || fail "get $2: md5 $got, want $(md5 "$1")"
}
NAMES=()
for i in "${!sizes[@]}"; do put "$WORK/files/f$i" "compose/f$i" >/dev/null; NAMES+=("f$i"); done
# The image's dfs CLI, on the host's network, against the same master.
cli() { "$DOCKER" run --rm --network host -v "$WORK/files:/files:ro" "$IMAGE" dfs --master "$M" "$@"; }
# The CLI sends its user's ids (the image's user dfs): compose/ is root's (made by curl, which
# sends none), so it is refused there and given a folder of its own, as an admin would.
if cli put /files/f2 compose/cli-f2 >/dev/null 2>&1; then fail "dfs put as user dfs into root's folder was not refused"; fi
cli_uid=$("$DOCKER" run --rm "$IMAGE" id -u) && cli_gid=$("$DOCKER" run --rm "$IMAGE" id -g) || fail "id in the image"
curl -fsS --max-time 10 -X POST -H 'Content-Type: application/json' -d '{"mode": 493}' "$M/api/v1/dirs/cli-home" >/dev/null || fail "mkdir cli-home"
curl -fsS --max-time 10 -X PATCH -H 'Content-Type: application/json' -d "{\"uid\": $cli_uid, \"gid\": $cli_gid}" \
  "$M/api/v1/files/cli-home" >/dev/null || fail "chown cli-home"
cli put /files/f2 cli-home/cli-f2 >/dev/null || fail "dfs put"
[ "$(cli get cli-home/cli-f2 - | md5sum | cut -c1-32)" = "$(md5 "$WORK/files/f2")" ] || fail "dfs get: md5 differs"
for n in "${NAMES[@]}"; do check_get "$WORK/files/$n" "compose/$n"; done
log "put/get of ${#NAMES[@]} files (1 B .. 20 MB) with curl and of one with the image's dfs CLI: md5 ok"

# ---- replicas: wait until fully replicated, stop the node holding most primaries, read again ----
fully() {
  local n
  for n in "${NAMES[@]}"; do
    [ "$(json "$M/api/v1/files/compose/$n/locations" 'd["fully_replicated"]' 2>/dev/null)" = True ] || return 1
  done
}
wait_for 120 "every file fully replicated" fully
victim_url=$(for n in "${NAMES[@]}"; do json "$M/api/v1/files/compose/$n/locations" 'd["primary"]["url"]'; done |
  sort | uniq -c | sort -rn | awk 'NR==1 {print $2}')
victim=""
for i in 1 2 3; do
  v="DFS_TEST_STORAGE${i}_PORT"
  [ "$victim_url" = "http://127.0.0.1:${!v}" ] && victim="storage$i"
done
[ -n "$victim" ] || fail "no storage service advertises $victim_url"
victim_id=$(json "$M/api/v1/nodes" "[n['node_id'] for n in d['nodes'] if n['url'] == '$victim_url'][0]")
log "all files have 3 copies; stopping $victim ($victim_url, node $victim_id), the primary of the most files"
compose stop "$victim" >/dev/null 2>&1 || fail "compose stop $victim"
for n in "${NAMES[@]}"; do check_get "$WORK/files/$n" "compose/$n"; done
[ "$(cli get cli-home/cli-f2 - | md5sum | cut -c1-32)" = "$(md5 "$WORK/files/f2")" ] || fail "dfs get after stop"
log "with $victim stopped every file still reads back with the right md5"

# ---- a node added at run time (the scale profile's service) takes placements ----
new_url="http://127.0.0.1:$DFS_TEST_STORAGE4_PORT"
compose up -d --no-build --no-deps storage >"$WORK/up4.log" 2>&1 || { cat "$WORK/up4.log" >&2; fail "adding a node"; }
new_up() { [ "$(json "$M/api/v1/nodes" "[n['state'] for n in d['nodes'] if n['url'] == '$new_url']" 2>/dev/null)" = "['up']" ]; }
wait_for 60 "the added node to register" new_up
landed=""
for k in $(seq 1 40); do
  head -c $(( 1000 + k )) /dev/urandom > "$WORK/files/new$k"
  url=$(put "$WORK/files/new$k" "compose/new$k")
  check_get "$WORK/files/new$k" "compose/new$k"
  if [ "$url" = "$new_url" ]; then landed=$k; break; fi
done
[ -n "$landed" ] || fail "40 files placed, none on the added node"
log "added node registered and took placements (file $landed of the puts landed on it)"

# ---- the stopped node comes back as the same node, with its volume ----
compose start "$victim" >/dev/null 2>&1 || fail "compose start $victim"
back() { [ "$(json "$M/api/v1/nodes" "[n['state'] for n in d['nodes'] if n['node_id'] == '$victim_id']" 2>/dev/null)" = "['up']" ]; }
wait_for 60 "$victim to come back" back
log "$victim restarted and re-registered as node $victim_id"

# ---- down -v: nothing left ----
down_leaves_nothing() {
  compose down -v --remove-orphans >"$WORK/down.log" 2>&1 || { cat "$WORK/down.log" >&2; fail "compose down -v"; }
  [ -z "$("$DOCKER" ps -aq)" ] || fail "containers left after down -v: $("$DOCKER" ps -a)"
  [ -z "$("$DOCKER" volume ls -q)" ] || fail "volumes left after down -v: $("$DOCKER" volume ls -q | tr '\n' ' ')"
  [ -z "$("$DOCKER" network ls -q --filter driver=bridge)" ] || fail "a bridge network exists"
  log "down -v: no container, no volume left"
}
down_leaves_nothing

# ---- the postgres profile: PostgreSQL, three masters, haproxy in front ----
PROFILES=(--profile scale --profile postgres)
export DFS_TEST_MASTERS="$M,http://127.0.0.1:$DFS_TEST_MASTER2_PORT,http://127.0.0.1:$DFS_TEST_MASTER3_PORT"
export DFS_METADATA="postgres://dfs@127.0.0.1:$DFS_TEST_PG_PORT/dfs"
DFS_PG_PASSWORD="test-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export DFS_PG_PASSWORD
render 11
MASTER_URLS=(${DFS_TEST_MASTERS//,/ })
M="http://127.0.0.1:$DFS_TEST_LB_PORT"
log "compose --profile postgres up (balancer on $M, masters ${DFS_TEST_MASTERS})"
compose up -d --no-build redis postgres master master2 master3 lb replicator storage1 storage2 storage3 \
  >"$WORK/up-pg.log" 2>&1 || { cat "$WORK/up-pg.log" >&2; fail "compose --profile postgres up failed"; }
wait_for 120 "3 storage nodes up (through the balancer)" three_up
wait_for 120 "every container healthy" all_healthy
log "postgres profile up: PostgreSQL, 3 masters, haproxy, 3 nodes registered, health checks green"
for n in "${NAMES[@]}"; do put "$WORK/files/$n" "compose/$n" >/dev/null; done
for n in "${NAMES[@]}"; do check_get "$WORK/files/$n" "compose/$n"; done
for url in "${MASTER_URLS[@]}"; do
  got=$(curl -fsS --max-time 60 "$url/api/v1/files/compose/f3" | md5sum | cut -c1-32) || fail "get from $url"
  [ "$got" = "$(md5 "$WORK/files/f3")" ] || fail "$url serves compose/f3 with md5 $got"
done
log "put/get of ${#NAMES[@]} files through haproxy: md5 ok; each of the 3 masters serves them"
compose kill master2 >/dev/null 2>&1 || fail "compose kill master2"
for k in 1 2 3 4 5; do
  head -c $(( 5000 + k )) /dev/urandom > "$WORK/files/pg$k"
  put "$WORK/files/pg$k" "compose/pg$k" >/dev/null
  check_get "$WORK/files/pg$k" "compose/pg$k"
done
for n in "${NAMES[@]}"; do check_get "$WORK/files/$n" "compose/$n"; done
log "master2 killed: 5 new files and the old ones put/get through haproxy, md5 ok"
down_leaves_nothing
