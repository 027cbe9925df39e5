// NamespaceStore: folders and whole-namespace operations for the FUSE mount
// and the CLI (docs/protocol.md, "Namespace"), over the inode tree of
// MetadataStore. Every operation is one transaction whose preconditions
// (the name is free, the folder is empty, a folder does not move into its
// own subtree) are checked inside it, so two masters or two clients racing
// on one name cannot both win.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "master/metadata_store.h"

namespace dfs::master {

struct DirEntry {
  std::string name;  // the last component (the whole path for Stat)
  bool is_dir = false;
  InodeType type = InodeType::kFile;
  int64_t ino = 0;
  uint64_t size = 0;
  std::string md5;  // regular files
  double mtime = 0;  // seconds, as the old API had them
  double atime = 0;
  double ctime = 0;
  int64_t mtime_ns = 0;  // exact
  int64_t atime_ns = 0;
  int64_t ctime_ns = 0;
  int mode = 0644;  // permission bits
  int64_t uid = 0;
  int64_t gid = 0;
  int64_t nlink = 1;
  int64_t version = 0;  // regular files
  int64_t rdev = 0;     // character and block devices
  std::string target;   // symlinks
};

// One page of a folder's entries, in byte order of their names; `next` is
// the name to continue after (empty on the last page).
struct DirPage {
  std::vector<DirEntry> entries;
  std::string next;
};

// A time to set: a value, or now (UTIME_NOW); absent fields are left (UTIME_OMIT).
struct TimeChange {
  bool now = false;
  int64_t ns = 0;  // since the epoch
};

struct AttrChange {
  std::optional<int> mode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  std::optional<TimeChange> atime_change;
  std::optional<TimeChange> mtime_change;
  std::optional<uint64_t> size;  // only the current size: data changes go through PUT
};

// rename(2)'s flags (renameat2).
enum class RenameMode { kReplace, kNoReplace, kExchange };

class NamespaceStore {
 public:
  explicit NamespaceStore(MetadataStore& store) : store_(store) {}

  // Entries of `dir` ("" is the root) with names after `after` (bytes), at
  // most `limit` (0: all; the HTTP API always pages).
  Result<DirPage> List(const std::string& dir, const std::string& after = "", size_t limit = 0);
  // `who` (nullptr: not checked) is the caller: see common/credentials.h.
  Result<DirEntry> Stat(const std::string& path, const Credentials* who = nullptr);
  Status MakeDir(const std::string& path, int mode, bool parents, const Credentials* who = nullptr);
  Status RemoveDir(const std::string& path, const Credentials* who = nullptr);
  // A file or a whole directory, as POSIX rename(2): replaces a file at
  // `to`, or an empty directory when `from` is a directory; kNoReplace
  // refuses an existing `to` (EEXIST), kExchange swaps the two (both must exist).
  Status Rename(const std::string& from, const std::string& to, RenameMode how = RenameMode::kReplace,
                const Credentials* who = nullptr);
  Status SetAttr(const std::string& path, const AttrChange& change, const Credentials* who = nullptr);
  // New inodes of the other kinds: a symlink to `target` (any bytes, at
  // most 4096), a special file (fifo, socket, char or block device; rdev
  // for devices, which only root may make), a hard link to a non-folder.
  Result<DirEntry> Symlink(const std::string& path, const std::string& target, const Credentials* who = nullptr);
  Result<DirEntry> MakeNode(const std::string& path, InodeType type, int mode, int64_t rdev,
                            const Credentials* who = nullptr);
  Result<DirEntry> Link(const std::string& existing, const std::string& path, const Credentials* who = nullptr);

 private:
  MetadataStore& store_;
};

}  // namespace dfs::master
