#include "master/garbage_collector.h"

#include <charconv>
#include <map>

#include "common/http_util.h"
#include "common/log.h"

namespace dfs::master {

GcResult CollectGarbage(FileService& files, std::chrono::milliseconds grace, metrics::Registry* metrics) {
  GcResult result;
  auto nodes = files.store().ListNodes();
  if (!nodes.ok()) {
    DFS_LOG(WARN, "master") << "gc: " << nodes.status().ToString();
    return result;
  }
  const double grace_s = std::chrono::duration<double>(grace).count();
  for (const auto& node : *nodes) {
    if (node.state == NodeState::kDown) continue;
    auto blobs = files.node_client().ListBlobs(node.url);
    if (!blobs.ok()) {
      DFS_LOG(WARN, "master") << "gc: cannot list node=" << node.node_id << ": " << blobs.status().ToString();
      continue;
    }
    ++result.nodes;
    result.scanned += blobs->size();
    std::vector<std::string> old_enough;
    std::map<std::string, uint64_t> sizes;
    for (const auto& b : *blobs) {
      if (b.age_seconds < grace_s) continue;
      old_enough.push_back(b.blob_id);
      sizes[b.blob_id] = b.size;
    }
    auto orphans = files.store().UnreferencedBlobs(old_enough);
    if (!orphans.ok()) {
      DFS_LOG(WARN, "master") << "gc: " << orphans.status().ToString();
      continue;
    }
    for (const auto& id : *orphans) {
      Status st = files.node_client().DeleteBlob(node.url, id);
      if (!st.ok()) {
        DFS_LOG(WARN, "master") << "gc: delete blob=" << id << " node=" << node.node_id << ": " << st.ToString();
        continue;
      }
      ++result.deleted;
      result.bytes += sizes[id];
      DFS_LOG(INFO, "master") << "gc: removed orphan blob=" << id << " node=" << node.node_id
                              << " size=" << sizes[id];
    }
  }
  if (metrics) {
    metrics->GetCounter("dfs_gc_runs_total", "garbage collection passes").Add();
    metrics->GetCounter("dfs_gc_scanned_blobs_total", "blobs listed by garbage collection").Add(result.scanned);
    metrics->GetCounter("dfs_gc_deleted_blobs_total", "orphaned blobs removed").Add(result.deleted);
    metrics->GetCounter("dfs_gc_deleted_bytes_total", "bytes of orphaned blobs removed").Add(result.bytes);
  }
  return result;
}

void RegisterGcRoute(httplib::Server& server, FileService& files, std::chrono::milliseconds grace,
                     metrics::Registry* metrics) {
  server.Post("/api/v1/gc", [&files, grace, metrics](const httplib::Request& req, httplib::Response& res) {
    auto chosen = grace;
    if (req.has_param("grace_ms")) {
      const std::string v = req.get_param_value("grace_ms");
      int64_t ms = -1;
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
      if (ec != std::errc() || ptr != v.data() + v.size() || ms < 0) {
        return SendError(res, Status::InvalidArgument("grace_ms must be a number of milliseconds"));
      }
      chosen = std::chrono::milliseconds(ms);
    }
    GcResult r = CollectGarbage(files, chosen, metrics);
    SendJson(res, 200, {{"nodes", r.nodes}, {"scanned", r.scanned}, {"deleted", r.deleted}, {"bytes", r.bytes}});
  });
}

}  // namespace dfs::master
