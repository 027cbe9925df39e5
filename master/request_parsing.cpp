#include "master/request_parsing.h"

#include <cctype>
#include <charconv>

#include <nlohmann/json.hpp>

#include "common/http_util.h"
#include "common/md5.h"
#include "common/path.h"

namespace dfs::master {

namespace {
nlohmann::json ParseObject(std::string_view body, bool empty_is_object) {
  if (empty_is_object && body.empty()) return nlohmann::json::object();
  return nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
}

// A file mode: an integer of permission bits (07777 at most); floats,
// strings and huge numbers are refused instead of being cast.
bool AsMode(const nlohmann::json& v, int* out) {
  if (!v.is_number_unsigned() || v.get<uint64_t>() > 07777) return false;
  *out = static_cast<int>(v.get<uint64_t>());
  return true;
}

bool IsString(const nlohmann::json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && it->is_string();
}
}  // namespace

Result<ConflictMode> ParseConflictMode(const std::string& value) {
  if (value.empty() || value == "rename") return ConflictMode::kRename;
  if (value == "overwrite") return ConflictMode::kOverwrite;
  if (value == "fail") return ConflictMode::kFail;
  return Status::InvalidArgument("conflict must be rename, overwrite or fail");
}

Result<std::string> ParseMd5Header(const std::string& value) {
  if (value.empty()) return std::string();
  if (!Md5::IsValidHex(value)) return Status::InvalidArgument("X-Dfs-Md5 must be 32 hex digits");
  std::string lower = value;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

Result<std::string> ParseIdempotencyKey(const std::string& value) {
  constexpr std::string_view kAllowed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-";
  if (value.size() > 128 || value.find_first_not_of(kAllowed) != std::string::npos) {
    return Status::InvalidArgument("Idempotency-Key must be 1 to 128 of A-Z a-z 0-9 . _ : -");
  }
  return value;
}

Result<int> ParseReplicasParam(const std::string& value) {
  int n = -1;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  // from_chars takes a sign ("-0"): digits only.
  if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos || ec != std::errc() ||
      ptr != value.data() + value.size() || n < 0 || n > 16) {
    return Status::InvalidArgument("bad replicas");
  }
  return n;
}

bool RangeIsSatisfiable(const httplib::Ranges& ranges, uint64_t size) {
  if (ranges.size() != 1) return false;
  auto [first, last] = ranges[0];
  if (first >= 0) return static_cast<uint64_t>(first) < size && (last < 0 || first <= last);
  return last > 0 && size > 0;  // "bytes=-N": the last N bytes
}

std::pair<uint64_t, uint64_t> RangeBounds(const httplib::Range& range, uint64_t size) {
  auto [first, last] = range;
  if (first < 0) {
    uint64_t n = std::min<uint64_t>(static_cast<uint64_t>(last), size);
    return {size - n, n};
  }
  uint64_t end = last < 0 ? size - 1 : std::min<uint64_t>(static_cast<uint64_t>(last), size - 1);
  return {static_cast<uint64_t>(first), end - static_cast<uint64_t>(first) + 1};
}

Result<NodeRecord> ParseNodeReport(const std::string& node_id, std::string_view text) {
  auto body = ParseObject(text, false);
  if (!body.is_object() || !IsString(body, "url")) {
    return Status::InvalidArgument("body must be a JSON object with a url");
  }
  NodeRecord node;
  node.node_id = node_id;
  node.url = body["url"];
  if (!ParseEndpoint(node.url).ok()) return Status::InvalidArgument("bad node url");
  for (const char* key : {"capacity", "used", "free", "blobs"}) {
    if (body.contains(key) && !body[key].is_number_unsigned()) {
      return Status::InvalidArgument(std::string(key) + " must be a non-negative integer");
    }
  }
  auto number = [&](const char* key) -> uint64_t { return body.value(key, uint64_t{0}); };
  node.capacity = number("capacity");
  node.used = number("used");
  node.free = number("free");
  node.blobs = number("blobs");
  return node;
}

Result<ReplicaReport> ParseReplicaReport(std::string_view text) {
  auto body = ParseObject(text, false);
  if (!body.is_object() || !IsString(body, "node_id") || !IsString(body, "md5") ||
      !Md5::IsValidHex(body["md5"].get<std::string>())) {
    return Status::InvalidArgument("body must be {\"node_id\": ..., \"md5\": <32 hex>}");
  }
  return ReplicaReport{body["node_id"], body["md5"]};
}

Result<std::string> ParseNodeIdBody(std::string_view text) {
  auto body = ParseObject(text, false);
  if (!body.is_object() || !IsString(body, "node_id")) {
    return Status::InvalidArgument("body must be a JSON object with a node_id");
  }
  return body["node_id"].get<std::string>();
}

Result<RenameRequest> ParseRenameBody(std::string_view text) {
  auto body = ParseObject(text, true);
  if (!body.is_object()) return Status::InvalidArgument("body must be a JSON object");
  if (!IsString(body, "from") || !IsString(body, "to")) {
    return Status::InvalidArgument("body must be {\"from\": path, \"to\": path}");
  }
  RenameRequest r{body["from"], body["to"]};
  for (const auto& p : {r.from, r.to}) {
    if (Status st = ValidatePath(p); !st.ok()) return st;
  }
  return r;
}

Result<AttrChange> ParseAttrChange(std::string_view text) {
  auto body = ParseObject(text, true);
  if (!body.is_object()) return Status::InvalidArgument("body must be a JSON object");
  AttrChange change;
  if (auto it = body.find("mode"); it != body.end()) {
    int mode = 0;
    if (!AsMode(*it, &mode)) return Status::InvalidArgument("mode must be an integer of permission bits");
    change.mode = mode;
  }
  if (auto it = body.find("mtime"); it != body.end()) {
    if (!it->is_number()) return Status::InvalidArgument("mtime must be a number");
    change.mtime = it->get<double>();
  }
  if (auto it = body.find("size"); it != body.end()) {
    if (!it->is_number_unsigned()) return Status::InvalidArgument("size must be a non-negative integer");
    change.size = it->get<uint64_t>();
  }
  return change;
}

Result<int> ParseMkdirMode(std::string_view text) {
  auto body = ParseObject(text, true);
  if (!body.is_object()) return Status::InvalidArgument("body must be a JSON object");
  int mode = 0755;
  if (auto it = body.find("mode"); it != body.end() && !AsMode(*it, &mode)) {
    return Status::InvalidArgument("mode must be an integer of permission bits");
  }
  return mode;
}

}  // namespace dfs::master
