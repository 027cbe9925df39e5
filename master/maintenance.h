// Maintenance: the master's background loops. Each loop is a named task run
// every interval on its own thread until Stop(); the replication side adds
// its loops (outbox publishing, healing) the same way. With a store, a task
// runs only on the master holding its lease (MetadataStore::HoldLease), so
// masters sharing one database run each task once between them; a lease
// lapses TaskLeaseTtl(interval) after its holder last ran the task (it died)
// and is given up at Stop() (it stopped), and another master takes over.
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

// A name for this master process as a lease holder: host, pid and a random part.
std::string NewHolderId();
// How long a lease on a task run every `interval` lasts without renewal.
double TaskLeaseTtl(std::chrono::milliseconds interval);
// True when `holder` may run `task` now (holds its lease; renewed by asking).
bool HoldsTask(MetadataStore& store, const std::string& task, const std::string& holder,
               std::chrono::milliseconds interval);

class Maintenance {
 public:
  Maintenance() = default;
  Maintenance(MetadataStore* store, std::string holder) : store_(store), holder_(std::move(holder)) {}
  ~Maintenance();
  void Add(std::string name, std::chrono::milliseconds interval, std::function<void()> task);
  void Stop();

 private:
  MetadataStore* const store_ = nullptr;
  const std::string holder_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
  std::vector<std::string> names_;
};

// Marks nodes silent for longer than `timeout` as down.
void CheckNodeLiveness(MetadataStore& store, std::chrono::milliseconds timeout);
// Deletes queued blobs from their nodes; failures are retried with backoff.
void ProcessBlobDeletions(MetadataStore& store, const NodeClient& nodes);
// Drops open-file handles whose clients stopped renewing them (and the
// nameless files only they kept).
void ExpireHandles(MetadataStore& store);
// Computes the whole-file md5 of files left pending by range writes, once
// they are unchanged for --settle-after-ms.
void SettlePendingMd5(FileService& files);
// Merges the small chunks appends left in files unchanged for
// --compact-after-ms (FileService::CompactChunks), a few files per pass.
void CompactChunks(FileService& files);
// The periodic healing scan: queues a replication job for every file with
// fewer good copies than wanted (copies on dead or draining nodes, or found
// bad, do not count) that has had no job for `retry_after`. Healing thus
// never depends on a single job reaching the queue.
void QueueUnderReplicated(FileService& files, std::chrono::milliseconds retry_after);

}  // namespace dfs::master
