// ReplicatorService: the dfs-replicator process minus flag parsing. Runs
// `workers` threads; each is a consumer of the Redis group, with its own
// Redis connection, that takes jobs (new ones, and stale ones that a dead
// or stuck consumer left pending), runs them with ReplicationWorker and
// acks, or dead-letters them after max_attempts.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "common/http_util.h"
#include "common/master_set.h"
#include "common/metrics.h"
#include "replicator/redis_connection.h"
#include "replicator/replication_queue.h"
#include "replicator/replication_worker.h"

namespace dfs::replication {

struct ReplicatorOptions {
  RedisAddress redis;
  std::shared_ptr<const MasterSet> masters;  // one or more (failover), shared by the workers
  int workers = 4;
  int64_t claim_idle_ms = 30000;
  int block_ms = 1000;
  std::string consumer_prefix;  // default: hostname-pid
  WorkerOptions worker;
  metrics::Registry* metrics = nullptr;  // job counters and replication lag, when set
  ClientTimeouts timeouts{std::chrono::milliseconds(2000), std::chrono::milliseconds(30000),
                          std::chrono::milliseconds(30000)};
};

class ReplicatorService {
 public:
  explicit ReplicatorService(ReplicatorOptions options);
  ~ReplicatorService();
  ReplicatorService(const ReplicatorService&) = delete;
  ReplicatorService& operator=(const ReplicatorService&) = delete;

  void Start();
  // Finishes or abandons (leaves pending) the jobs in hand, then joins.
  void Stop();

 private:
  void RunWorker(int index);
  // Runs one stream entry to its end: ack, dead letter, or left pending.
  void Handle(ReplicationQueue& queue, ReplicationWorker& worker, const std::string& consumer,
              const StreamEntry& entry);
  bool Sleep(std::chrono::milliseconds d) const;
  void Record(const ReplicationJob& job, const JobOutcome& out, double seconds);

  ReplicatorOptions options_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

std::string DefaultConsumerPrefix();

}  // namespace dfs::replication
