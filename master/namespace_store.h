// NamespaceStore: the namespace half of the metadata interface (see
// metadata_store.h for the rest): folders, names, attributes and the other
// inode kinds, for the FUSE mount and the CLI (docs/protocol.md,
// "Namespace"). The namespace is a tree of inodes (files, folders,
// symlinks, special files) joined by directory entries (parent inode, name
// as bytes, inode), unique on (parent, name); a path is resolved by walking
// entries from the root (kRootIno), so no operation costs more than the
// entries it touches.
//
// Contract for every implementation: each operation is one transaction
// whose preconditions (the name is free, the folder is empty, a folder does
// not move into its own subtree, the caller may) are checked inside it, so
// two masters or two clients racing on one name cannot both win. Errors are
// the Status codes of common/status.h, which map to errno as rename(2),
// mkdir(2) and friends would return them. `who` (nullptr: not checked) is
// the caller: see common/credentials.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/credentials.h"
#include "common/status.h"

namespace dfs::master {

// What an inode is. Stored by name (ToString).
enum class InodeType { kFile, kDir, kSymlink, kFifo, kSocket, kCharDevice, kBlockDevice };
const char* ToString(InodeType type);
std::optional<InodeType> InodeTypeFromString(std::string_view name);

inline constexpr int64_t kRootIno = 1;

struct DirEntry {
  std::string name;  // the last component (the whole path for Stat)
  bool is_dir = false;
  InodeType type = InodeType::kFile;
  int64_t ino = 0;
  uint64_t size = 0;
  std::string md5;   // regular files
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

// A client's open file: while it lives, the file stays after its last name
// goes (nlink 0), readable and writable through the handle.
struct HandleRecord {
  std::string handle;
  int64_t ino = 0;
  double expires_at = 0;  // seconds since the epoch; renewed by the client
};

class NamespaceStore {
 public:
  virtual ~NamespaceStore() = default;

  // Entries of `dir` ("" is the root) with names after `after` (bytes), at
  // most `limit` (0: all; the HTTP API always pages).
  virtual Result<DirPage> List(const std::string& dir, const std::string& after = "", size_t limit = 0) = 0;
  // `who` (nullptr: not checked) is the caller: see common/credentials.h.
  virtual Result<DirEntry> Stat(const std::string& path, const Credentials* who = nullptr) = 0;
  virtual Status MakeDir(const std::string& path, int mode, bool parents, const Credentials* who = nullptr) = 0;
  virtual Status RemoveDir(const std::string& path, const Credentials* who = nullptr) = 0;
  // A file or a whole directory, as POSIX rename(2): replaces a file at
  // `to`, or an empty directory when `from` is a directory; kNoReplace
  // refuses an existing `to` (EEXIST), kExchange swaps the two (both must exist).
  virtual Status Rename(const std::string& from, const std::string& to, RenameMode how = RenameMode::kReplace,
                        const Credentials* who = nullptr) = 0;
  virtual Status SetAttr(const std::string& path, const AttrChange& change, const Credentials* who = nullptr) = 0;
  // New inodes of the other kinds: a symlink to `target` (any bytes, at
  // most 4096), a special file (fifo, socket, char or block device; rdev
  // for devices, which only root may make), a hard link to a non-folder.
  virtual Result<DirEntry> Symlink(const std::string& path, const std::string& target,
                                   const Credentials* who = nullptr) = 0;
  virtual Result<DirEntry> MakeNode(const std::string& path, InodeType type, int mode, int64_t rdev,
                                    const Credentials* who = nullptr) = 0;
  // Open files. OpenHandle opens the regular file at `path` (searchable
  // folders on the way; IsDirectory for a folder, NotFound for what is not
  // a regular file) for lease_s seconds, renewed with RenewHandles (which
  // returns the handles that are gone). A file whose last name goes while a
  // handle on it lives keeps its inode and content, nameless (nlink 0),
  // until the last handle is closed or expires. StatHandle is fstat(2):
  // the file wherever it now is (name: one of its paths, "" when none is
  // left). NotFound for an unknown or expired handle.
  virtual Result<HandleRecord> OpenHandle(const std::string& path, double lease_s,
                                          const Credentials* who = nullptr) = 0;
  virtual Result<std::vector<std::string>> RenewHandles(const std::vector<std::string>& handles,
                                                        double lease_s) = 0;
  virtual Status CloseHandle(const std::string& handle) = 0;
  virtual Result<DirEntry> StatHandle(const std::string& handle) = 0;

  virtual Result<DirEntry> Link(const std::string& existing, const std::string& path,
                                const Credentials* who = nullptr) = 0;

  // Every commit made so far is on the disk when it returns (fsync of a
  // file or folder through the mount; kRelaxed commits otherwise get there
  // within about a second, or with the next full commit).
  virtual Status Sync() = 0;
};

}  // namespace dfs::master
