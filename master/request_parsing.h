// Pure parsers for what the master reads from a request: query values,
// headers, the Range check and the JSON bodies it accepts. Errors are
// InvalidArgument (HTTP 400). Kept out of the route lambdas so the fuzz
// targets in fuzz/ can drive them directly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>
#include <string_view>

#include <httplib.h>

#include "common/credentials.h"
#include "common/status.h"
#include "common/wire_types.h"
#include "master/metadata_store.h"
#include "master/namespace_store.h"

namespace dfs::master {

// X-Dfs-Uid / X-Dfs-Gid / X-Dfs-Groups: the caller (nullopt when the request
// has no X-Dfs-Uid: not checked). Both ids or neither.
Result<std::optional<Credentials>> ParseCredentials(const httplib::Request& req);
// X-Dfs-Mode (octal permission bits, 0..07777) for a PUT that makes a new file; nullopt when absent.
Result<std::optional<int>> ParseModeHeader(const std::string& value);

// ?conflict=rename|overwrite|fail (empty: rename).
Result<ConflictMode> ParseConflictMode(const std::string& value);
// X-Dfs-Md5 / file_hash: empty stays empty (not checked), else 32 hex digits, lower-cased.
Result<std::string> ParseMd5Header(const std::string& value);
// Idempotency-Key: empty stays empty, else 1..128 of [A-Za-z0-9._:-].
Result<std::string> ParseIdempotencyKey(const std::string& value);
// ?replicas=N: decimal digits only, 0..16.
Result<int> ParseReplicasParam(const std::string& value);
// One range (cpp-httplib's parse of the Range header) that overlaps a file of `size` bytes.
bool RangeIsSatisfiable(const httplib::Ranges& ranges, uint64_t size);
// {offset, length} of a satisfiable range, clamped to the file as cpp-httplib does.
std::pair<uint64_t, uint64_t> RangeBounds(const httplib::Range& range, uint64_t size);

// PUT /api/v1/nodes/<id>: {"url": ..., "capacity", "used", "free", "blobs"} (non-negative integers).
Result<NodeRecord> ParseNodeReport(const std::string& node_id, std::string_view body);

struct ReplicaReport {
  std::vector<std::string> node_ids;  // at least one
  std::string md5;
};
// POST /api/v1/blobs/<id>/replicas: {"node_id": ..., "md5": <32 hex>}, with
// "node_ids": [...] (1 to 64 ids, "node_id" among them) for copies on several nodes.
Result<ReplicaReport> ParseReplicaReport(std::string_view body);
// POST /api/v1/blobs/<id>/bad: {"node_id": ...}.
Result<std::string> ParseNodeIdBody(std::string_view body);

struct RenameRequest {
  std::string from;
  std::string to;
  RenameMode mode = RenameMode::kReplace;
};
// POST /api/v1/rename: {"from": path, "to": path, "flags": "noreplace"|"exchange"}, both valid paths.
Result<RenameRequest> ParseRenameBody(std::string_view body);
// PATCH /api/v1/files/<path>: {"mode": 0..07777, "uid": id, "gid": id, "atime": seconds|"now",
// "mtime": seconds|"now", "size": uint} (an empty body is {}).
Result<AttrChange> ParseAttrChange(std::string_view body);
// POST /api/v1/dirs/<path>: {"mode": 0..07777} (default 0755; an empty body is {}).
Result<int> ParseMkdirMode(std::string_view body);

// POST /api/v1/symlink: {"path": path, "target": bytes (1..4096, no NUL)}.
struct SymlinkRequest {
  std::string path;
  std::string target;
};
Result<SymlinkRequest> ParseSymlinkBody(std::string_view body);
// {"handles": [32 hex digits, ...]} (at most 10,000).
Result<wire::HandleList> ParseHandleList(std::string_view body);
// POST /api/v1/unlink: {"entries": [{"path": path, "ino": n (optional, >= 0)}, ...]},
// 1 to kMaxUnlinkBatch entries, each path valid (ValidatePath).
inline constexpr size_t kMaxUnlinkBatch = 1000;
Result<wire::UnlinkBatch> ParseUnlinkBatch(std::string_view body);
// A handle as the master makes them: 32 lowercase hex digits.
bool IsHandle(std::string_view text);
// ?offset=N of a range write: a decimal byte offset.
Result<uint64_t> ParseOffsetParam(const std::string& text);
// ?handle=H on a file's GET or PUT: "" when absent, InvalidArgument when malformed.
Result<std::string> ParseHandleParam(const httplib::Request& req);
// POST /api/v1/link: {"from": existing path, "to": new path}.
Result<RenameRequest> ParseLinkBody(std::string_view body);
// POST /api/v1/mknod: {"path": path, "type": "fifo"|"socket"|"char"|"block", "mode": 0..07777, "rdev": uint}.
struct MknodRequest {
  std::string path;
  InodeType type = InodeType::kFifo;
  int mode = 0644;
  int64_t rdev = 0;
};
Result<MknodRequest> ParseMknodBody(std::string_view body);

}  // namespace dfs::master
