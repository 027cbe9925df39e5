// OutboxPublisher: moves replication jobs from the database's outbox (written in
// the same transaction as the file) to the Redis stream the replicators
// read. Redis being down only delays jobs: they stay in the outbox and are
// published, in order, once it is back. Notify() after a commit publishes at
// once instead of at the next poll. With a holder id, it publishes only
// while it holds the "outbox" lease (maintenance.h): of masters sharing one
// database, one publishes, so no job is published twice.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "master/metadata_store.h"
#include "replicator/replication_queue.h"

namespace dfs::master {

class OutboxPublisher {
 public:
  OutboxPublisher(MetadataStore& store, replication::ReplicationQueue& queue,
                  std::chrono::milliseconds poll = std::chrono::milliseconds(1000), std::string holder = "");
  ~OutboxPublisher();
  OutboxPublisher(const OutboxPublisher&) = delete;
  OutboxPublisher& operator=(const OutboxPublisher&) = delete;

  void Notify();
  // Publishes every unpublished job now; used by the loop (and tests).
  Status PublishPending();
  bool redis_up() const { return redis_up_.load(); }

 private:
  void Loop();

  MetadataStore& store_;
  replication::ReplicationQueue& queue_;
  std::chrono::milliseconds poll_;
  const std::string holder_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool notified_ = false;
  bool stopping_ = false;
  std::atomic<bool> redis_up_{true};
  std::thread thread_;
};

}  // namespace dfs::master
