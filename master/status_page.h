// The status web page at "/" (plain HTML/CSS/JS that refreshes itself) and
// GET /api/v1/status, the one JSON document it polls: cluster totals,
// nodes, replication queue and the master's recent warnings and errors.
#pragma once

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "master/file_service.h"
#include "replicator/replication_queue.h"

namespace dfs::master {

Result<nlohmann::json> ClusterStatus(FileService& files, replication::ReplicationQueue* queue);

// `queue` may be null (no --redis).
void RegisterStatusRoutes(httplib::Server& server, FileService& files, replication::ReplicationQueue* queue);

}  // namespace dfs::master
