// NodeClient: the master's calls to storage nodes (docs/protocol.md), over
// kept-alive connections reused from a small pool per node (client_pool.h);
// copies share the pool.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/client_pool.h"
#include "common/http_util.h"
#include "common/status.h"
#include "master/spool_file.h"

namespace dfs::master {

struct StoredBlob {
  std::string md5;
  uint64_t size = 0;
};

struct NodeBlob {
  std::string blob_id;
  uint64_t size = 0;
  double age_seconds = 0;  // by the node's clock: since the blob was written
};

// When a node fsyncs a blob it stores: before it answers, or within a
// second (?sync=0; a client's close(): POST /sync on the node makes it now).
enum class NodeSync { kNow, kSoon };

class NodeClient {
 public:
  explicit NodeClient(ClientTimeouts timeouts = {}) : pool_(std::make_shared<ClientPool>(timeouts)) {}

  // Streams a finished spool to node_url as blob_id; the node checks its md5
  // (if the spool has one) and its crc32 (if it has one: X-Dfs-Crc32) and
  // answers the md5 it hashed.
  Result<StoredBlob> PutBlob(const std::string& node_url, const std::string& blob_id, const SpoolFile& spool,
                             const std::string& request_id, NodeSync sync = NodeSync::kNow) const;
  // Has the node fsync every blob it stored NodeSync::kSoon (POST /sync).
  Status Sync(const std::string& node_url) const;

  // Streams bytes [offset, offset+length) of the blob into `receiver`.
  // Returns how many bytes were delivered in *delivered even on failure, so
  // a caller can continue from another copy.
  // *verified (when given) is set before the first byte reaches receiver:
  // true when the node checks every byte against its block sums.
  Status GetBlob(const std::string& node_url, const std::string& blob_id, uint64_t offset, uint64_t length,
                 const std::function<bool(const char*, size_t)>& receiver, uint64_t* delivered,
                 bool* verified = nullptr) const;

  Status DeleteBlob(const std::string& node_url, const std::string& blob_id) const;
  Result<std::vector<NodeBlob>> ListBlobs(const std::string& node_url) const;

 private:
  std::shared_ptr<ClientPool> pool_;
};

}  // namespace dfs::master
