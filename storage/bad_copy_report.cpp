// ReportBadCopy: one POST to the first master that answers.
#include "storage/bad_copy_report.h"

#include <nlohmann/json.hpp>

namespace dfs::storage {

Status ReportBadCopy(const MasterSet& masters, const std::string& node_id, const std::string& blob_id) {
  const std::string body = nlohmann::json{{"node_id", node_id}}.dump();
  return masters.Call(Resend::kSafe, [&](const Endpoint& master) {
    return AttemptFrom(MakeClient(master)->Post("/api/v1/blobs/" + blob_id + "/bad", body, "application/json"));
  }).status;
}

}  // namespace dfs::storage
