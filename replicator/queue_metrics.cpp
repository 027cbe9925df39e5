#include "replicator/queue_metrics.h"

namespace dfs::replication {

void AddQueueMetrics(metrics::Registry& registry, ReplicationQueue& queue) {
  registry.AddCollector([&queue](metrics::SampleSink& out) {
    auto stats = queue.Stats();
    out.Gauge("dfs_redis_up", "1 when the replication queue's Redis answers", {}, stats.ok() ? 1 : 0);
    if (!stats.ok()) return;
    out.Gauge("dfs_replication_queue_length", "replication jobs in the stream, pending ones included", {},
              static_cast<double>(stats->length));
    out.Gauge("dfs_replication_pending_jobs", "replication jobs delivered to a worker and not acknowledged", {},
              static_cast<double>(stats->pending));
    out.Gauge("dfs_replication_dead_jobs", "replication jobs in the dead-letter stream", {},
              static_cast<double>(stats->dead));
  });
}

}  // namespace dfs::replication
