// ReplicationWorker: carries out one replication job against the master and
// the storage nodes, independent of the queue: asks the master who holds the
// blob, copies it to random up nodes that lack it until the file has its
// want_copies, and records each verified copy with the master. Idempotent:
// a job delivered twice finds the copies already there and does nothing.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "replicator/blob_copier.h"
#include "replicator/master_api.h"
#include "replicator/replication_job.h"

namespace dfs::replication {

struct WorkerOptions {
  int max_attempts = 5;  // failed copy attempts before the job is given up
  std::chrono::milliseconds backoff_base{200};
  std::chrono::milliseconds backoff_max{5000};
  // How long to wait for an unreachable master before leaving the job
  // pending (it is then redelivered later).
  std::chrono::milliseconds master_patience{120000};
};

enum class JobResult {
  kDone,        // the file has its copies (or as many as there are nodes): ack
  kDropped,     // no file refers to the blob any more: ack
  kFailed,      // gave up after max_attempts: dead letter
  kRetryLater,  // stopping, or the master is unreachable: leave it pending
};

struct JobOutcome {
  JobResult result = JobResult::kDone;
  std::string detail;
  int copies_made = 0;
};

class ReplicationWorker {
 public:
  ReplicationWorker(MasterApi& master, BlobCopier& copier, WorkerOptions options, const std::atomic<bool>& stop)
      : master_(master), copier_(copier), options_(options), stop_(stop) {}

  JobOutcome Process(const ReplicationJob& job, const std::function<void()>& keepalive = {});

 private:
  // Sleeps unless stopping; false when stopping.
  // How old a node list a pass may choose targets from (MasterApi::ListNodesCached).
  static constexpr std::chrono::milliseconds kNodeListAge{1000};
  // What a new chunk's job says of it: its one copy, on an up node.
  static BlobInfo InfoFromJob(const ReplicationJob& job);
  struct MadeCopy {
    std::string target_id, target_url, source_id;
  };
  // One pass's copies: to up to `need` of `order`'s nodes, each from the
  // first of `sources` that serves it (a source found bad is reported,
  // unless the job named it: `trusted`); targets that failed go into
  // bad_targets. *stopping when the replicator is stopping.
  std::vector<MadeCopy> CopyToTargets(const std::string& blob_id, const std::string& req, const BlobInfo& info,
                                      const std::string& md5, const std::vector<BlobHolder>& sources,
                                      const std::vector<NodeSummary>& order, int need, bool trusted,
                                      const std::function<void()>& keepalive, std::set<std::string>* bad_targets,
                                      std::string* last_error, bool* stopping);
  bool Sleep(std::chrono::milliseconds d) const;
  std::chrono::milliseconds Backoff(int failures) const;

  MasterApi& master_;
  BlobCopier& copier_;
  WorkerOptions options_;
  const std::atomic<bool>& stop_;
};

const char* JobResultName(JobResult r);

}  // namespace dfs::replication
