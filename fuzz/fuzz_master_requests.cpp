// The master's request parsers (master/request_parsing.h), all fed the same
// input: whatever they accept is well-formed (md5 lower-case hex, replicas
// 0..16 from digits only, node urls that parse, valid rename paths, modes
// of permission bits). The Range check is driven through cpp-httplib's own
// parse of a "Range:" value: an accepted range must select a non-empty
// slice inside the file, and every such range must be accepted.
#include <cstddef>
#include <cstdint>
#include <string>

#include <httplib.h>

#include "common/http_util.h"
#include "common/md5.h"
#include "common/path.h"
#include "fuzz/fuzz_target.h"
#include "master/request_parsing.h"

namespace {

using namespace dfs::master;

// What RFC 7233 selects from a file of `size` bytes; false when nothing.
bool Slice(const std::pair<ssize_t, ssize_t>& r, uint64_t size, uint64_t* first, uint64_t* last) {
  auto [a, b] = r;
  if (size == 0) return false;
  if (a >= 0) {
    if (static_cast<uint64_t>(a) >= size || (b >= 0 && b < a)) return false;
    *first = static_cast<uint64_t>(a);
    *last = b < 0 || static_cast<uint64_t>(b) >= size ? size - 1 : static_cast<uint64_t>(b);
    return true;
  }
  if (b <= 0) return false;
  uint64_t n = std::min<uint64_t>(static_cast<uint64_t>(b), size);
  *first = size - n;
  *last = size - 1;
  return true;
}

void CheckRange(const std::string& value, uint64_t size) {
  httplib::Ranges ranges;
  if (!httplib::detail::parse_range_header(value, ranges)) return;
  bool accepted = RangeIsSatisfiable(ranges, size);
  uint64_t first = 0, last = 0;
  bool selects = ranges.size() == 1 && Slice(ranges[0], size, &first, &last);
  FUZZ_CHECK(accepted == selects, "a Range is accepted exactly when it selects bytes of the file");
  if (accepted) FUZZ_CHECK(first <= last && last < size, "an accepted Range lies inside the file");
  if (accepted) {
    auto [offset, length] = RangeBounds(ranges[0], size);
    FUZZ_CHECK(offset == first && length == last - first + 1, "RangeBounds reads the bytes the Range selects");
  }
}

}  // namespace

DFS_FUZZ_TARGET(master_requests) {
  std::string input(dfs::fuzz::AsText(data, size));

  if (auto mode = ParseConflictMode(input); mode.ok()) {
    FUZZ_CHECK(input.empty() || input == "rename" || input == "overwrite" || input == "fail", "conflict modes");
  }
  if (auto md5 = ParseMd5Header(input); md5.ok()) {
    FUZZ_CHECK(md5->empty() == input.empty(), "an md5 header is empty only when absent");
    if (!md5->empty()) {
      FUZZ_CHECK(dfs::Md5::IsValidHex(*md5) && md5->find_first_of("ABCDEF") == std::string::npos,
                 "an accepted md5 is 32 lower-case hex");
    }
  }
  if (auto key = ParseIdempotencyKey(input); key.ok()) {
    FUZZ_CHECK(*key == input && key->size() <= 128, "an accepted idempotency key is the header, at most 128 bytes");
    FUZZ_CHECK(key->find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") ==
                   std::string::npos,
               "an idempotency key has no byte outside A-Za-z0-9._:-");
  }
  if (auto replicas = ParseReplicasParam(input); replicas.ok()) {
    FUZZ_CHECK(*replicas >= 0 && *replicas <= 16, "replicas in 0..16");
    FUZZ_CHECK(!input.empty() && input.find_first_not_of("0123456789") == std::string::npos, "replicas are digits");
  }
  if (auto node = ParseNodeReport("node1", input); node.ok()) {
    FUZZ_CHECK(node->node_id == "node1" && dfs::ParseEndpoint(node->url).ok(), "a node's url parses");
  }
  if (auto report = ParseReplicaReport(input); report.ok()) {
    FUZZ_CHECK(dfs::Md5::IsValidHex(report->md5), "a replica report's md5 is 32 hex");
    FUZZ_CHECK(!report->node_ids.empty() && report->node_ids.size() <= 64, "a replica report names 1 to 64 nodes");
  }
  (void)ParseNodeIdBody(input);
  if (auto rename = ParseRenameBody(input); rename.ok()) {
    FUZZ_CHECK(dfs::ValidatePath(rename->from).ok() && dfs::ValidatePath(rename->to).ok(), "rename paths are valid");
  }
  if (auto change = ParseAttrChange(input); change.ok()) {
    if (change->mode) FUZZ_CHECK(*change->mode >= 0 && *change->mode <= 07777, "setattr mode is permission bits");
  }
  if (auto link = ParseSymlinkBody(input); link.ok()) {
    FUZZ_CHECK(dfs::ValidatePath(link->path).ok(), "a symlink's path is valid");
  }
  if (auto node = ParseMknodBody(input); node.ok()) {
    FUZZ_CHECK(dfs::ValidatePath(node->path).ok() && node->mode >= 0 && node->mode <= 07777,
               "mknod takes a valid path and permission bits");
  }
  (void)ParseLinkBody(input);
  if (auto mode = ParseMkdirMode(input); mode.ok()) FUZZ_CHECK(*mode >= 0 && *mode <= 07777, "mkdir mode is permission bits");

  for (uint64_t file_size : {uint64_t{0}, uint64_t{1}, uint64_t{100}, uint64_t{1} << 40}) {
    CheckRange(input, file_size);
  }
  return 0;
}
