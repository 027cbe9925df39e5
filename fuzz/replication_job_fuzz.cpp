// The replication job decoder (replicator/replication_job.h): Parse accepts
// only a 32-hex blob id, a 32-hex md5 (lower-cased), want_copies in 1..64,
// and ToJson -> Parse gives the same job back. ParseRedisAddress accepts only
// a host and a valid port.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/md5.h"
#include "fuzz/fuzz_check.h"
#include "replicator/replication_job.h"
#include "replicator/redis_connection.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  using dfs::replication::ReplicationJob;

  auto job = ReplicationJob::Parse(input);
  if (job.ok()) {
    FUZZ_CHECK(dfs::replication::IsValidBlobId(job->blob_id), input);
    FUZZ_CHECK(dfs::Md5::IsValidHex(job->md5), input);
    for (char c : job->md5) FUZZ_CHECK(!(c >= 'A' && c <= 'F'), input);
    FUZZ_CHECK(job->want_copies >= 1 && job->want_copies <= 64, input);
    std::string json = job->ToJson();
    auto again = ReplicationJob::Parse(json);
    FUZZ_CHECK(again.ok(), input + " -> " + json);
    if (again.ok()) {
      FUZZ_CHECK(again->job_id == job->job_id && again->blob_id == job->blob_id && again->md5 == job->md5 &&
                     again->size == job->size && again->want_copies == job->want_copies &&
                     again->created_at == job->created_at,
                 input + " -> " + json);
    }
  }

  if (auto address = dfs::replication::ParseRedisAddress(input); address.ok()) {
    FUZZ_CHECK(!address->host.empty() && address->port >= 1 && address->port <= 65535, input);
  }
  return 0;
}
