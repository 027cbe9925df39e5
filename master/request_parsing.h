// Pure parsers for what the master reads from a request: query values,
// headers, the Range check and the JSON bodies it accepts. Errors are
// InvalidArgument (HTTP 400). Kept out of the route lambdas so the fuzz
// targets in fuzz/ can drive them directly.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <httplib.h>

#include "common/status.h"
#include "master/metadata_store.h"
#include "master/namespace_store.h"

namespace dfs::master {

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
  std::string node_id;
  std::string md5;
};
// POST /api/v1/blobs/<id>/replicas: {"node_id": ..., "md5": <32 hex>}.
Result<ReplicaReport> ParseReplicaReport(std::string_view body);
// POST /api/v1/blobs/<id>/bad: {"node_id": ...}.
Result<std::string> ParseNodeIdBody(std::string_view body);

struct RenameRequest {
  std::string from;
  std::string to;
};
// POST /api/v1/rename: {"from": path, "to": path}, both valid paths.
Result<RenameRequest> ParseRenameBody(std::string_view body);
// PATCH /api/v1/files/<path>: {"mode": 0..07777, "mtime": number, "size": uint} (an empty body is {}).
Result<AttrChange> ParseAttrChange(std::string_view body);
// POST /api/v1/dirs/<path>: {"mode": 0..07777} (default 0755; an empty body is {}).
Result<int> ParseMkdirMode(std::string_view body);

}  // namespace dfs::master
