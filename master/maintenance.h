// Maintenance: the master's background loops. Each loop is a named task run
// every interval on its own thread until Stop(); the replication side adds
// its loops (outbox publishing, healing) the same way.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "master/file_service.h"

namespace dfs::master {

class Maintenance {
 public:
  ~Maintenance();
  void Add(std::string name, std::chrono::milliseconds interval, std::function<void()> task);
  void Stop();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// Marks nodes silent for longer than `timeout` as down.
void CheckNodeLiveness(MetadataStore& store, std::chrono::milliseconds timeout);
// Deletes queued blobs from their nodes; failures are retried with backoff.
void ProcessBlobDeletions(MetadataStore& store, const NodeClient& nodes);
// Drops open-file handles whose clients stopped renewing them (and the
// nameless files only they kept).
void ExpireHandles(MetadataStore& store);
// Computes the whole-file md5 of files left pending by range writes.
void SettlePendingMd5(FileService& files);
// The periodic healing scan: queues a replication job for every file with
// fewer good copies than wanted (copies on dead or draining nodes, or found
// bad, do not count) that has had no job for `retry_after`. Healing thus
// never depends on a single job reaching the queue.
void QueueUnderReplicated(FileService& files, std::chrono::milliseconds retry_after);

}  // namespace dfs::master
