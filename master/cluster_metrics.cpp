#include "master/cluster_metrics.h"

#include "common/log.h"

namespace dfs::master {

const std::vector<std::string>& MasterRoutes() {
  static const std::vector<std::string> routes = {
      "/",           "/healthz",           "/upload",          "/download",         "/api/v1/files",
      "/api/v1/list", "/api/v1/stat", "/api/v1/meta",      "/api/v1/dirs",     "/api/v1/rename",    "/api/v1/nodes",
      "/api/v1/symlink", "/api/v1/link", "/api/v1/mknod", "/api/v1/open", "/api/v1/handles", "/api/v1/truncate", "/api/v1/sync", "/api/v1/unlink",
      "/api/v1/blobs", "/api/v1/replication", "/api/v1/cluster", "/api/v1/status", "/api/v1/gc"};
  return routes;
}

void AddClusterMetrics(metrics::Registry& registry, FileService& files) {
  registry.AddCollector([&files](metrics::SampleSink& out) {
    auto& store = files.store();
    if (auto counts = store.CountFiles(); counts.ok()) {
      out.Gauge("dfs_files", "files in the namespace", {}, static_cast<double>(counts->files));
      out.Gauge("dfs_file_bytes", "bytes in all files (one copy each)", {}, static_cast<double>(counts->bytes));
    }
    if (auto repl = store.CountReplication(files.DeadBefore()); repl.ok()) {
      out.Gauge("dfs_files_under_replicated", "files with fewer good copies than wanted", {},
                static_cast<double>(repl->under_replicated));
      out.Gauge("dfs_outbox_unpublished_jobs", "replication jobs committed but not yet in Redis", {},
                static_cast<double>(repl->unpublished_jobs));
    }
    auto nodes = store.ListNodes();
    if (!nodes.ok()) {
      DFS_LOG(WARN, "master") << "metrics: " << nodes.status().ToString();
      return;
    }
    std::map<std::string, int> by_state;
    for (NodeState s : {NodeState::kUp, NodeState::kDown, NodeState::kDraining}) by_state[ToString(s)] = 0;
    for (const auto& n : *nodes) {
      ++by_state[ToString(n.state)];
      metrics::Labels node = {{"node", n.node_id}};
      out.Gauge("dfs_node_up", "1 when the node heartbeats (up or draining), 0 when down", node,
                n.state == NodeState::kDown ? 0 : 1);
      out.Gauge("dfs_node_capacity_bytes", "bytes the node may hold, as last reported", node,
                static_cast<double>(n.capacity));
      out.Gauge("dfs_node_free_bytes", "bytes free on the node, as last reported", node, static_cast<double>(n.free));
      out.Gauge("dfs_node_blobs", "blobs on the node, as last reported", node, static_cast<double>(n.blobs));
      out.Gauge("dfs_node_last_heartbeat_seconds", "time of the node's last heartbeat since the epoch", node,
                n.last_heartbeat);
    }
    for (const auto& [state, count] : by_state) {
      out.Gauge("dfs_nodes", "storage nodes by state", {{"state", state}}, count);
    }
  });
}

}  // namespace dfs::master
