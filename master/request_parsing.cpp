#include "master/request_parsing.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>

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

Result<std::optional<Credentials>> ParseCredentials(const httplib::Request& req) {
  if (!req.has_header(kUidHeader)) {
    if (req.has_header(kGidHeader) || req.has_header(kGroupsHeader)) {
      return Status::InvalidArgument(std::string(kGidHeader) + " and " + kGroupsHeader + " need " + kUidHeader);
    }
    return std::optional<Credentials>();
  }
  Credentials who;
  auto uid = ParseId(req.get_header_value(kUidHeader));
  if (!uid.ok()) return uid.status();
  auto gid = ParseId(req.get_header_value(kGidHeader));
  if (!gid.ok()) return Status::InvalidArgument(std::string(kGidHeader) + ": " + gid.status().message());
  auto groups = ParseGroupList(req.get_header_value(kGroupsHeader));
  if (!groups.ok()) return Status::InvalidArgument(std::string(kGroupsHeader) + ": " + groups.status().message());
  who.uid = *uid;
  who.gid = *gid;
  who.groups = std::move(*groups);
  return std::optional<Credentials>(std::move(who));
}

Result<std::optional<int>> ParseModeHeader(const std::string& value) {
  if (value.empty()) return std::optional<int>();
  if (value.size() > 5 || value.find_first_not_of("01234567") != std::string::npos) {
    return Status::InvalidArgument("X-Dfs-Mode must be octal permission bits (0 to 7777)");
  }
  const int mode = static_cast<int>(std::strtol(value.c_str(), nullptr, 8));
  if (mode > 07777) return Status::InvalidArgument("X-Dfs-Mode must be octal permission bits (0 to 7777)");
  return std::optional<int>(mode);
}

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
  ReplicaReport report{{body["node_id"].get<std::string>()}, body["md5"]};
  if (auto ids = body.find("node_ids"); ids != body.end()) {
    if (!ids->is_array() || ids->empty() || ids->size() > 64) {
      return Status::InvalidArgument("node_ids must be an array of 1 to 64 node ids");
    }
    report.node_ids.clear();
    for (const auto& id : *ids) {
      if (!id.is_string()) return Status::InvalidArgument("node_ids must be an array of 1 to 64 node ids");
      report.node_ids.push_back(id.get<std::string>());
    }
    if (std::find(report.node_ids.begin(), report.node_ids.end(), body["node_id"]) == report.node_ids.end()) {
      return Status::InvalidArgument("node_id must be one of node_ids");
    }
  }
  return report;
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
  if (auto it = body.find("flags"); it != body.end()) {
    if (*it == "noreplace") {
      r.mode = RenameMode::kNoReplace;
    } else if (*it == "exchange") {
      r.mode = RenameMode::kExchange;
    } else if (*it != "" && *it != "replace") {
      return Status::InvalidArgument("flags must be \"noreplace\" or \"exchange\"");
    }
  }
  return r;
}

Result<RenameRequest> ParseLinkBody(std::string_view text) {
  auto r = ParseRenameBody(text);
  if (r.ok() && r->mode != RenameMode::kReplace) return Status::InvalidArgument("a link takes no flags");
  return r;
}

Result<SymlinkRequest> ParseSymlinkBody(std::string_view text) {
  auto body = ParseObject(text, false);
  if (!body.is_object() || !IsString(body, "path") || !IsString(body, "target")) {
    return Status::InvalidArgument("body must be {\"path\": path, \"target\": text}");
  }
  SymlinkRequest r{body["path"], body["target"]};
  if (Status st = ValidatePath(r.path); !st.ok()) return st;
  return r;
}

bool IsHandle(std::string_view text) {
  return text.size() == 32 &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Result<uint64_t> ParseOffsetParam(const std::string& text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return Status::InvalidArgument("?offset= is a byte offset (a decimal number)");
  }
  return value;
}

Result<std::string> ParseHandleParam(const httplib::Request& req) {
  if (!req.has_param("handle")) return std::string();
  std::string handle = req.get_param_value("handle");
  if (!IsHandle(handle)) return Status::InvalidArgument("?handle= is 32 hex digits");
  return handle;
}

Result<wire::HandleList> ParseHandleList(std::string_view text) {
  auto body = ParseObject(text, false);
  const auto* handles = body.is_object() && body.contains("handles") ? &body["handles"] : nullptr;
  if (!handles || !handles->is_array() || handles->size() > 10000) {
    return Status::InvalidArgument("body must be {\"handles\": [handle, ...]} (at most 10000)");
  }
  wire::HandleList list;
  for (const auto& h : *handles) {
    if (!h.is_string() || !IsHandle(h.get<std::string>())) {
      return Status::InvalidArgument("a handle is 32 hex digits");
    }
    list.handles.push_back(h.get<std::string>());
  }
  return list;
}

