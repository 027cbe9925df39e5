// MetadataStore: every piece of master state (the namespace, file contents,
// nodes, replicas, the replication outbox, pending blob deletions) and the
// only place with SQL. The namespace is a tree of inodes (files, folders,
// symlinks, special files) joined by directory entries (parent inode, name
// as bytes, inode), unique on (parent, name); a path is resolved by walking
// entries from the root (kRootIno), so no operation costs more than the
// entries it touches. A file's content (its blob) lives in its own table,
// keyed by inode; docs/namespace.md has the schema. Operations that must be atomic (collision renaming,
// overwrite, delete) are single transactions guarded by constraints, so
// several masters could later share one database. One connection behind a
// mutex: SQLite serialises writers anyway.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/credentials.h"
#include "common/status.h"
#include "master/sqlite.h"

namespace dfs::master {

// A node's liveness as the master sees it; stored and sent by name (ToString).
enum class NodeState { kUp, kDown, kDraining };
const char* ToString(NodeState state);
NodeState NodeStateFromString(std::string_view name);  // unknown names are kDown
// A copy: good, or known to be corrupt or missing (never a source).
enum class ReplicaState { kOk, kBad };
const char* ToString(ReplicaState state);
ReplicaState ReplicaStateFromString(std::string_view name);  // unknown names are kBad

struct NodeRecord {
  std::string node_id;
  std::string url;
  NodeState state = NodeState::kUp;
  uint64_t capacity = 0;
  uint64_t used = 0;
  uint64_t free = 0;
  uint64_t blobs = 0;
  double last_heartbeat = 0;  // seconds since the epoch
  bool draining = false;      // operator asked to drain it (kept while it is down)
};

// What an inode is. Stored by name (ToString) in the inodes table.
enum class InodeType { kFile, kDir, kSymlink, kFifo, kSocket, kCharDevice, kBlockDevice };
const char* ToString(InodeType type);
std::optional<InodeType> InodeTypeFromString(std::string_view name);

inline constexpr int64_t kRootIno = 1;

struct FileRecord {
  std::string path;  // the name it was reached by (any of its names when it has several links)
  int64_t ino = 0;
  uint64_t size = 0;
  std::string md5;
  double mtime = 0;
  int mode = 0644;
  std::string blob_id;
  std::string primary_node;
  int64_t version = 1;
  int want_copies = 1;
};

struct ReplicaRecord {
  std::string blob_id;
  std::string node_id;
  ReplicaState state = ReplicaState::kOk;
  std::string node_url;
  NodeState node_state = NodeState::kDown;  // of the node that holds it (down when unknown)
};

enum class ConflictMode { kRename, kOverwrite, kFail };

// What a PUT with an idempotency key answered. Kept a day (kKeyedPutTtl), so
// a retry whose first answer was lost gets that answer, not a second copy.
struct KeyedPut {
  std::string requested;  // the path asked for
  std::string name;       // where it was stored
  bool renamed = false;
  uint64_t size = 0;
  std::string md5;
  std::string node;
  int64_t version = 1;
};
inline constexpr double kKeyedPutTtlSeconds = 24 * 3600;

struct CommitResult {
  FileRecord file;
  bool renamed = false;
  // Set when the idempotency key was already taken: nothing was committed.
  std::optional<KeyedPut> earlier;
};

struct PendingDeletion {
  std::string blob_id;
  std::string node_id;
  std::string node_url;
  int attempts = 0;
};

struct BlobRecord {
  FileRecord file;  // the file that refers to the blob
  std::vector<ReplicaRecord> holders;
};

struct ReplicationCounts {
  uint64_t under_replicated = 0;  // files with fewer good copies than wanted
  uint64_t unpublished_jobs = 0;  // outbox jobs not yet in Redis
};

struct OutboxJob {
  int64_t id = 0;
  std::string blob_id;
  std::string payload;
};

class MetadataStore {
 public:
  static Result<std::unique_ptr<MetadataStore>> Open(const std::string& path);

