// MasterApi: the replicator's calls to the master (docs/protocol.md,
// "Replication"). Every call is one round over the masters (MasterSet: a
// master that cannot be reached or answers 503 costs a retry on the next);
// each request has timeouts and is safe to repeat (reads; recording a
// replica or a bad copy twice records it once). When no master answers,
// Unavailable.
#pragma once

#include <cstdint>
#include <functional>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/client_pool.h"
#include "common/master_set.h"
#include "common/status.h"

namespace dfs::replication {

struct BlobHolder {
  std::string node_id;
  std::string url;
  std::string state;       // replica state: ok | bad
  std::string node_state;  // up | down | draining
};

struct BlobInfo {
  std::string blob_id;
  std::string md5;
  uint64_t size = 0;
  int want_copies = 1;
  std::vector<BlobHolder> holders;
};

struct NodeSummary {
  std::string node_id;
  std::string url;
  std::string state;
  uint64_t free = 0;
};

class MasterApi {
 public:
  MasterApi(std::shared_ptr<const MasterSet> masters, ClientTimeouts timeouts = {});

  // NotFound when no file refers to the blob any more.
  Result<BlobInfo> GetBlob(const std::string& blob_id) const;
  Result<std::vector<NodeSummary>> ListNodes() const;
  // ListNodes, answered from the last answer while it is at most max_age old
  // (every copy of a new chunk asks for targets; the list rarely changes).
  Result<std::vector<NodeSummary>> ListNodesCached(std::chrono::milliseconds max_age) const;
  // Copies of the blob made on these nodes, in one request ("node_ids"; an
  // older master records the first, "node_id", and its healer has the
  // others made again).
  Status RecordReplicas(const std::string& blob_id, const std::vector<std::string>& node_ids, const std::string& md5,
                        const std::string& request_id) const;
  Status ReportBad(const std::string& blob_id, const std::string& node_id, const std::string& request_id) const;

 private:
  // Runs one request through the masters; *res is the answering master's.
  Status Send(const std::function<httplib::Result(httplib::Client&)>& request, httplib::Result* res) const;

  std::shared_ptr<const MasterSet> masters_;
  ClientTimeouts timeouts_;
  std::shared_ptr<ClientPool> pool_;  // kept-alive connections to the masters
  mutable std::mutex nodes_mu_;
  mutable std::vector<NodeSummary> nodes_;  // the last ListNodes answer
  mutable std::chrono::steady_clock::time_point nodes_at_{};
};

}  // namespace dfs::replication
