// MasterApi: the replicator's requests to the masters (see master_api.h).
#include "replicator/master_api.h"

#include <nlohmann/json.hpp>

namespace dfs::replication {

MasterApi::MasterApi(std::shared_ptr<const MasterSet> masters, ClientTimeouts timeouts)
    : masters_(std::move(masters)), timeouts_(timeouts), pool_(std::make_shared<ClientPool>(timeouts)) {}

Status MasterApi::Send(const std::function<httplib::Result(httplib::Client&)>& request, httplib::Result* res) const {
  return masters_->Call(Resend::kSafe, [&](const Endpoint& master) {
    auto cli = pool_->Acquire(master);
    *res = request(*cli);
    if (*res) cli.Keep();
    return AttemptFrom(*res);
  }).status;
}

Result<BlobInfo> MasterApi::GetBlob(const std::string& blob_id) const {
  httplib::Result res{nullptr, httplib::Error::Unknown};
  Status sent = Send([&](httplib::Client& cli) { return cli.Get("/api/v1/blobs/" + blob_id); }, &res);
  if (!sent.ok()) return sent;
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
  httplib::Result res{nullptr, httplib::Error::Unknown};
  Status sent = Send([](httplib::Client& cli) { return cli.Get("/api/v1/nodes"); }, &res);
  if (!sent.ok()) return sent;
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

Result<std::vector<NodeSummary>> MasterApi::ListNodesCached(std::chrono::milliseconds max_age) const {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(nodes_mu_);
    if (!nodes_.empty() && now - nodes_at_ <= max_age) return nodes_;
  }
  auto nodes = ListNodes();
  if (nodes.ok()) {
    std::lock_guard lock(nodes_mu_);
    nodes_ = *nodes;
    nodes_at_ = now;
  }
  return nodes;
}

Status MasterApi::RecordReplicas(const std::string& blob_id, const std::vector<std::string>& node_ids,
                                 const std::string& md5, const std::string& request_id) const {
  if (node_ids.empty()) return Status::OK();
  const httplib::Headers headers = {{kRequestIdHeader, request_id}};
  const std::string body = nlohmann::json{{"node_id", node_ids.front()}, {"node_ids", node_ids}, {"md5", md5}}.dump();
  httplib::Result res{nullptr, httplib::Error::Unknown};
  return Send([&](httplib::Client& cli) {
    return cli.Post("/api/v1/blobs/" + blob_id + "/replicas", headers, body, "application/json");
  }, &res);
}

Status MasterApi::ReportBad(const std::string& blob_id, const std::string& node_id,
                            const std::string& request_id) const {
  const httplib::Headers headers = {{kRequestIdHeader, request_id}};
  const std::string body = nlohmann::json{{"node_id", node_id}}.dump();
  httplib::Result res{nullptr, httplib::Error::Unknown};
  return Send([&](httplib::Client& cli) {
    return cli.Post("/api/v1/blobs/" + blob_id + "/bad", headers, body, "application/json");
  }, &res);
}

}  // namespace dfs::replication
