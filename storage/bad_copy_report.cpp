#include "storage/bad_copy_report.h"

#include <nlohmann/json.hpp>

namespace dfs::storage {

Status ReportBadCopy(const Endpoint& master, const std::string& node_id, const std::string& blob_id) {
  auto cli = MakeClient(master);
  return StatusFromResult(
      cli->Post("/api/v1/blobs/" + blob_id + "/bad", nlohmann::json{{"node_id", node_id}}.dump(), "application/json"));
}

}  // namespace dfs::storage
