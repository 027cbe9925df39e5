// Credentials: who asks. The mount sends the calling process's uid, gid and
// supplementary groups with each request (X-Dfs-Uid, X-Dfs-Gid, X-Dfs-Groups),
// the CLI its own; new inodes belong to them and the master checks POSIX
// permissions for them. A request without them (curl, client.py, a node)
// is not checked, as before owners existed: the bearer token, when the
// cluster has one, is what admits it (docs/protocol.md, "Owners").
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace dfs {

struct Credentials {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> groups;  // supplementary groups (gid may or may not be among them)

  bool IsRoot() const { return uid == 0; }
  bool InGroup(uint32_t g) const;
};

inline constexpr const char* kUidHeader = "X-Dfs-Uid";
inline constexpr const char* kGidHeader = "X-Dfs-Gid";
inline constexpr const char* kGroupsHeader = "X-Dfs-Groups";

// "1000,27,100" -> {1000, 27, 100}; InvalidArgument for anything else.
Result<std::vector<uint32_t>> ParseGroupList(const std::string& text);
std::string FormatGroupList(const std::vector<uint32_t>& groups);
// The uid/gid text of a header: a decimal number below 2^32 - 1.
Result<uint32_t> ParseId(const std::string& text);

// This process's credentials (the CLI's).
Credentials ProcessCredentials();

// What a permission check asks for, as the bits of access(2).
inline constexpr int kMayRead = 4, kMayWrite = 2, kMayExec = 1;

// POSIX permission check of `want` (kMay* bits) against an inode's owner,
// group and mode for `who`: the owner class when uid matches, else the
// group class when its group is one of who's, else other. Root may read and
// write anything, and execute what has any x bit (or is a folder).
bool MayAccess(const Credentials& who, uint32_t owner, uint32_t group, int mode, bool is_dir, int want);

// Whether `who` may remove (or rename away) a name in a folder: write and
// search permission on the folder, and when the folder is sticky (01000),
// being root or the owner of the folder or of what the name is (child_uid).
bool MayRemove(const Credentials& who, uint32_t dir_uid, uint32_t dir_gid, int dir_mode, uint32_t child_uid);

}  // namespace dfs
