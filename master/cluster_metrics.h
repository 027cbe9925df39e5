// The master's cluster gauges for /metrics, read from the metadata store at
// scrape time: files, bytes, under-replicated files, unpublished jobs, and
// per node its state, capacity, free space, blob count and last heartbeat.
#pragma once

#include "common/metrics.h"
#include "master/file_service.h"

namespace dfs::master {

void AddClusterMetrics(metrics::Registry& registry, FileService& files);

// Route labels of the master's HTTP metrics.
const std::vector<std::string>& MasterRoutes();

}  // namespace dfs::master
