#include "master/collision_namer.h"

#include "common/http_util.h"
#include "common/path.h"

namespace dfs::master {

namespace {
// Cuts s to at most n bytes without splitting a UTF-8 sequence.
std::string Utf8Prefix(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}
}  // namespace

std::string CollisionName(const std::string& path, const std::string& suffix) {
  std::string dir = ParentPath(path);
  std::string base = BaseName(path);
  // The extension starts at the first dot that follows a non-dot character,
  // so leading dots (".bashrc", "..a") belong to the stem and "a.tar.gz"
  // keeps ".tar.gz" whole. A trailing dot alone is not an extension.
  size_t lead = base.find_first_not_of('.');
  size_t dot = lead == std::string::npos ? std::string::npos : base.find('.', lead);
  if (dot != std::string::npos && dot + 1 == base.size()) dot = std::string::npos;
  std::string stem = dot == std::string::npos ? base : base.substr(0, dot);
  std::string ext = dot == std::string::npos ? "" : base.substr(dot);
  std::string tail = "_" + suffix + ext;
  if (stem.size() + tail.size() > kMaxComponentBytes) {
    if (tail.size() >= kMaxComponentBytes) {  // absurd extension: fold it into the stem
      stem = Utf8Prefix(base, kMaxComponentBytes - suffix.size() - 1);
      tail = "_" + suffix;
    } else {
      stem = Utf8Prefix(stem, kMaxComponentBytes - tail.size());
    }
  }
  std::string name = stem + tail;
  return dir.empty() ? name : dir + "/" + name;
}

std::string RandomSuffix() { return RandomHex(3); }

}  // namespace dfs::master
