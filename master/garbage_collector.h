// GarbageCollector: removes orphaned blobs, i.e. copies on storage nodes
// that no file refers to: written by a PUT whose master died before the
// commit, copied by a replicator for a file deleted meanwhile, or left on a
// node that was down when its file was deleted and whose deletion job was
// lost. It never removes a blob a file refers to: each candidate is checked
// against the files table after listing, and only blobs older than `grace`
// are candidates (a PUT in flight writes its blob before committing it;
// blob ids are never reused).
#pragma once

#include <chrono>
#include <cstdint>

#include <httplib.h>

#include "common/metrics.h"
#include "master/file_service.h"

namespace dfs::master {

struct GcResult {
  uint64_t nodes = 0;    // nodes listed
  uint64_t scanned = 0;  // blobs seen
  uint64_t deleted = 0;  // orphans removed
  uint64_t bytes = 0;    // their size
};

// One pass over every up node. `metrics` (may be null) gets the counters.
GcResult CollectGarbage(FileService& files, std::chrono::milliseconds grace, metrics::Registry* metrics);

// POST /api/v1/gc[?grace_ms=N]: one pass now (default grace: `grace`), for
// operators and tests; answers the GcResult as JSON.
void RegisterGcRoute(httplib::Server& server, FileService& files, std::chrono::milliseconds grace,
                     metrics::Registry* metrics);

}  // namespace dfs::master
