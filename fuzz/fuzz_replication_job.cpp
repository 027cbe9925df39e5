// The replication job decoder (what the replicator reads from Redis): it
// accepts only well-formed jobs, and ToJson -> Parse gives the same job.
// Redis addresses (--redis) parse to a host and a port in range.
#include "common/md5.h"
#include "fuzz/fuzz_target.h"
#include "replicator/redis_connection.h"
#include "replicator/replication_job.h"

DFS_FUZZ_TARGET(replication_job) {
  if (auto address = dfs::replication::ParseRedisAddress(dfs::fuzz::AsText(data, size)); address.ok()) {
    FUZZ_CHECK(!address->host.empty() && address->port > 0 && address->port <= 65535, "redis address");
  }
  auto job = dfs::replication::ReplicationJob::Parse(dfs::fuzz::AsText(data, size));
  if (!job.ok()) return 0;
  FUZZ_CHECK(dfs::replication::IsValidBlobId(job->blob_id), "blob id is 32 lower-case hex");
  FUZZ_CHECK(dfs::Md5::IsValidHex(job->md5), "md5 is 32 hex");
  for (char c : job->md5) FUZZ_CHECK(!(c >= 'A' && c <= 'F'), "md5 normalised to lower case");
  FUZZ_CHECK(job->want_copies >= 1 && job->want_copies <= 64, "want_copies in range");
  auto again = dfs::replication::ReplicationJob::Parse(job->ToJson());
  FUZZ_CHECK(again.ok(), "a parsed job re-encodes to a valid job");
  FUZZ_CHECK(again->blob_id == job->blob_id && again->md5 == job->md5 && again->size == job->size &&
                 again->want_copies == job->want_copies && again->job_id == job->job_id &&
                 again->created_at == job->created_at,
             "round trip");
  return 0;
}
