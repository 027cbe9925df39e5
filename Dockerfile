# dfs in one image: dfs-master, dfs-storage, dfs-replicator, the dfs CLI, mount.dfs,
# and Debian's redis-server, PostgreSQL 15 and haproxy (so a whole cluster, one master on
# SQLite or many over PostgreSQL behind haproxy, needs only this image).
#   docker build -t dfs .            (see docs/containers.md)

# ---- build: only the five programs, no tests, no benchmarks ----
FROM debian:bookworm-slim AS build
ARG JOBS=2
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ make cmake pkg-config \
      libfuse3-dev libcpp-httplib-dev nlohmann-json3-dev libsqlite3-dev libhiredis-dev libssl-dev libpq-dev zlib1g-dev \
      libcli11-dev libgtest-dev \
 && rm -rf /var/lib/apt/lists/*
# (libgtest-dev only because the CMake configure step looks for it; no test is built.)
WORKDIR /src
COPY . .
# A unity build (one translation unit per target) needs ~40% less CPU; should a source ever not
# compile that way, the ordinary build runs instead.
ARG TARGETS="dfs-master dfs-storage dfs-replicator dfs mount.dfs"
RUN { cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DDFS_WERROR=OFF -DCMAKE_UNITY_BUILD=ON >/dev/null \
      && cmake --build /build -j"${JOBS}" --target ${TARGETS}; } \
 || { echo "unity build failed: building file by file" \
      && rm -rf /build && cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DDFS_WERROR=OFF >/dev/null \
      && cmake --build /build -j"${JOBS}" --target ${TARGETS}; } \
 && strip /build/bin/dfs-master /build/bin/dfs-storage /build/bin/dfs-replicator /build/bin/dfs /build/bin/mount.dfs

# ---- runtime: the programs and their shared libraries ----
FROM debian:bookworm-slim
# (No default PostgreSQL cluster: dfs-postgres makes one in its service's volume.)
RUN mkdir -p /etc/postgresql-common/createcluster.d \
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/dfs.conf \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libfuse3-3 fuse3 libsqlite3-0 libpq5 libhiredis0.14 libssl3 libcpp-httplib0.11 \
      curl ca-certificates redis-server postgresql-15 haproxy \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system dfs && useradd --system --gid dfs --home-dir /var/lib/dfs --shell /usr/sbin/nologin dfs \
 && mkdir -p /var/lib/dfs && chown dfs:dfs /var/lib/dfs
COPY --from=build /build/bin/dfs-master /build/bin/dfs-storage /build/bin/dfs-replicator /build/bin/dfs /usr/local/bin/
COPY --from=build /build/bin/mount.dfs /sbin/
COPY scripts/dfs-haproxy-config packaging/dfs-postgres /usr/local/bin/
# Every service keeps its state in /var/lib/dfs: mount a volume there (docker-compose.yml gives
# each service its own); a new named volume starts as a copy of this folder, owned by dfs.
WORKDIR /var/lib/dfs
USER dfs
EXPOSE 8820 8821
CMD ["dfs", "--help"]
