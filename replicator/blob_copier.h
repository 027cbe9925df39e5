// BlobCopier: copies one blob from a source node to a target node, streaming
// through a bounded pipe (the download and the upload run at once), or for
// a small blob (at most kInMemory) through memory: one GET, then one PUT,
// on the caller's thread. Connections to the nodes are kept alive and
// reused (ClientPool) by every copy of one copier and its copies. The
// checks are the nodes' own: the source checks each block's sum before it
// sends it, and the target hashes every byte it writes and refuses the copy
// unless it is the blob's md5, so the copier itself hashes nothing. Says
// whose fault a failure was, so the worker can report a corrupt source or
// move on to another target.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/client_pool.h"
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
  static constexpr uint64_t kInMemory = 256 * 1024;

  explicit BlobCopier(ClientTimeouts timeouts = {}, size_t pipe_bytes = 1 << 20)
      : timeouts_(timeouts), pipe_bytes_(pipe_bytes), pool_(std::make_shared<ClientPool>(timeouts)) {}

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
  // A kept-alive connection to `ep` with these timeouts.
  ClientPool::Lease Connect(const Endpoint& ep, const ClientTimeouts& timeouts) const;
  // GET of the source's blob, its bytes handed to `sink` (false stops it),
  // at most `size` of them; what went wrong, as the source's status.
  Status ReadSource(const Endpoint& src, const std::string& source_url, const std::string& blob_id, uint64_t size,
                    const std::string& request_id, const std::function<bool(const char*, size_t)>& sink) const;
  CopyOutcome CopyThroughMemory(const Endpoint& src, const Endpoint& dst, const std::string& source_url,
                                const std::string& blob_id, const std::string& md5, uint64_t size,
                                const std::string& request_id) const;
  // Whose fault a copy's failure was, from what the source and the target said.
  CopyOutcome Judge(const Status& source_status, bool upload_gave_up_first, const Status& upload_status,
                    const std::string& source_url, const std::string& blob_id, const std::string& md5,
                    uint64_t size) const;

  ClientTimeouts timeouts_;
  size_t pipe_bytes_;
  std::shared_ptr<ClientPool> pool_;  // shared by copies of this copier
};

}  // namespace dfs::replication