Result<wire::UnlinkBatch> ParseUnlinkBatch(std::string_view text) {
  auto body = ParseObject(text, false);
  const auto* entries = body.is_object() && body.contains("entries") ? &body["entries"] : nullptr;
  if (!entries || !entries->is_array() || entries->empty() || entries->size() > kMaxUnlinkBatch) {
    return Status::InvalidArgument("body must be {\"entries\": [{\"path\": path, \"ino\": n}, ...]} (1 to " +
                                   std::to_string(kMaxUnlinkBatch) + " entries)");
  }
  wire::UnlinkBatch batch;
  for (const auto& e : *entries) {
    if (!e.is_object() || !IsString(e, "path")) return Status::InvalidArgument("an entry is {\"path\": path, \"ino\": n}");
    wire::UnlinkEntry entry{e["path"].get<std::string>(), 0};
    if (Status st = ValidatePath(entry.path); !st.ok()) return st;
    if (e.contains("ino")) {
      if (!e["ino"].is_number_unsigned()) return Status::InvalidArgument("an entry's ino is a whole number >= 0");
      entry.ino = static_cast<int64_t>(std::min<uint64_t>(e["ino"].get<uint64_t>(), INT64_MAX));
    }
    batch.entries.push_back(std::move(entry));
  }
  return batch;
}

Result<MknodRequest> ParseMknodBody(std::string_view text) {
  auto body = ParseObject(text, false);
  if (!body.is_object() || !IsString(body, "path") || !IsString(body, "type")) {
    return Status::InvalidArgument("body must be {\"path\": path, \"type\": fifo|socket|char|block, ...}");
  }
  MknodRequest r;
  r.path = body["path"];
  if (Status st = ValidatePath(r.path); !st.ok()) return st;
  auto type = InodeTypeFromString(body["type"].get<std::string>());
  if (!type || *type == InodeType::kFile || *type == InodeType::kDir || *type == InodeType::kSymlink) {
    return Status::InvalidArgument("type must be fifo, socket, char or block");
  }
  r.type = *type;
  if (auto it = body.find("mode"); it != body.end() && !AsMode(*it, &r.mode)) {
    return Status::InvalidArgument("mode must be an integer of permission bits");
  }
  if (auto it = body.find("rdev"); it != body.end()) {
    if (!it->is_number_unsigned() || it->get<uint64_t>() > uint64_t{0xFFFFFFFF}) {
      return Status::InvalidArgument("rdev must be a device number");
    }
    r.rdev = static_cast<int64_t>(it->get<uint64_t>());
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
  // "mtime": seconds or "now"; "mtime_ns": exact nanoseconds (wins).
  auto time = [&](const std::string& key, std::optional<TimeChange>* out) -> Status {
    if (auto ns = body.find(key + "_ns"); ns != body.end()) {
      if (!ns->is_number_integer()) return Status::InvalidArgument(key + "_ns must be an integer");
      *out = TimeChange{false, ns->get<int64_t>()};
      return Status::OK();
    }
    auto it = body.find(key);
    if (it == body.end()) return Status::OK();
    if (*it == "now") {
      *out = TimeChange{true, 0};
    } else if (it->is_number() && std::isfinite(it->get<double>()) && std::fabs(it->get<double>()) < 9e9) {
      *out = TimeChange{false, static_cast<int64_t>(std::llround(it->get<double>() * 1e9))};
    } else {
      return Status::InvalidArgument(key + " must be a number of seconds or \"now\"");
    }
    return Status::OK();
  };
  if (Status st = time("atime", &change.atime_change); !st.ok()) return st;
  if (Status st = time("mtime", &change.mtime_change); !st.ok()) return st;
  auto id = [&](const char* key, std::optional<uint32_t>* out) -> Status {
    auto it = body.find(key);
    if (it == body.end()) return Status::OK();
    if (!it->is_number_unsigned() || it->get<uint64_t>() >= uint64_t{0xFFFFFFFF}) {
      return Status::InvalidArgument(std::string(key) + " must be a user or group id");
    }
    *out = static_cast<uint32_t>(it->get<uint64_t>());
    return Status::OK();
  };
  if (Status st = id("uid", &change.uid); !st.ok()) return st;
  if (Status st = id("gid", &change.gid); !st.ok()) return st;
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
