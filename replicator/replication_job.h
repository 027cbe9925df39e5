// ReplicationJob: what the master asks the replicator to do, as carried in
// the Redis stream (docs/protocol.md, "Replication").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace dfs::replication {

struct ReplicationJob {
  std::string job_id;
  std::string blob_id;  // 32 lower-case hex
  std::string md5;      // md5 of the whole blob
  uint64_t size = 0;
  int want_copies = 1;
  double created_at = 0;  // seconds since the epoch when queued; 0 if unknown (replication lag)
  // A new chunk's one copy (optional: not in a healing job): the replicator
  // copies from it without asking the master for the chunk's copies first.
  std::string source_node_id;
  std::string source_url;

  std::string ToJson() const;
  // Strict: anything missing, mistyped or out of range is InvalidArgument.
  static Result<ReplicationJob> Parse(std::string_view json);
};

bool IsValidBlobId(std::string_view id);

}  // namespace dfs::replication
