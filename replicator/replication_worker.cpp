#include "replicator/replication_worker.h"

#include <algorithm>
#include <random>
#include <set>
#include <thread>
#include <utility>

#include "common/http_util.h"
#include "common/log.h"

namespace dfs::replication {

const char* JobResultName(JobResult r) {
  switch (r) {
    case JobResult::kDone: return "done";
    case JobResult::kDropped: return "dropped";
    case JobResult::kFailed: return "failed";
    case JobResult::kRetryLater: return "retry_later";
  }
  return "?";
}

bool ReplicationWorker::Sleep(std::chrono::milliseconds d) const {
  auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    if (stop_.load()) return false;
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(std::chrono::milliseconds(50), d));
  }
  return !stop_.load();
}

std::chrono::milliseconds ReplicationWorker::Backoff(int failures) const {
  auto d = options_.backoff_base * (1LL << std::min(failures, 10));
  return std::min<std::chrono::milliseconds>(d, options_.backoff_max);
}

std::vector<ReplicationWorker::MadeCopy> ReplicationWorker::CopyToTargets(
    const std::string& blob_id, const std::string& req, const BlobInfo& info, const std::string& md5,
    const std::vector<BlobHolder>& sources, const std::vector<NodeSummary>& order, int need, bool trusted,
    const std::function<void()>& keepalive, std::set<std::string>* bad_targets, std::string* last_error,
    bool* stopping) {
  std::vector<MadeCopy> made;
  for (size_t i = 0; i < order.size() && static_cast<int>(made.size()) < need; ++i) {
    const NodeSummary& target = order[i];
    for (const auto& source : sources) {
      if (stop_.load()) {
        *stopping = true;
        return made;
      }
      CopyOutcome c = copier_.Copy(source.url, target.url, blob_id, md5, info.size, req, keepalive);
      if (c.ok()) {
        made.push_back({target.node_id, target.url, source.node_id});
        break;
      }
      *last_error = c.status.ToString();
      DFS_LOG(WARN, "replicator") << "copy job=" << req << " blob=" << blob_id << " from=" << source.node_id
                                  << " to=" << target.node_id << " failed: " << *last_error;
      if (c.fault == CopyFault::kSourceBad && !trusted) {  // (the job's copy may be gone: asked next pass)
        Status st = master_.ReportBad(blob_id, source.node_id, req);
        DFS_LOG(WARN, "replicator") << "reported bad copy blob=" << blob_id << " node=" << source.node_id
                                    << (st.ok() ? "" : " (report failed: " + st.ToString() + ")");
      }
      if (c.fault != CopyFault::kTarget) continue;
      bad_targets->insert(target.node_id);  // kTarget: the next target
      break;
    }
  }
  return made;
}

BlobInfo ReplicationWorker::InfoFromJob(const ReplicationJob& job) {
  BlobInfo info;
  info.blob_id = job.blob_id;
  info.md5 = job.md5;
  info.size = job.size;
  info.want_copies = job.want_copies;
  info.holders.push_back({job.source_node_id, job.source_url, "ok", "up"});
  return info;
}

