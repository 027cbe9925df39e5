#include "fuse_client/unlink_queue.h"

#include <vector>

#include "common/log.h"
#include "common/path.h"

namespace dfs::fuse_client {

namespace {
bool SameCaller(const Credentials& a, const Credentials& b) {
  return a.uid == b.uid && a.gid == b.gid && a.groups == b.groups;
}
}  // namespace

UnlinkQueue::UnlinkQueue(const DfsClient& client) : client_(client) {}

UnlinkQueue::~UnlinkQueue() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  if (sender_.joinable()) sender_.join();  // it sends what is queued before it ends
}

void UnlinkQueue::Add(const std::string& path, int64_t ino, const Credentials& who) {
  {
    std::lock_guard lock(mu_);
    // Started by the first unlink: the mount daemonizes (forks) after it
    // is made, and a thread started before that would not be in the daemon.
    if (!sender_.joinable()) sender_ = std::thread([this] { SendLoop(); });
    if (queue_.empty()) first_at_ = std::chrono::steady_clock::now();
    queue_.push_back({path, ino, who, ++added_});
    ++pending_[path];
    ++pending_dirs_[ParentPath(path)];
    unsent_.fetch_add(1, std::memory_order_relaxed);
  }
  work_cv_.notify_one();
}

bool UnlinkQueue::IsPending(const std::string& path) const {
  if (unsent_.load(std::memory_order_relaxed) == 0) return false;
  std::lock_guard lock(mu_);
  return pending_.count(path) > 0;
}

bool UnlinkQueue::IsPendingIn(const std::string& dir) const {
  if (unsent_.load(std::memory_order_relaxed) == 0) return false;
  std::lock_guard lock(mu_);
  return pending_dirs_.count(dir) > 0;
}

void UnlinkQueue::Settle() {
  if (unsent_.load(std::memory_order_relaxed) == 0) return;
  std::unique_lock lock(mu_);
  const uint64_t target = added_;
  ++waiting_;
  work_cv_.notify_one();
  sent_cv_.wait(lock, [&] { return sent_ >= target; });
  --waiting_;
}

void UnlinkQueue::Forget(const std::string& path) {
  if (auto it = pending_.find(path); it != pending_.end() && --it->second == 0) pending_.erase(it);
  if (auto it = pending_dirs_.find(ParentPath(path)); it != pending_dirs_.end() && --it->second == 0) {
    pending_dirs_.erase(it);
  }
}

void UnlinkQueue::SendLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    // Let the names of a `rm -rf` gather, unless someone waits for them.
    work_cv_.wait_until(lock, first_at_ + kDelay,
                        [&] { return stopping_ || waiting_ > 0 || queue_.size() >= kBatch; });
    std::deque<Item> batch;
    while (!queue_.empty() && batch.size() < kBatch && (batch.empty() || SameCaller(batch[0].who, queue_[0].who))) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    first_at_ = std::chrono::steady_clock::now();  // what is left waits no longer than a fresh batch
    lock.unlock();
    Send(batch);
    lock.lock();
    for (const auto& item : batch) Forget(item.path);
    sent_ = batch.back().seq;
    unsent_.fetch_sub(batch.size(), std::memory_order_relaxed);
    sent_cv_.notify_all();
  }
}

void UnlinkQueue::Send(const std::deque<Item>& batch) {
  CallerScope as(batch.front().who);
  std::vector<wire::UnlinkEntry> entries;
  for (const auto& item : batch) entries.push_back({item.path, item.ino});
  auto outcomes = accepting() ? client_.RemoveMany(entries, /*relaxed=*/true)
                              : Result<std::vector<Status>>(Status::NotFound("not asked"));
  if (!outcomes.ok() && outcomes.status().code() == Code::kNotFound) {
    // An older master, without batches: one by one, and from now on at once.
    if (accepting_.exchange(false)) DFS_LOG(INFO, "fuse") << "the master takes no unlink batches: one by one";
    std::vector<Status> one_by_one;
    for (const auto& item : batch) one_by_one.push_back(client_.Remove(item.path, /*relaxed=*/true));
    outcomes = std::move(one_by_one);
  }
  if (!outcomes.ok()) {
    DFS_LOG(ERROR, "fuse") << "unlink of " << batch.size() << " name(s) from " << batch.front().path
                           << " could not be sent; they stay: " << outcomes.status().ToString();
    return;
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    const Status& st = (*outcomes)[i];
    if (st.ok()) continue;
    // NotFound: removed (or replaced) by another client meanwhile, as good as done.
    if (st.code() == Code::kNotFound) {
      DFS_LOG(DEBUG, "fuse") << "unlink name=" << batch[i].path << ": " << st.message();
    } else {
      DFS_LOG(WARN, "fuse") << "unlink name=" << batch[i].path << " was refused after it was answered; it stays: "
                            << st.ToString();
    }
  }
}

}  // namespace dfs::fuse_client
