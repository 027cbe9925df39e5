#include "replicator/replicator_service.h"

#include <unistd.h>

#include <algorithm>

#include "common/log.h"

namespace dfs::replication {

std::string DefaultConsumerPrefix() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return std::string(host[0] ? host : "replicator") + "-" + std::to_string(getpid());
}

ReplicatorService::ReplicatorService(ReplicatorOptions options) : options_(std::move(options)) {
  if (options_.consumer_prefix.empty()) options_.consumer_prefix = DefaultConsumerPrefix();
}

ReplicatorService::~ReplicatorService() { Stop(); }

void ReplicatorService::Start() {
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this, i] { RunWorker(i); });
}

void ReplicatorService::Stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

bool ReplicatorService::Sleep(std::chrono::milliseconds d) const {
  auto until = std::chrono::steady_clock::now() + d;
  while (!stop_.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return !stop_.load();
}

void ReplicatorService::Handle(ReplicationQueue& queue, ReplicationWorker& worker, const std::string& consumer,
                               const StreamEntry& entry) {
  auto job = ReplicationJob::Parse(entry.payload);
  if (!job.ok()) {
    Status st = queue.DeadLetter(entry, "malformed job: " + job.status().message());
    if (!st.ok()) DFS_LOG(WARN, "replicator") << "dead letter id=" << entry.id << " failed: " << st.ToString();
    return;
  }
  DFS_LOG(DEBUG, "replicator") << "job id=" << entry.id << " job=" << job->job_id << " blob=" << job->blob_id
                               << " consumer=" << consumer;
  // One copy of a blob at a time across all replicators: a duplicate job
  // waits for the first, then finds the copies made and does nothing.
  const std::string owner = consumer + "/" + entry.id;
  const int64_t lock_ttl = std::max<int64_t>(options_.claim_idle_ms, 1000);
  for (;;) {
    auto locked = queue.LockBlob(job->blob_id, owner, lock_ttl);
    if (locked.ok() && *locked) break;
    if (!locked.ok()) {
      DFS_LOG(WARN, "replicator") << "lock blob=" << job->blob_id << ": " << locked.status().ToString();
      return;  // Redis trouble: the job stays pending and is claimed again later
    }
    queue.Touch(consumer, entry.id);
    if (!Sleep(std::chrono::milliseconds(100))) return;
  }
  auto keepalive = [&] {
    queue.Touch(consumer, entry.id);
    queue.RefreshBlobLock(job->blob_id, owner, lock_ttl);
  };
  const auto started = std::chrono::steady_clock::now();
  JobOutcome out = worker.Process(*job, keepalive);
  queue.UnlockBlob(job->blob_id, owner);
  Record(*job, out, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  DFS_LOG(INFO, "replicator") << "job=" << job->job_id << " blob=" << job->blob_id << " id=" << entry.id
                              << " result=" << JobResultName(out.result) << " copies_made=" << out.copies_made
                              << " " << out.detail;
  Status st;
  switch (out.result) {
    case JobResult::kDone:
    case JobResult::kDropped:
      st = queue.Ack(entry.id);
      break;
    case JobResult::kFailed:
      st = queue.DeadLetter(entry, out.detail);
      break;
    case JobResult::kRetryLater:
      return;  // stays pending; claimed again after claim_idle_ms
  }
  // A lost ack only means the job is delivered again, which is harmless.
  if (!st.ok()) DFS_LOG(WARN, "replicator") << "ack id=" << entry.id << " failed: " << st.ToString();
}

void ReplicatorService::Record(const ReplicationJob& job, const JobOutcome& out, double seconds) {
  if (!options_.metrics) return;
  auto& m = *options_.metrics;
  m.GetCounter("dfs_replication_jobs_total", "replication jobs handled, by result",
               {{"result", JobResultName(out.result)}})
      .Add();
  m.GetHistogram("dfs_replication_job_duration_seconds", "time a worker spent on one job").Observe(seconds);
  if (out.copies_made == 0) return;
  m.GetCounter("dfs_replication_copies_total", "verified copies written to nodes").Add(out.copies_made);
  m.GetCounter("dfs_replication_copied_bytes_total", "bytes of verified copies written to nodes")
      .Add(static_cast<double>(job.size) * out.copies_made);
  if (job.created_at > 0) {
    double lag = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() -
                 job.created_at;
    m.GetHistogram("dfs_replication_lag_seconds", "from the job's creation (a PUT's commit) to its copies recorded")
        .Observe(std::max(0.0, lag));
  }
}

void ReplicatorService::RunWorker(int index) {
  const std::string consumer = options_.consumer_prefix + "-" + std::to_string(index);
  ReplicationQueue queue(options_.redis);
  MasterApi master(options_.masters, options_.timeouts);
  BlobCopier copier(options_.timeouts);
  ReplicationWorker worker(master, copier, options_.worker, stop_);
  const auto claim_every = std::chrono::milliseconds(std::clamp<int64_t>(options_.claim_idle_ms / 2, 100, 5000));
  auto last_claim = std::chrono::steady_clock::now() - claim_every;
  int redis_failures = 0;
  DFS_LOG(INFO, "replicator") << "worker started consumer=" << consumer;
  while (!stop_.load()) {
    std::vector<StreamEntry> entries;
    Status st;
    if (std::chrono::steady_clock::now() - last_claim >= claim_every) {
      last_claim = std::chrono::steady_clock::now();
      auto claimed = queue.ClaimStale(consumer, options_.claim_idle_ms, 10);
      if (claimed.ok()) {
        entries = std::move(*claimed);
        if (!entries.empty()) DFS_LOG(INFO, "replicator") << "claimed " << entries.size() << " stale jobs consumer=" << consumer;
      } else {
        st = claimed.status();
      }
    }
    if (st.ok() && entries.empty()) {
      auto read = queue.Read(consumer, 1, options_.block_ms);
      if (read.ok()) {
        entries = std::move(*read);
      } else {
        st = read.status();
      }
    }
    if (!st.ok()) {
      // Redis is down or restarting: back off and reconnect.
      if (redis_failures++ % 20 == 0) DFS_LOG(WARN, "replicator") << "queue: " << st.ToString() << "; retrying";
      Sleep(std::min<std::chrono::milliseconds>(std::chrono::milliseconds(100) * (1 << std::min(redis_failures, 5)),
                                                std::chrono::milliseconds(2000)));
      continue;
    }
    if (redis_failures > 0) DFS_LOG(INFO, "replicator") << "queue reconnected consumer=" << consumer;
    redis_failures = 0;
    for (const auto& e : entries) {
      if (stop_.load()) break;
      Handle(queue, worker, consumer, e);
    }
  }
  DFS_LOG(INFO, "replicator") << "worker stopped consumer=" << consumer;
}

}  // namespace dfs::replication
