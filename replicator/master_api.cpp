#include "replicator/master_api.h"

#include <nlohmann/json.hpp>

namespace dfs::replication {

MasterApi::MasterApi(Endpoint master, ClientTimeouts timeouts) : master_(std::move(master)), timeouts_(timeouts) {}

Result<BlobInfo> MasterApi::GetBlob(const std::string& blob_id) const {
  auto cli = MakeClient(master_, timeouts_);
  auto res = cli->Get("/api/v1/blobs/" + blob_id);
  if (Status st = StatusFromResult(res); !st.ok()) return st;
  auto json = nlohmann::json::parse(res->body, nullptr, false);
  if (!json.is_object() || !json.contains("holders") || !json["holders"].is_array()) {
    return Status::Internal("master sent a bad blob answer");
  }
  BlobInfo info;
  try {
    info.blob_id = json.value("blob_id", blob_id);
    info.md5 = json.value("md5", "");
    info.size = json.value("size", uint64_t{0});
    info.want_copies = json.value("want_copies", 1);
    for (const auto& h : json["holders"]) {
      info.holders.push_back({h.value("node_id", ""), h.value("url", ""), h.value("state", ""),
                              h.value("node_state", "")});
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::Internal(std::string("master sent a bad blob answer: ") + e.what());
  }
  return info;
}

Result<std::vector<NodeSummary>> MasterApi::ListNodes() const {
  auto cli = MakeClient(master_, timeouts_);
  auto res = cli->Get("/api/v1/nodes");
  if (Status st = StatusFromResult(res); !st.ok()) return st;
  auto json = nlohmann::json::parse(res->body, nullptr, false);
  if (!json.is_object() || !json.contains("nodes") || !json["nodes"].is_array()) {
    return Status::Internal("master sent a bad nodes answer");
  }
  std::vector<NodeSummary> out;
  try {
    for (const auto& n : json["nodes"]) {
      out.push_back({n.value("node_id", ""), n.value("url", ""), n.value("state", ""), n.value("free", uint64_t{0})});
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::Internal(std::string("master sent a bad nodes answer: ") + e.what());
  }
  return out;
}

Status MasterApi::RecordReplica(const std::string& blob_id, const std::string& node_id, const std::string& md5,
                                const std::string& request_id) const {
  auto cli = MakeClient(master_, timeouts_);
  httplib::Headers headers = {{kRequestIdHeader, request_id}};
  auto res = cli->Post("/api/v1/blobs/" + blob_id + "/replicas", headers,
                       nlohmann::json{{"node_id", node_id}, {"md5", md5}}.dump(), "application/json");
  return StatusFromResult(res);
}

Status MasterApi::ReportBad(const std::string& blob_id, const std::string& node_id,
                            const std::string& request_id) const {
  auto cli = MakeClient(master_, timeouts_);
  httplib::Headers headers = {{kRequestIdHeader, request_id}};
  auto res = cli->Post("/api/v1/blobs/" + blob_id + "/bad", headers, nlohmann::json{{"node_id", node_id}}.dump(),
                       "application/json");
  return StatusFromResult(res);
}

}  // namespace dfs::replication
