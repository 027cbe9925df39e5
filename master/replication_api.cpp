#include "master/replication_api.h"

#include "common/http_util.h"
#include "common/log.h"
#include "common/md5.h"
#include "master/request_parsing.h"
#include "master/sql/database.h"
#include "replicator/replication_job.h"

namespace dfs::master {
namespace {

constexpr const char* kBlob = R"(/api/v1/blobs/([0-9a-f]{32}))";
constexpr const char* kNode = R"(/api/v1/nodes/([0-9A-Za-z_-]{1,64}))";

nlohmann::json BlobToJson(const BlobRecord& blob) {
  nlohmann::json holders = nlohmann::json::array();
  for (const auto& h : blob.holders) {
    holders.push_back({{"node_id", h.node_id},
                       {"url", h.node_url},
                       {"state", ToString(h.state)},
                       {"node_state", ToString(h.node_state)}});
  }
  return {{"blob_id", blob.chunk.blob_id}, {"md5", blob.chunk.md5},   {"size", blob.chunk.size},
          {"path", blob.file.path},       {"want_copies", blob.file.want_copies}, {"holders", holders}};
}

void RegisterBlobRoutes(httplib::Server& server, FileService& files) {
  server.Get(kBlob, [&files](const httplib::Request& req, httplib::Response& res) {
    auto blob = files.store().GetBlob(req.matches[1]);
    if (!blob.ok()) return SendError(res, blob.status());
    SendJson(res, 200, BlobToJson(*blob));
  });
  server.Post(std::string(kBlob) + "/replicas", [&files](const httplib::Request& req, httplib::Response& res) {
    auto report = ParseReplicaReport(req.body);
    if (!report.ok()) return SendError(res, report.status());
    const std::string blob_id = req.matches[1];
    // Not waited for on the master's disk: a record a power failure undoes
    // is a copy the healer makes again (the node answers that it has it).
    RelaxedCommits relaxed;
    for (const std::string& node_id : report->node_ids) {
      Status st = files.store().AddReplica(blob_id, node_id, report->md5);
      if (!st.ok()) return SendError(res, st);
      DFS_LOG(INFO, "master") << "replica blob=" << blob_id << " node=" << node_id
                              << " req=" << req.get_header_value(kRequestIdHeader);
    }
    SendJson(res, 200, {{"blob_id", blob_id}, {"node_id", report->node_ids.front()}, {"node_ids", report->node_ids},
                        {"state", ToString(ReplicaState::kOk)}});
  });
  server.Post(std::string(kBlob) + "/bad", [&files](const httplib::Request& req, httplib::Response& res) {
    auto node_id = ParseNodeIdBody(req.body);
    if (!node_id.ok()) return SendError(res, node_id.status());
    files.MarkReplicaBad(req.matches[1], *node_id);
    SendJson(res, 200, {{"blob_id", req.matches[1]}, {"node_id", *node_id}, {"state", ToString(ReplicaState::kBad)}});
  });
}

constexpr int kDeadPage = 1000;

bool IsStreamId(const std::string& id) {
  size_t dash = id.find('-');
  auto digits = [](const std::string& s) {
    return !s.empty() && s.size() <= 20 && s.find_first_not_of("0123456789") == std::string::npos;
  };
  return dash != std::string::npos && digits(id.substr(0, dash)) && digits(id.substr(dash + 1));
}

void RegisterDrainRoutes(httplib::Server& server, FileService& files) {
  auto set_state = [&files](const std::string& node_id, bool draining, httplib::Response& res) {
    auto state = files.store().SetNodeDraining(node_id, draining);
    if (!state.ok()) return SendError(res, state.status());
    DFS_LOG(INFO, "master") << "node=" << node_id << " draining=" << draining << " state=" << ToString(*state)
                            << " (operator)";
    SendJson(res, 200, {{"node_id", node_id}, {"state", ToString(*state)}, {"draining", draining}});
  };
  // Draining: no new placements, and its copies stop counting, so the
  // healer copies every file it holds elsewhere.
  server.Post(std::string(kNode) + "/drain", [set_state](const httplib::Request& req, httplib::Response& res) {
    set_state(req.matches[1], true, res);
  });
  server.Post(std::string(kNode) + "/undrain", [set_state](const httplib::Request& req, httplib::Response& res) {
    set_state(req.matches[1], false, res);
  });
}

}  // namespace

Result<nlohmann::json> ReplicationStatus(FileService& files, replication::ReplicationQueue* queue) {
  auto counts = files.store().CountReplication(files.DeadBefore());
  if (!counts.ok()) return counts.status();
  nlohmann::json out = {{"under_replicated", counts->under_replicated},
                        {"unpublished_jobs", counts->unpublished_jobs},
                        {"redis", queue ? queue->address().host + ":" + std::to_string(queue->address().port) : ""}};
  if (queue) {
    auto stats = queue->Stats();
    out["redis_reachable"] = stats.ok();
    if (stats.ok()) {
      out["queue_length"] = stats->length;
      out["pending"] = stats->pending;
      out["dead"] = stats->dead;
    } else {
      out["redis_error"] = stats.status().message();
    }
  }
  return out;
}

namespace {

void RegisterQueueRoutes(httplib::Server& server, FileService& files, replication::ReplicationQueue* queue) {
  server.Get("/api/v1/replication", [&files, queue](const httplib::Request&, httplib::Response& res) {
    auto out = ReplicationStatus(files, queue);
    if (!out.ok()) return SendError(res, out.status());
    SendJson(res, 200, *out);
  });
  auto need_queue = [queue](httplib::Response& res) {
    if (!queue) SendError(res, Status::NotFound("there is no replication queue: the master runs without --redis"));
    return queue != nullptr;
  };
  // ?limit=N (default 1000) and ?after=ID page through; "more" says whether
  // entries follow the last one listed.
  server.Get("/api/v1/replication/dead", [queue, need_queue](const httplib::Request& req, httplib::Response& res) {
    if (!need_queue(res)) return;
    int limit = kDeadPage;
    if (req.has_param("limit")) {
      const std::string v = req.get_param_value("limit");
      if (v.empty() || v.size() > 6 || v.find_first_not_of("0123456789") != std::string::npos || std::stoi(v) < 1) {
        return SendError(res, Status::InvalidArgument("limit must be a whole number from 1 to 999999"));
      }
      limit = std::stoi(v);
    }
    const std::string after = req.get_param_value("after");
    if (!after.empty() && !IsStreamId(after)) {
      return SendError(res, Status::InvalidArgument("after must be a dead job id (as listed)"));
    }
    auto dead = queue->ListDead(limit + 1, after);
    if (!dead.ok()) return SendError(res, dead.status());
    const bool more = dead->size() > static_cast<size_t>(limit);
    if (more) dead->pop_back();
    nlohmann::json out = nlohmann::json::array();
    for (const auto& d : *dead) {
      nlohmann::json entry = {{"id", d.id}, {"reason", d.reason}, {"original_id", d.original_id}};
      auto job = replication::ReplicationJob::Parse(d.payload);
      if (job.ok()) {
        entry["blob_id"] = job->blob_id;
      } else {
        entry["payload"] = d.payload;
      }
      out.push_back(entry);
    }
    SendJson(res, 200, {{"dead", out}, {"more", more}});
  });
  // id "all" requeues every dead letter.
  server.Post(R"(/api/v1/replication/dead/([0-9]+-[0-9]+|all)/requeue)",
              [queue, need_queue](const httplib::Request& req, httplib::Response& res) {
                if (!need_queue(res)) return;
                std::vector<std::string> ids;
                if (req.matches[1] == "all") {
                  // Every entry there now, page by page (jobs that fail again
                  // while this runs land after the last id taken here).
                  std::string after;
                  for (;;) {
                    auto dead = queue->ListDead(kDeadPage, after);
                    if (!dead.ok()) return SendError(res, dead.status());
                    for (const auto& d : *dead) ids.push_back(d.id);
                    if (dead->size() < static_cast<size_t>(kDeadPage)) break;
                    after = dead->back().id;
                  }
                } else {
                  ids.push_back(req.matches[1]);
                }
                nlohmann::json requeued = nlohmann::json::array();
                for (const auto& id : ids) {
                  auto entry = queue->Requeue(id);
                  if (!entry.ok()) return SendError(res, entry.status());
                  requeued.push_back(*entry);
                }
                DFS_LOG(INFO, "master") << "requeued " << ids.size() << " dead replication job(s)";
                SendJson(res, 200, {{"requeued", requeued}});
              });
}

}  // namespace

void RegisterReplicationRoutes(httplib::Server& server, FileService& files, replication::ReplicationQueue* queue) {
  RegisterBlobRoutes(server, files);
  RegisterDrainRoutes(server, files);
  RegisterQueueRoutes(server, files, queue);
}

}  // namespace dfs::master
