// The interface's shared pieces: names of states and inode types as they
// are stored and sent, and the choice of implementation by URL.
#include "master/metadata_store.h"

#include <chrono>

#include "master/sql/sql_store.h"

namespace dfs::master {

const char* ToString(InodeType type) {
  switch (type) {
    case InodeType::kFile: return "file";
    case InodeType::kDir: return "dir";
    case InodeType::kSymlink: return "symlink";
    case InodeType::kFifo: return "fifo";
    case InodeType::kSocket: return "socket";
    case InodeType::kCharDevice: return "char";
    case InodeType::kBlockDevice: return "block";
  }
  return "file";
}

std::optional<InodeType> InodeTypeFromString(std::string_view name) {
  for (InodeType t : {InodeType::kFile, InodeType::kDir, InodeType::kSymlink, InodeType::kFifo, InodeType::kSocket,
                      InodeType::kCharDevice, InodeType::kBlockDevice}) {
    if (name == ToString(t)) return t;
  }
  return std::nullopt;
}

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

const char* ToString(NodeState state) {
  switch (state) {
    case NodeState::kUp: return "up";
    case NodeState::kDown: return "down";
    case NodeState::kDraining: return "draining";
  }
  return "down";
}

NodeState NodeStateFromString(std::string_view name) {
  if (name == "up") return NodeState::kUp;
  if (name == "draining") return NodeState::kDraining;
  return NodeState::kDown;
}

const char* ToString(ReplicaState state) { return state == ReplicaState::kOk ? "ok" : "bad"; }
ReplicaState ReplicaStateFromString(std::string_view name) {
  return name == "ok" ? ReplicaState::kOk : ReplicaState::kBad;
}

Result<std::unique_ptr<MetadataStore>> MetadataStore::Open(const std::string& where) {
  if (where.rfind("postgres://", 0) == 0 || where.rfind("postgresql://", 0) == 0) {
    auto store = SqlStore::OpenPostgres(where);
    if (!store.ok()) return store.status();
    return std::unique_ptr<MetadataStore>(std::move(*store));
  }
  std::string path = where;
  if (path.rfind("sqlite:", 0) == 0) {
    path = path.substr(7);
  } else if (path.find("://") != std::string::npos) {
    return Status::InvalidArgument("metadata store '" + where +
                                   "': use sqlite:PATH (or a bare PATH) or postgres://[user@]host[:port]/dbname");
  }
  if (path.empty()) return Status::InvalidArgument("metadata store: sqlite: needs a file name (or :memory:)");
  auto store = SqlStore::OpenSqlite(path);
  if (!store.ok()) return store.status();
  return std::unique_ptr<MetadataStore>(std::move(*store));
}

}  // namespace dfs::master
