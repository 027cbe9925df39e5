// The master's request parsers (master/request_parsing.h), all fed the same
// input: whatever they accept is well-formed (md5 lower-case hex, replicas
// 0..16 from digits only, node urls that parse, valid rename paths, modes
// that fit an int). The Range check is driven through cpp-httplib's own
// parse of a "Range:" value: an accepted range must select a non-empty
// slice inside the file, and every such range must be accepted.
#include <cstddef>
#include <cstdint>
#include <string>

#include <httplib.h>

#include "common/http_util.h"
#include "common/md5.h"
#include "common/path.h"
#include "fuzz/fuzz_check.h"
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
  FUZZ_CHECK(accepted == selects, value + " size=" + std::to_string(size));
  if (accepted) FUZZ_CHECK(first <= last && last < size, value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);

  if (auto mode = ParseConflictMode(input); mode.ok()) {
    FUZZ_CHECK(input.empty() || input == "rename" || input == "overwrite" || input == "fail", input);
  }
  if (auto md5 = ParseMd5Header(input); md5.ok()) {
    FUZZ_CHECK(md5->empty() == input.empty(), input);
    if (!md5->empty()) FUZZ_CHECK(dfs::Md5::IsValidHex(*md5) && md5->find_first_of("ABCDEF") == std::string::npos, input);
  }
  if (auto replicas = ParseReplicasParam(input); replicas.ok()) {
    FUZZ_CHECK(*replicas >= 0 && *replicas <= 16, input);
    FUZZ_CHECK(!input.empty() && input.find_first_not_of("0123456789") == std::string::npos, input);
  }
  if (auto node = ParseNodeReport("node1", input); node.ok()) {
    FUZZ_CHECK(node->node_id == "node1" && dfs::ParseEndpoint(node->url).ok(), input);
  }
  if (auto report = ParseReplicaReport(input); report.ok()) {
    FUZZ_CHECK(dfs::Md5::IsValidHex(report->md5), input);
  }
  (void)ParseNodeIdBody(input);
  if (auto rename = ParseRenameBody(input); rename.ok()) {
    FUZZ_CHECK(dfs::ValidatePath(rename->from).ok() && dfs::ValidatePath(rename->to).ok(), input);
  }
  if (auto change = ParseAttrChange(input); change.ok()) {
    if (change->mode) FUZZ_CHECK(*change->mode >= 0, input);
  }
  if (auto mode = ParseMkdirMode(input); mode.ok()) FUZZ_CHECK(*mode >= 0, input);

  for (uint64_t file_size : {uint64_t{0}, uint64_t{1}, uint64_t{100}, uint64_t{1} << 40}) {
    CheckRange(input, file_size);
  }
  return 0;
}
