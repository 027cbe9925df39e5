// ReplicationApi: the master's replication and membership routes
// (docs/protocol.md, "Replication"): what the replicator asks and reports,
// draining nodes, and the queue's state and dead letters for `dfs`.
#pragma once

#include <httplib.h>

#include "master/file_service.h"
#include "replicator/replication_queue.h"

namespace dfs::master {

// Under-replicated and unpublished counts, and the queue's length, pending
// and dead-letter counts when there is a queue (GET /api/v1/replication).
Result<nlohmann::json> ReplicationStatus(FileService& files, replication::ReplicationQueue* queue);

// `queue` may be null (no --redis): queue routes then answer 503.
void RegisterReplicationRoutes(httplib::Server& server, FileService& files, replication::ReplicationQueue* queue);

}  // namespace dfs::master
