#include "master/collision_namer.h"

#include <algorithm>

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
  // Room for the new last component: a component's limit, and the whole
  // path's (a name deep in a long path must not grow past 4096 bytes).
  const size_t room = std::min(kMaxComponentBytes, kMaxPathBytes - (dir.empty() ? 0 : dir.size() + 1));
  auto join = [&dir](const std::string& name) { return dir.empty() ? name : dir + "/" + name; };
  if (room < suffix.size() + 1) {
    // Not even "_<suffix>" fits next to this folder: as much of the suffix
    // as fits, never the old name (the caller retries with other suffixes).
    std::string name = suffix.substr(0, room);
    if (name == base) name[0] = name[0] == '0' ? '1' : '0';
    return join(name);
  }
  // The extension starts at the first dot that follows a non-dot character,
  // so leading dots (".bashrc", "..a") belong to the stem and "a.tar.gz"
  // keeps ".tar.gz" whole. A trailing dot alone is not an extension.
  size_t lead = base.find_first_not_of('.');
  size_t dot = lead == std::string::npos ? std::string::npos : base.find('.', lead);
  if (dot != std::string::npos && dot + 1 == base.size()) dot = std::string::npos;
  std::string stem = dot == std::string::npos ? base : base.substr(0, dot);
  std::string ext = dot == std::string::npos ? "" : base.substr(dot);
  std::string tail = "_" + suffix + ext;
  if (stem.size() + tail.size() > room) {
    if (tail.size() >= room) {  // absurd extension: fold it into the stem
      stem = Utf8Prefix(base, room - suffix.size() - 1);
      tail = "_" + suffix;
    } else {
      stem = Utf8Prefix(stem, room - tail.size());
    }
  }
  std::string name = stem + tail;
  if (name == base) {
    // Cutting to the limit can give the old name back ("x_f.txt" renamed
    // with suffix "f" at 255 bytes): one character shorter differs.
    if (stem.empty()) {
      name[0] = '0';
    } else {
      name = Utf8Prefix(stem, stem.size() - 1) + tail;
    }
  }
  return join(name);
}

std::string RandomSuffix() { return RandomHex(3); }

}  // namespace dfs::master
