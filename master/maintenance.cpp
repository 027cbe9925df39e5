#include "master/maintenance.h"

#include <unistd.h>

#include <algorithm>

#include "common/http_util.h"
#include "common/log.h"

namespace dfs::master {

std::string NewHolderId() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + RandomHex(4);
}

double TaskLeaseTtl(std::chrono::milliseconds interval) {
  return std::clamp(3 * std::chrono::duration<double>(interval).count(), 5.0, 30.0);
}

bool HoldsTask(MetadataStore& store, const std::string& task, const std::string& holder,
               std::chrono::milliseconds interval) {
  auto held = store.HoldLease(task, holder, TaskLeaseTtl(interval));
  return held.ok() && *held;
}

Maintenance::~Maintenance() { Stop(); }

void Maintenance::Add(std::string name, std::chrono::milliseconds interval, std::function<void()> task) {
  names_.push_back(name);
  threads_.emplace_back([this, name = std::move(name), interval, task = std::move(task)] {
    bool held = false;
    for (;;) {
      try {
        const bool now_held = !store_ || HoldsTask(*store_, name, holder_, interval);
        if (now_held != held && store_) {
          DFS_LOG(INFO, "master") << "background task " << name << (now_held ? ": this master runs it" : ": another master runs it");
        }
        held = now_held;
        if (held) task();
      } catch (const std::exception& e) {
        DFS_LOG(ERROR, "master") << "background task " << name << " failed: " << e.what();
      }
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, interval, [this] { return stopping_; })) return;
    }
  });
}

void Maintenance::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  if (store_) {
    for (const auto& name : names_) (void)store_->ReleaseLease(name, holder_);
  }
  names_.clear();
}

void CheckNodeLiveness(MetadataStore& store, std::chrono::milliseconds timeout) {
  double before = NowSeconds() - std::chrono::duration<double>(timeout).count();
  auto down = store.MarkSilentNodesDown(before);
  if (!down.ok()) return;
  for (const auto& id : *down) DFS_LOG(WARN, "master") << "node down node=" << id << " (no heartbeat)";
}

void ProcessBlobDeletions(MetadataStore& store, const NodeClient& nodes) {
  auto pending = store.PendingDeletions(200);
  if (!pending.ok()) return;
  for (const auto& d : *pending) {
    Status st = d.node_url.empty() ? Status::NotFound("unknown node") : nodes.DeleteBlob(d.node_url, d.blob_id);
    if (st.ok()) {
      store.DeletionDone(d.blob_id, d.node_id);
      DFS_LOG(DEBUG, "master") << "deleted blob=" << d.blob_id << " node=" << d.node_id;
    } else {
      store.DeletionFailed(d.blob_id, d.node_id);
      if (d.attempts % 10 == 0) {
        DFS_LOG(WARN, "master") << "delete blob=" << d.blob_id << " node=" << d.node_id << " failed (attempt "
                                << d.attempts + 1 << "): " << st.ToString();
      }
    }
  }
}

void ExpireHandles(MetadataStore& store) {
  auto expired = store.ExpireHandles(NowSeconds());
  if (expired.ok() && *expired > 0) DFS_LOG(INFO, "master") << "expired " << *expired << " open-file handle(s)";
}

void SettlePendingMd5(FileService& files) {
  const double quiet = std::chrono::duration<double>(files.options().settle_after).count();
  auto pending = files.store().PendingMd5(NowSeconds() - quiet, 16);
  if (!pending.ok()) return;
  for (int64_t ino : *pending) {
    Status st = files.SettleMd5(ino);
    if (!st.ok() && st.code() != Code::kNotFound) {
      DFS_LOG(WARN, "master") << "md5 of ino=" << ino << " not settled yet: " << st.ToString();
    }
  }
}

constexpr double kCompactionRetrySeconds = 30;

void CompactChunks(FileService& files) {
  const double started = NowSeconds();
  const double quiet = std::chrono::duration<double>(files.options().compact_after).count();
  auto due = files.store().FilesToCompact(started - quiet, 16);
  if (!due.ok()) return;
  for (int64_t ino : *due) {
    auto merged = files.CompactChunks(ino);
    if (!merged.ok() && merged.status().code() != Code::kNotFound) {
      // Noted still; tried again in a while (a chunk without a good copy
      // now may have one once its node is back or healing copied it).
      DFS_LOG(WARN, "master") << "compaction of ino=" << ino << " not done yet: " << merged.status().ToString()
                              << "; again in " << kCompactionRetrySeconds << " s";
      (void)files.store().PostponeCompaction(ino, NowSeconds() + kCompactionRetrySeconds);
      continue;
    }
    if (Status st = files.store().ForgetCompaction(ino, started); !st.ok()) return;
  }
}

void QueueUnderReplicated(FileService& files, std::chrono::milliseconds retry_after) {
  auto queued =
      files.store().QueueUnderReplicated(files.DeadBefore(), std::chrono::duration<double>(retry_after).count(), 1000);
  if (!queued.ok() || *queued == 0) return;
  DFS_LOG(INFO, "master") << "healing: queued " << *queued << " under-replicated file(s)";
  if (files.options().on_jobs_queued) files.options().on_jobs_queued();
}

}  // namespace dfs::master
