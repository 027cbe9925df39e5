// MetadataStore: the master's whole state behind one interface: the
// namespace (NamespaceStore), file contents, nodes, replicas, the
// replication outbox and pending blob deletions. Implementations hold all
// of the SQL (master/sql/: SQLite, the embedded default, and PostgreSQL); nothing
// outside them sees a database. Contract: every method is atomic (one
// transaction), preconditions are checked inside it by constraints rather
// than check-then-act in the caller, so several masters can share one
// database; a method that fails changed nothing. Database errors come back
// as Status, never as exceptions: Unavailable (503) when the database
// cannot be reached, IOError (500) for the rest.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/credentials.h"
#include "common/status.h"
#include "common/wire_types.h"
#include "master/namespace_store.h"

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

// One piece of a file's content: bytes [offset, offset + size) of the
// file, stored as one blob (its own md5, copies, healing, deletion).
struct ChunkRecord {
  int64_t index = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  std::string md5;           // of this chunk's bytes
  std::string blob_id;       // unique across the cluster
  std::string primary_node;  // where it was first stored
};

// What a range write's chunk was built over (CommitChunk): the blob it
// replaces ("" for a new chunk one past the last), and whether it grows the
// chunk (then the chunk must still be the last one).
struct ChunkExpectation {
  std::string blob_id;
  bool grows = false;
};

struct FileRecord {
  std::string path;  // the name it was reached by (any of its names when it has several links)
  int64_t ino = 0;
  uint64_t size = 0;
  std::string md5;  // of the whole file
  double mtime = 0;
  int mode = 0644;
  int64_t version = 1;
  int want_copies = 1;
  // In order, contiguous from 0, sizes adding up to size; a file has at
  // least one (an empty file: one empty chunk). Filled by GetFile,
  // GetFileOfHandle and what returns one file; empty in listings.
  std::vector<ChunkRecord> chunks;
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
  ChunkRecord chunk;  // the chunk the blob holds
  FileRecord file;    // the file it is a chunk of (no chunk list)
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

class MetadataStore : public NamespaceStore {
 public:
  // `where` is "sqlite:PATH" or a bare PATH (SQLite, ":memory:" for a
  // store that lives as long as the object), or a postgres:// URL (libpq's
  // form: postgres://user@host:port/dbname?options). Creates or migrates
  // the schema; IOError when the database cannot be reached.
  static Result<std::unique_ptr<MetadataStore>> Open(const std::string& where);

  // Nodes
  virtual Status UpsertNode(const NodeRecord& node) = 0;
  virtual Result<std::vector<NodeRecord>> ListNodes() = 0;
  // Marks up nodes whose last heartbeat is older than `before` as down; returns them.
  virtual Result<std::vector<std::string>> MarkSilentNodesDown(double before) = 0;
  // Sets or clears the drain flag; returns the node's state afterwards.
  virtual Result<NodeState> SetNodeDraining(const std::string& node_id, bool draining) = 0;

  // Files
  virtual Result<FileRecord> GetFile(const std::string& path) = 0;
  virtual Result<std::vector<FileRecord>> ListFiles(const std::string& prefix) = 0;
  virtual Result<bool> FileExists(const std::string& path) = 0;
  // The ids among `blob_ids` that no file refers to (garbage collection).
  virtual Result<std::vector<std::string>> UnreferencedBlobs(const std::vector<std::string>& blob_ids) = 0;
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
  virtual Result<CommitResult> CommitFile(FileRecord file, ConflictMode mode,
                                          const std::function<std::string(const std::string&)>& new_name,
                                          const std::string& request_id = "", const std::string& idempotency_key = "",
                                          const Credentials* who = nullptr) = 0;
  virtual Result<std::optional<KeyedPut>> FindKeyedPut(const std::string& key) = 0;
  // Removes the name (any non-folder: a file, symlink or special file). A
  // file's content goes with its last link; its blob is then queued for
  // deletion on every holder (blob_id is empty for what has no content).
  virtual Result<FileRecord> DeleteFile(const std::string& path, const Credentials* who = nullptr) = 0;
  // DeleteFile of each entry in one transaction, each only while its name
  // still is inode `ino` (when not 0; else NotFound): one outcome per entry,
  // in order. An error for the whole call means none was removed.
  virtual Result<std::vector<Result<FileRecord>>> DeleteFiles(const std::vector<wire::UnlinkEntry>& entries,
                                                              const Credentials* who = nullptr) = 0;

  // Range writes. The regular file at `ino` (wherever it now is), with its
  // chunks, or NotFound.
  virtual Result<FileRecord> GetFileByIno(int64_t ino) = 0;
  // Replaces chunk `chunk.index` of `ino` by `chunk` (already stored on
  // chunk.primary_node), or appends it when its index is one past the last,
  // in one transaction with the size (the larger of the current one and
  // `new_size`) and mtime, version + 1, the old blob queued for deletion and
  // the whole-file md5 pending (""). nullopt, nothing changed, when the chunk
  // is no longer what the write was made over (`expected`: another write to
  // it came first). Write permission on the file unless `who` owns it.
  virtual Result<std::optional<FileRecord>> CommitChunk(int64_t ino, const ChunkExpectation& expected,
                                                        ChunkRecord chunk, uint64_t new_size, double mtime,
                                                        const std::string& request_id = "",
                                                        const Credentials* who = nullptr) = 0;
  // Cuts the regular file `ino` to `new_size` (at most its size): the
  // chunks past it go (their blobs queued for deletion) and the chunk
  // holding its last byte is kept whole (`cut` nullopt: it ends there) or
  // replaced by `cut` (its first bytes, already stored), in one transaction
  // with the size, mtime, version + 1 and the whole-file md5 pending.
  // nullopt, nothing changed, when that chunk is no longer `kept_blob` or
  // the file is smaller than new_size. Write permission unless `who` owns it.
  virtual Result<std::optional<FileRecord>> CommitTruncate(int64_t ino, const std::string& kept_blob,
                                                           std::optional<ChunkRecord> cut, uint64_t new_size,
                                                           double mtime, const std::string& request_id = "",
                                                           const Credentials* who = nullptr) = 0;
  // Files whose whole-file md5 is pending and that have not changed since
  // `changed_before` (seconds since the epoch), and recording it once
  // computed (ignored when the file changed since: version is not `version`).
  virtual Result<std::vector<int64_t>> PendingMd5(double changed_before, int limit) = 0;
  virtual Status SettleMd5(int64_t ino, int64_t version, const std::string& md5) = 0;