  // Nodes
  Status UpsertNode(const NodeRecord& node);
  Result<std::vector<NodeRecord>> ListNodes();
  // Marks up nodes whose last heartbeat is older than `before` as down; returns them.
  Result<std::vector<std::string>> MarkSilentNodesDown(double before);
  // Sets or clears the drain flag; returns the node's state afterwards.
  Result<NodeState> SetNodeDraining(const std::string& node_id, bool draining);

  // Files
  Result<FileRecord> GetFile(const std::string& path);
  Result<std::vector<FileRecord>> ListFiles(const std::string& prefix);
  Result<bool> FileExists(const std::string& path);
  // The ids among `blob_ids` that no file refers to (garbage collection).
  Result<std::vector<std::string>> UnreferencedBlobs(const std::vector<std::string>& blob_ids);
  // Commits `file` (its blob already stored on file.primary_node) under
  // file.path, or under new_name(file.path) for as long as names collide
  // when mode is kRename. Records the primary replica and a replication job
  // whose id is request_id (so one id follows a PUT into the replicator).
  // A non-empty idempotency_key is recorded with the result in the same
  // transaction; a key already recorded commits nothing and returns `earlier`.
  // With `who`, folders on the way must be searchable, a new name needs
  // write permission on its folder and gets who as its owner (file.mode is
  // its mode), and replacing a file's content needs write permission on it
  // unless who owns it (the mount checked at open; an owner may chmod u+w).
  Result<CommitResult> CommitFile(FileRecord file, ConflictMode mode,
                                  const std::function<std::string(const std::string&)>& new_name,
                                  const std::string& request_id = "", const std::string& idempotency_key = "",
                                  const Credentials* who = nullptr);
  Result<std::optional<KeyedPut>> FindKeyedPut(const std::string& key);
  // Removes the name (any non-folder: a file, symlink or special file). A
  // file's content goes with its last link; its blob is then queued for
  // deletion on every holder (blob_id is empty for what has no content).
  Result<FileRecord> DeleteFile(const std::string& path, const Credentials* who = nullptr);

  // Replicas
  Result<std::vector<ReplicaRecord>> GetReplicas(const std::string& blob_id);
  // A holder served a corrupt or missing copy: it is no longer a source, and
  // a replication job is queued to write a good copy (over it if possible).
  Status MarkReplicaBad(const std::string& blob_id, const std::string& node_id);
  // NotFound when no file refers to the blob any more.
  Result<BlobRecord> GetBlob(const std::string& blob_id);
  // Records a verified copy. NotFound (and the copy queued for deletion) when
  // the file went away meanwhile; ChecksumMismatch when md5 is not the file's.
  Status AddReplica(const std::string& blob_id, const std::string& node_id, const std::string& md5);
  // Queues a job for files with fewer good copies than wanted (or than up
  // nodes), unless the file had a job in the last retry_after_s (doubled for
  // each recent job). Copies on nodes down since before dead_before do not
  // count. Returns how many.
  Result<int> QueueUnderReplicated(double dead_before, double retry_after_s, int limit);
  Result<ReplicationCounts> CountReplication(double dead_before);

  // Blob deletions
  Result<std::vector<PendingDeletion>> PendingDeletions(int limit);
  Status DeletionDone(const std::string& blob_id, const std::string& node_id);
  Status DeletionFailed(const std::string& blob_id, const std::string& node_id);

  // Replication outbox (published by the replication side)
  Result<std::vector<OutboxJob>> UnpublishedJobs(int limit);
  Status MarkJobPublished(int64_t id);
  Status PruneOutbox(double published_before);

  struct Counts {
    uint64_t files = 0;
    uint64_t bytes = 0;
  };
  Result<Counts> CountFiles();

  // Runs fn inside the store's lock and a transaction, committed when fn
  // returns OK; used by extensions (the namespace) that need several
  // statements to be atomic. SQLite errors become IOError.
  Status WithTransaction(const std::function<Status(Database&)>& fn);

 private:
  explicit MetadataStore(std::unique_ptr<Database> db) : db_(std::move(db)) {}
  template <typename Fn>
  auto Locked(Fn&& fn) -> decltype(fn());

  std::mutex mu_;
  std::unique_ptr<Database> db_;
};

double NowSeconds();

}  // namespace dfs::master