JobOutcome ReplicationWorker::Process(const ReplicationJob& job, const std::function<void()>& keepalive) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::string req = job.job_id.empty() ? RandomHex(6) : job.job_id;
  JobOutcome outcome;
  int failures = 0;
  int master_failures = 0;
  auto master_down_since = std::chrono::steady_clock::time_point{};
  std::set<std::string> bad_targets;
  std::string last_error;

  // The master is unreachable: wait for it (bounded), without counting it
  // against the job; true to go on, false to leave the job pending.
  auto wait_for_master = [&](const Status& st) {
    auto now = std::chrono::steady_clock::now();
    if (master_failures++ == 0) master_down_since = now;
    DFS_LOG(WARN, "replicator") << "job=" << req << " blob=" << job.blob_id << " master: " << st.ToString();
    if (now - master_down_since > options_.master_patience) return false;
    return Sleep(Backoff(master_failures));
  };
  auto retry_later = [&](std::string why) {
    outcome.result = JobResult::kRetryLater;
    outcome.detail = std::move(why);
    return outcome;
  };

  // The first pass of a new chunk's job copies from the copy the job names,
  // without asking the master; any later pass asks it for the chunk's copies.
  bool from_job = !job.source_url.empty();
  for (;;) {
    if (stop_.load()) return retry_later("stopping");
    if (keepalive) keepalive();
    const bool trusted = std::exchange(from_job, false);
    auto info = trusted ? Result<BlobInfo>(InfoFromJob(job)) : master_.GetBlob(job.blob_id);
    if (!info.ok()) {
      if (info.status().code() == Code::kNotFound) {
        outcome.result = JobResult::kDropped;
        outcome.detail = "no file refers to the blob any more";
        return outcome;
      }
      if (IsRetryable(info.status())) {
        if (!wait_for_master(info.status())) return retry_later("master unreachable: " + info.status().ToString());
        continue;
      }
      outcome.result = JobResult::kFailed;
      outcome.detail = "master refused: " + info.status().ToString();
      return outcome;
    }
    master_failures = 0;
    const std::string md5 = info->md5.empty() ? job.md5 : info->md5;
    std::set<std::string> holder_ids, bad_holders;
    std::vector<BlobHolder> sources;
    int good = 0;
    for (const auto& h : info->holders) {
      if (h.state != "ok") {
        bad_holders.insert(h.node_id);  // a good copy is best written over the bad one
        continue;
      }
      holder_ids.insert(h.node_id);
      if (h.url.empty()) continue;
      if (h.node_state == "up") ++good;
      sources.push_back(h);
    }
    if (good >= info->want_copies) {
      outcome.result = JobResult::kDone;
      outcome.detail = std::to_string(good) + " copies";
      return outcome;
    }
    // Sources on up nodes first; nodes believed down are still worth a try.
    std::stable_sort(sources.begin(), sources.end(), [](const BlobHolder& a, const BlobHolder& b) {
      return (a.node_state == "up") > (b.node_state == "up");
    });
    auto nodes = master_.ListNodesCached(kNodeListAge);
    if (!nodes.ok()) {
      if (IsRetryable(nodes.status())) {
        if (!wait_for_master(nodes.status())) return retry_later("master unreachable: " + nodes.status().ToString());
        continue;
      }
      outcome.result = JobResult::kFailed;
      outcome.detail = "master refused: " + nodes.status().ToString();
      return outcome;
    }
    std::vector<NodeSummary> targets;
    bool any_free_node = false;
    for (const auto& n : *nodes) {
      if (n.state != "up" || holder_ids.count(n.node_id)) continue;
      any_free_node = true;
      if (!bad_targets.count(n.node_id)) targets.push_back(n);
    }
    if (!any_free_node) {
      // Fewer nodes than wanted copies: as good as it gets for now; the
      // master's healer queues the file again when a node joins.
      outcome.result = JobResult::kDone;
      outcome.detail = "only " + std::to_string(good) + " of " + std::to_string(info->want_copies) +
                       " copies possible: no other up node";
      return outcome;
    }
    bool copied = false;
    if (sources.empty()) {
      last_error = "no good copy to copy from";
    } else if (targets.empty()) {
      last_error = "every candidate target failed";
      bad_targets.clear();  // give them another chance after the backoff
    } else {
      // Every copy still wanted in this pass, each to another node: those
      // holding a bad copy first (a good copy is best written over it), then at random.
      std::vector<NodeSummary> order, others;
      for (const auto& t : targets) (bad_holders.count(t.node_id) ? order : others).push_back(t);
      std::shuffle(order.begin(), order.end(), rng);
      std::shuffle(others.begin(), others.end(), rng);
      order.insert(order.end(), others.begin(), others.end());
      const int need = info->want_copies - good;
      bool stopping = false;
      std::vector<MadeCopy> made = CopyToTargets(job.blob_id, req, *info, md5, sources, order, need, trusted,
                                                 keepalive, &bad_targets, &last_error, &stopping);
      if (stopping) return retry_later("stopping");
      if (!made.empty()) {
        // One report for every copy of the pass.
        std::vector<std::string> node_ids;
        for (const auto& m : made) node_ids.push_back(m.target_id);
        Status rec;
        for (;;) {
          rec = master_.RecordReplicas(job.blob_id, node_ids, md5, req);
          if (rec.ok() || !IsRetryable(rec)) break;
          if (!wait_for_master(rec)) return retry_later("master unreachable: " + rec.ToString());
        }
        if (rec.code() == Code::kNotFound) {
          // The file went away while we copied: do not leave orphans.
          for (const auto& m : made) copier_.Delete(m.target_url, job.blob_id);
          outcome.result = JobResult::kDropped;
          outcome.detail = "file deleted during the copy";
          return outcome;
        }
        if (!rec.ok()) {
          last_error = "master did not record the copies: " + rec.ToString();
          bad_targets.insert(node_ids.begin(), node_ids.end());
        } else {
          copied = true;
          outcome.copies_made += static_cast<int>(made.size());
          for (const auto& m : made) {
            DFS_LOG(INFO, "replicator") << "copied job=" << req << " blob=" << job.blob_id << " from=" << m.source_id
                                        << " to=" << m.target_id << " size=" << info->size;
          }
          if (static_cast<int>(made.size()) >= need) {  // every wanted copy made and recorded
            outcome.result = JobResult::kDone;
            outcome.detail = std::to_string(good + static_cast<int>(made.size())) + " copies";
            return outcome;
          }
        }
      }
    }
    if (copied || trusted) continue;
    ++failures;
    if (failures >= options_.max_attempts) {
      outcome.result = JobResult::kFailed;
      outcome.detail = "gave up after " + std::to_string(failures) + " failed attempts: " + last_error;
      return outcome;
    }
    if (!Sleep(Backoff(failures))) return retry_later("stopping");
  }
}

}  // namespace dfs::replication
