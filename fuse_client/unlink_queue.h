// UnlinkQueue: unlinks the mount answers at once and sends to the master in
// batches, so `rm -rf` of many files is a few requests and commits instead
// of one per file. The mount queues only an unlink it can decide itself
// (DfsFilesystem::Unlink says when); the sender posts what is queued as one
// POST /api/v1/unlink?sync=0 at most kDelay after the first name came, at
// once when kBatch are queued or someone waits (Settle).
//
// Invariants: a name is queued with the inode it named, and the master
// removes it only while it still names that inode (another client's file
// that took the name meanwhile stays). Every operation of the mount that
// could see a queued name first waits for it to be sent (Settle), and a
// queued name is not there (IsPending): this mount never shows a name it
// removed. What the master refuses after the unlink was answered (it was
// not the caller's to remove after all) stays, and is logged; nothing is
// ever removed that the caller did not name.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/client/dfs_client.h"
#include "common/credentials.h"

namespace dfs::fuse_client {

class UnlinkQueue {
 public:
  static constexpr std::chrono::milliseconds kDelay{5};  // the longest a name waits for others to join it
  static constexpr size_t kBatch = 512;                   // names per request at most

  explicit UnlinkQueue(const DfsClient& client);
  ~UnlinkQueue();  // sends what is queued first
  UnlinkQueue(const UnlinkQueue&) = delete;
  UnlinkQueue& operator=(const UnlinkQueue&) = delete;

  // False once the master turned out not to take batches (an older one):
  // unlinks are then sent one by one, as they come.
  bool accepting() const { return accepting_.load(std::memory_order_relaxed); }
  // Queues the unlink of `path` (inode `ino`) by `who`.
  void Add(const std::string& path, int64_t ino, const Credentials& who);
  // Whether `path` is queued (gone, for this mount), or a name in folder `dir` is.
  bool IsPending(const std::string& path) const;
  bool IsPendingIn(const std::string& dir) const;
  // Returns once every unlink queued before the call was sent (at once when none is).
  void Settle();

 private:
  struct Item {
    std::string path;
    int64_t ino;
    Credentials who;
    uint64_t seq;
  };
  void SendLoop();
  // Sends one batch (all of one caller), without mu_.
  void Send(const std::deque<Item>& batch);
  void Forget(const std::string& path);  // under mu_

  const DfsClient& client_;
  std::atomic<bool> accepting_{true};
  std::atomic<uint64_t> unsent_{0};  // queued or in flight: Settle's fast path

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // the sender: something queued, someone waits, or stopping
  std::condition_variable sent_cv_;  // Settle: a batch was sent
  std::deque<Item> queue_;
  std::map<std::string, int> pending_;      // queued or in flight, by path
  std::map<std::string, int> pending_dirs_;  // and by folder
  std::chrono::steady_clock::time_point first_at_;  // when queue_[0] came
  uint64_t added_ = 0;  // seq of the last item queued
  uint64_t sent_ = 0;   // every item up to this seq was sent
  int waiting_ = 0;     // Settle calls waiting
  bool stopping_ = false;
  std::thread sender_;  // from the first Add on
};

}  // namespace dfs::fuse_client
