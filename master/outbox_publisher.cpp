#include "master/outbox_publisher.h"

#include "common/log.h"
#include "master/maintenance.h"

namespace dfs::master {

OutboxPublisher::OutboxPublisher(MetadataStore& store, replication::ReplicationQueue& queue,
                                 std::chrono::milliseconds poll, std::string holder)
    : store_(store), queue_(queue), poll_(poll), holder_(std::move(holder)), thread_([this] { Loop(); }) {}

OutboxPublisher::~OutboxPublisher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (!holder_.empty()) (void)store_.ReleaseLease("outbox", holder_);
}

void OutboxPublisher::Notify() {
  {
    std::lock_guard lock(mu_);
    notified_ = true;
  }
  cv_.notify_all();
}

Status OutboxPublisher::PublishPending() {
  for (;;) {
    auto jobs = store_.UnpublishedJobs(500);
    if (!jobs.ok()) return jobs.status();
    if (jobs->empty()) return Status::OK();
    for (const auto& job : *jobs) {
      auto id = queue_.Publish(job.payload);
      if (!id.ok()) return id.status();
      Status st = store_.MarkJobPublished(job.id);
      if (!st.ok()) return st;  // published twice at worst: jobs are idempotent
      DFS_LOG(DEBUG, "master") << "published job blob=" << job.blob_id << " entry=" << *id;
    }
  }
}

void OutboxPublisher::Loop() {
  auto last_prune = std::chrono::steady_clock::now();
  for (;;) {
    if (!holder_.empty() && !HoldsTask(store_, "outbox", holder_, poll_)) {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, poll_, [this] { return stopping_; })) return;
      continue;  // another master publishes
    }
    Status st = PublishPending();
    if (st.ok() != redis_up_.load()) {
      redis_up_ = st.ok();
      if (st.ok()) {
        DFS_LOG(INFO, "master") << "replication queue reachable again; outbox published";
      } else {
        DFS_LOG(WARN, "master") << "cannot publish replication jobs (kept in the outbox): " << st.ToString();
      }
    }
    if (std::chrono::steady_clock::now() - last_prune > std::chrono::minutes(1)) {
      store_.PruneOutbox(NowSeconds() - 3600);  // published jobs are kept an hour for debugging
      last_prune = std::chrono::steady_clock::now();
    }
    std::unique_lock lock(mu_);
    // While Redis is down, retry on the poll interval, not on every commit.
    auto wake = [this] { return stopping_ || (notified_ && redis_up_.load()); };
    cv_.wait_for(lock, poll_, wake);
    if (stopping_) return;
    notified_ = false;
  }
}

}  // namespace dfs::master
