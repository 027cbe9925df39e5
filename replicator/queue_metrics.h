// Replication queue gauges (queue length, pending and dead-letter jobs,
// Redis reachability), read from Redis when /metrics is scraped. Used by
// the master and the replicator.
#pragma once

#include "common/metrics.h"
#include "replicator/replication_queue.h"

namespace dfs::replication {

void AddQueueMetrics(metrics::Registry& registry, ReplicationQueue& queue);

}  // namespace dfs::replication
