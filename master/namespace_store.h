// NamespaceStore: directories and whole-namespace operations for the FUSE
// mount (docs/protocol.md, "Namespace"). A directory exists when it was made
// explicitly (the dirs table) or when some file or directory lies under it
// (implied by paths, as files put with the CLI create them). Every
// operation is one transaction on the master's database.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "master/metadata_store.h"

namespace dfs::master {

struct DirEntry {
  std::string name;  // the last component (the whole path for Stat)
  bool is_dir = false;
  uint64_t size = 0;
  std::string md5;
  double mtime = 0;
  int mode = 0644;
  int64_t version = 0;
};

struct AttrChange {
  std::optional<int> mode;
  std::optional<double> mtime;
  std::optional<uint64_t> size;  // only the current size: data changes go through PUT
};

class NamespaceStore {
 public:
  explicit NamespaceStore(MetadataStore& store) : store_(store) {}

  // Direct children of `dir` ("" is the root), sorted by name.
  Result<std::vector<DirEntry>> List(const std::string& dir);
  Result<DirEntry> Stat(const std::string& path);
  Status MakeDir(const std::string& path, int mode, bool parents);
  Status RemoveDir(const std::string& path);
  // A file or a whole directory, as POSIX rename(2): replaces a file at
  // `to`, or an empty directory when `from` is a directory.
  Status Rename(const std::string& from, const std::string& to);
  Status SetAttr(const std::string& path, const AttrChange& change);

 private:
  MetadataStore& store_;
};

}  // namespace dfs::master
