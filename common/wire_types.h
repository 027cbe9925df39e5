// Wire types: the JSON the master sends and its clients read, defined once
// (nlohmann's NLOHMANN_DEFINE_TYPE_*), so both sides agree on names and
// defaults. A field an older master does not send takes the default below.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace dfs::wire {

// One name in the namespace: what stat, a folder listing and the answers
// that make an inode send (docs/protocol.md, "Namespace"), and what the
// file listing (GET /api/v1/files) sends of a file.
struct Entry {
  std::string name;
  std::string type = "file";  // file | dir | symlink | fifo | socket | char | block
  int64_t ino = 0;            // 0 from a master before inodes
  uint64_t size = 0;
  int mode = 0644;  // permission bits
  int64_t uid = 0;
  int64_t gid = 0;
  int64_t nlink = 0;  // 0: not sent (a folder then counts 2, anything else 1)
  double mtime = 0;   // seconds, with fractions
  double atime = 0;   // 0: not sent (then mtime)
  double ctime = 0;
  int64_t mtime_ns = 0;  // exact; 0 when not sent
  int64_t atime_ns = 0;
  int64_t ctime_ns = 0;
  std::string md5;      // a regular file's
  int64_t version = 0;  // a regular file's
  std::string target;   // a symlink's
  uint64_t rdev = 0;    // a device's
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Entry, name, type, ino, size, mode, uid, gid, nlink, mtime, atime,
                                                ctime, mtime_ns, atime_ns, ctime_ns, md5, version, target, rdev)


// POST /api/v1/open/PATH answers this: a handle on the file, valid for
// lease_s seconds unless renewed (POST /api/v1/handles/renew).
struct OpenedHandle {
  std::string handle;
  double lease_s = 0;
  Entry entry;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(OpenedHandle, handle, lease_s, entry)

// POST /api/v1/handles/renew: the handles to renew, and in the answer the
// ones that are gone (closed, expired, or never known).
struct HandleList {
  std::vector<std::string> handles;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(HandleList, handles)

// POST /api/v1/unlink: names to remove in one commit (the mount's deferred
// unlinks), each only while it still names inode `ino` (0: whatever it names).
struct UnlinkEntry {
  std::string path;
  int64_t ino = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(UnlinkEntry, path, ino)
struct UnlinkBatch {
  std::vector<UnlinkEntry> entries;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(UnlinkBatch, entries)
// The answer: one outcome per entry, in order; `error` is empty when the
// name was removed, else the code of the error JSON ("not_found", ...).
struct UnlinkOutcome {
  std::string path;
  std::string error;
  std::string message;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(UnlinkOutcome, path, error, message)
struct UnlinkAnswer {
  std::vector<UnlinkOutcome> results;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(UnlinkAnswer, results)

}  // namespace dfs::wire
