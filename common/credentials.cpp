#include "common/credentials.h"

#include <grp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace dfs {

bool Credentials::InGroup(uint32_t g) const {
  return g == gid || std::find(groups.begin(), groups.end(), g) != groups.end();
}

Result<uint32_t> ParseId(const std::string& text) {
  if (text.empty() || text.size() > 10 || text.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument("'" + text + "' is not a user or group id");
  }
  const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
  if (v >= 0xFFFFFFFFull) return Status::InvalidArgument("'" + text + "' is not a user or group id");
  return static_cast<uint32_t>(v);
}

Result<std::vector<uint32_t>> ParseGroupList(const std::string& text) {
  std::vector<uint32_t> out;
  if (text.empty()) return out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    auto id = ParseId(text.substr(start, comma - start));
    if (!id.ok()) return id.status();
    out.push_back(*id);
    if (out.size() > 65536) return Status::InvalidArgument("too many groups");
    start = comma + 1;
  }
  return out;
}

std::string FormatGroupList(const std::vector<uint32_t>& groups) {
  std::string out;
  for (uint32_t g : groups) {
    if (!out.empty()) out += ',';
    out += std::to_string(g);
  }
  return out;
}

Credentials ProcessCredentials() {
  Credentials c;
  c.uid = static_cast<uint32_t>(::geteuid());
  c.gid = static_cast<uint32_t>(::getegid());
  int n = ::getgroups(0, nullptr);
  if (n > 0) {
    std::vector<gid_t> groups(static_cast<size_t>(n));
    n = ::getgroups(n, groups.data());
    for (int i = 0; i < n; ++i) c.groups.push_back(static_cast<uint32_t>(groups[static_cast<size_t>(i)]));
  }
  return c;
}

bool MayAccess(const Credentials& who, uint32_t owner, uint32_t group, int mode, bool is_dir, int want) {
  if (who.IsRoot()) {
    if (!(want & kMayExec)) return true;
    return is_dir || (mode & 0111) != 0;
  }
  int bits;
  if (who.uid == owner) {
    bits = (mode >> 6) & 7;
  } else if (who.InGroup(group)) {
    bits = (mode >> 3) & 7;
  } else {
    bits = mode & 7;
  }
  return (bits & want) == want;
}

bool MayRemove(const Credentials& who, uint32_t dir_uid, uint32_t dir_gid, int dir_mode, uint32_t child_uid) {
  if (!MayAccess(who, dir_uid, dir_gid, dir_mode, /*is_dir=*/true, kMayWrite | kMayExec)) return false;
  return !(dir_mode & 01000) || who.IsRoot() || who.uid == child_uid || who.uid == dir_uid;
}

}  // namespace dfs
