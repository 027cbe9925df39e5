// MasterApi: the replicator's calls to the master (docs/protocol.md,
// "Replication"). Every call is one HTTP request with timeouts; transport
// failures are Unavailable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/http_util.h"
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
  MasterApi(Endpoint master, ClientTimeouts timeouts = {});

  // NotFound when no file refers to the blob any more.
  Result<BlobInfo> GetBlob(const std::string& blob_id) const;
  Result<std::vector<NodeSummary>> ListNodes() const;
  Status RecordReplica(const std::string& blob_id, const std::string& node_id, const std::string& md5,
                       const std::string& request_id) const;
  Status ReportBad(const std::string& blob_id, const std::string& node_id, const std::string& request_id) const;

 private:
  Endpoint master_;
  ClientTimeouts timeouts_;
};

}  // namespace dfs::replication
