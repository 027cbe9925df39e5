#include "replicator/replication_job.h"

#include <nlohmann/json.hpp>

#include "common/md5.h"

namespace dfs::replication {

bool IsValidBlobId(std::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string ReplicationJob::ToJson() const {
  nlohmann::json j = {{"job_id", job_id},           {"blob_id", blob_id},       {"md5", md5}, {"size", size},
                      {"want_copies", want_copies}, {"created_at", created_at}};
  if (!source_node_id.empty() && !source_url.empty()) j["source"] = {{"node_id", source_node_id}, {"url", source_url}};
  return j.dump();
}

Result<ReplicationJob> ReplicationJob::Parse(std::string_view text) {
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return Status::InvalidArgument("job is not a JSON object");
  ReplicationJob job;
  auto str = [&](const char* key, std::string* out) -> Status {
    auto it = json.find(key);
    if (it == json.end() || !it->is_string()) return Status::InvalidArgument(std::string("job has no string ") + key);
    *out = it->get<std::string>();
    return Status::OK();
  };
  if (Status st = str("blob_id", &job.blob_id); !st.ok()) return st;
  if (Status st = str("md5", &job.md5); !st.ok()) return st;
  if (json.contains("job_id") && json["job_id"].is_string()) job.job_id = json["job_id"];
  if (!IsValidBlobId(job.blob_id)) return Status::InvalidArgument("job blob_id is not 32 lower-case hex digits");
  if (!Md5::IsValidHex(job.md5)) return Status::InvalidArgument("job md5 is not 32 hex digits");
  for (char& c : job.md5) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto size = json.find("size");
  if (size == json.end() || !size->is_number_unsigned()) return Status::InvalidArgument("job size is not a number");
  job.size = size->get<uint64_t>();
  auto want = json.find("want_copies");
  if (want == json.end() || !want->is_number_integer()) return Status::InvalidArgument("job want_copies is missing");
  int64_t w = want->get<int64_t>();
  if (w < 1 || w > 64) return Status::InvalidArgument("job want_copies out of range");
  job.want_copies = static_cast<int>(w);
  if (auto created = json.find("created_at"); created != json.end() && created->is_number()) {
    job.created_at = created->get<double>();
  }
  if (auto source = json.find("source"); source != json.end()) {
    if (!source->is_object() || !source->value("node_id", nlohmann::json()).is_string() ||
        !source->value("url", nlohmann::json()).is_string()) {
      return Status::InvalidArgument("job source is not {\"node_id\", \"url\"}");
    }
    job.source_node_id = (*source)["node_id"];
    job.source_url = (*source)["url"];
  }
  return job;
}

}  // namespace dfs::replication