  // Compaction. CommitChunk notes a file that got a new last chunk (an
  // append); FilesToCompact lists noted files unchanged since
  // `changed_before`, oldest note first (and noted inodes since removed),
  // but not those postponed past now; ForgetCompaction drops the note
  // unless the file was noted again after `noted_before`;
  // PostponeCompaction keeps a file out of the list until `until`.
  virtual Result<std::vector<int64_t>> FilesToCompact(double changed_before, int limit) = 0;
  virtual Status ForgetCompaction(int64_t ino, double noted_before) = 0;
  virtual Status PostponeCompaction(int64_t ino, double until) = 0;
  // Replaces chunks merged.index, merged.index + 1, ... of `ino`, whose
  // blobs are `replaced` (in order), by `merged` (the same bytes as one
  // blob, already stored on merged.primary_node), renumbering the chunks
  // after them, in one transaction with the old blobs queued for deletion
  // and the new one's replication job. Size, times, md5 and version stay.
  // false, nothing changed, when those chunks are no longer those blobs.
  virtual Result<bool> CommitMerge(int64_t ino, const std::vector<std::string>& replaced, ChunkRecord merged,
                                   const std::string& request_id = "") = 0;

  // Open handles (see NamespaceStore::OpenHandle): drops handles whose
  // lease ended before `now` (their clients died) and purges the nameless
  // files they kept. Returns how many handles.
  virtual Result<int> ExpireHandles(double now) = 0;
  // The file an open handle holds, for reading its content (path: one of
  // its names, or "" when it has none left).
  virtual Result<FileRecord> GetFileOfHandle(const std::string& handle) = 0;
  // As CommitFile with kOverwrite, onto the handle's inode wherever it now
  // is (renamed or nameless): the content written through an open file.
  virtual Result<CommitResult> CommitToHandle(const std::string& handle, FileRecord file,
                                              const std::string& request_id = "",
                                              const Credentials* who = nullptr) = 0;

  // Replicas
  virtual Result<std::vector<ReplicaRecord>> GetReplicas(const std::string& blob_id) = 0;
  // A holder served a corrupt or missing copy: it is no longer a source, and
  // a replication job is queued to write a good copy (over it if possible).
  virtual Status MarkReplicaBad(const std::string& blob_id, const std::string& node_id) = 0;
  // NotFound when no file refers to the blob any more.
  virtual Result<BlobRecord> GetBlob(const std::string& blob_id) = 0;
  // Records a verified copy. NotFound (and the copy queued for deletion) when
  // the file went away meanwhile; ChecksumMismatch when md5 is not the chunk's.
  virtual Status AddReplica(const std::string& blob_id, const std::string& node_id, const std::string& md5) = 0;
  // Queues a job for files with fewer good copies than wanted (or than up
  // nodes), unless the file had a job in the last retry_after_s (doubled for
  // each recent job). Copies on nodes down since before dead_before do not
  // count. Returns how many.
  virtual Result<int> QueueUnderReplicated(double dead_before, double retry_after_s, int limit) = 0;
  virtual Result<ReplicationCounts> CountReplication(double dead_before) = 0;

  // Blob deletions
  virtual Result<std::vector<PendingDeletion>> PendingDeletions(int limit) = 0;
  virtual Status DeletionDone(const std::string& blob_id, const std::string& node_id) = 0;
  virtual Status DeletionFailed(const std::string& blob_id, const std::string& node_id) = 0;

  // Replication outbox (published by the replication side)
  virtual Result<std::vector<OutboxJob>> UnpublishedJobs(int limit) = 0;
  virtual Status MarkJobPublished(int64_t id) = 0;
  virtual Status PruneOutbox(double published_before) = 0;

  // Leases on background tasks, so that with many masters over one database
  // each task runs on one of them at a time. True when `holder` holds the
  // lease on `name` for ttl_s from now: it was free, lapsed, or already its
  // (renewed). ReleaseLease gives it up (a master stopping), so another
  // master takes it at once instead of after ttl_s.
  virtual Result<bool> HoldLease(const std::string& name, const std::string& holder, double ttl_s) = 0;
  virtual Status ReleaseLease(const std::string& name, const std::string& holder) = 0;

  struct Counts {
    uint64_t files = 0;
    uint64_t bytes = 0;
  };
  virtual Result<Counts> CountFiles() = 0;

  // What an fsck finds: names that are not valid path components, inodes
  // without a name, link counts that disagree with the entries, content on
  // what is not a file, running totals that disagree with the files. Empty
  // when the store is consistent; for tests, fuzzing and operators.
  virtual Result<std::vector<std::string>> CheckConsistency() = 0;
};

double NowSeconds();

}  // namespace dfs::master
