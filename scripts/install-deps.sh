#!/usr/bin/env bash
# Installs what dfs needs to build, test and run, from Debian's packages.
# Idempotent: does nothing when everything is there.
#   scripts/install-deps.sh [PACKAGE...]         to build, run and test, and these
#   scripts/install-deps.sh --run [PACKAGE...]   to build and run only (dfs-cluster up;
#                                                --masters adds postgresql-15 haproxy)
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libfuse3-dev fuse3
  libcpp-httplib-dev nlohmann-json3-dev libsqlite3-dev libhiredis-dev libssl-dev libpq-dev zlib1g-dev
  libgtest-dev libcli11-dev  # (GoogleTest only because CMake's configure step looks for it)
  redis-server redis-tools
  curl ca-certificates python3 python3-requests procps
)
TEST_PACKAGES=(
  # Tests start their own PostgreSQL (initdb + postgres) and haproxy for the many-masters tests.
  postgresql-15 haproxy
  chromium
  # systemd-analyze (install_test checks the units), openssl (test certificates).
  systemd openssl
)
if [ "${1:-}" = "--run" ]; then
  shift
else
  PACKAGES+=("${TEST_PACKAGES[@]}")
fi
PACKAGES+=("$@")

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts a system redis-server on install; dfs runs its own instances.
# The same for PostgreSQL's and haproxy's system services, when this run installed them.
for service in redis-server postgresql haproxy; do
  [ "$service" = redis-server ] || [[ " ${missing[*]}" == *" $service"* ]] || continue
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$service" 2>/dev/null; then
    $SUDO systemctl disable --now "$service" >/dev/null 2>&1 || true
  fi
done
