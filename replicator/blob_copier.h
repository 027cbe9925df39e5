// BlobCopier: copies one blob from a source node to a target node, streaming
// through a bounded pipe (the download and the upload run at once). The
// checks are the nodes' own: the source checks each block's sum before it
// sends it, and the target hashes every byte it writes and refuses the copy
// unless it is the blob's md5, so the copier itself hashes nothing. Says
// whose fault a failure was, so the worker can report a corrupt source or
// move on to another target.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/http_util.h"
#include "common/status.h"

namespace dfs::replication {

enum class CopyFault {
  kNone,
  kSourceUnreachable,  // transport error / 5xx from the source: try another source
  kSourceBad,          // source lacks the blob or serves bytes with the wrong md5: report it
  kTarget,             // the target refused, failed or did not verify: try another target
};

struct CopyOutcome {
  CopyFault fault = CopyFault::kNone;
  Status status;
  bool ok() const { return fault == CopyFault::kNone; }
};

class BlobCopier {
 public:
  explicit BlobCopier(ClientTimeouts timeouts = {}, size_t pipe_bytes = 1 << 20)
      : timeouts_(timeouts), pipe_bytes_(pipe_bytes) {}

  // `progress` is called now and then from the copying thread (the worker
  // uses it to keep its queue entry alive).
  CopyOutcome Copy(const std::string& source_url, const std::string& target_url, const std::string& blob_id,
                   const std::string& md5, uint64_t size, const std::string& request_id,
                   const std::function<void()>& progress = {}) const;

  // Re-reads the blob on the node (GET /blobs/<id>/verify) and compares the md5.
  // The node re-reads the whole blob before it answers: the wait grows with
  // `size` (one second per 50 MiB on top of the read timeout).
  Status Verify(const std::string& node_url, const std::string& blob_id, const std::string& md5,
                uint64_t size) const;
  Status Delete(const std::string& node_url, const std::string& blob_id) const;

 private:
  ClientTimeouts timeouts_;
  size_t pipe_bytes_;
};

}  // namespace dfs::replication
