// SqlStore: MetadataStore over a SQL database, one implementation of the
// SQL for both SQLite (the embedded default: one master, one file) and
// PostgreSQL (many masters, one database); database.h says what differs.
// Every method borrows a connection from the store's pool (SQLite: one, so
// methods run one at a time; PostgreSQL: several) and runs as one
// transaction on it. A transaction that fails with a retryable SqlError (a
// serialization failure, a deadlock, a lost connection) is rerun from the
// start, a bounded number of times with jittered backoff; any other
// SqlError, and a COMMIT whose outcome is unknown, becomes IOError at the
// method's edge (the master answers 503). On PostgreSQL (READ COMMITTED) a
// transaction that changes an inode locks its row first (LockInodes in
// tree.h), folders before what is in them; uniqueness is left to
// constraints and ON CONFLICT. The schemas are in sqlite_schema.cpp and
// postgres_schema.cpp, the inode tree's statements in tree.h; store.cpp
// holds files, nodes, replicas and queues, namespace.cpp the namespace.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "master/metadata_store.h"
#include "master/sql/database.h"

namespace dfs::master {

class SqlStore final : public MetadataStore {
 public:
  // `path` is a file name, or ":memory:". Creates or migrates the schema.
  static Result<std::unique_ptr<SqlStore>> OpenSqlite(const std::string& path);
  // `url` is postgres://... (libpq's form). Creates or migrates the schema.
  static Result<std::unique_ptr<SqlStore>> OpenPostgres(const std::string& url);
  ~SqlStore() override;
  Status Sync() override;

  // NamespaceStore
  Result<DirPage> List(const std::string& dir, const std::string& after = "", size_t limit = 0) override;
  Result<DirEntry> Stat(const std::string& path, const Credentials* who = nullptr) override;
  Status MakeDir(const std::string& path, int mode, bool parents, const Credentials* who = nullptr) override;
  Status RemoveDir(const std::string& path, const Credentials* who = nullptr) override;
  Status Rename(const std::string& from, const std::string& to, RenameMode how = RenameMode::kReplace,
                const Credentials* who = nullptr) override;
  Status SetAttr(const std::string& path, const AttrChange& change, const Credentials* who = nullptr) override;
  Result<DirEntry> Symlink(const std::string& path, const std::string& target,
                           const Credentials* who = nullptr) override;
  Result<DirEntry> MakeNode(const std::string& path, InodeType type, int mode, int64_t rdev,
                            const Credentials* who = nullptr) override;
  Result<DirEntry> Link(const std::string& existing, const std::string& path,
                        const Credentials* who = nullptr) override;

  // MetadataStore
  Status UpsertNode(const NodeRecord& node) override;
  Result<std::vector<NodeRecord>> ListNodes() override;
  Result<std::vector<std::string>> MarkSilentNodesDown(double before) override;
  Result<NodeState> SetNodeDraining(const std::string& node_id, bool draining) override;
  Result<FileRecord> GetFile(const std::string& path) override;
  Result<std::vector<FileRecord>> ListFiles(const std::string& prefix) override;
  Result<bool> FileExists(const std::string& path) override;
  Result<std::vector<std::string>> UnreferencedBlobs(const std::vector<std::string>& blob_ids) override;
  Result<CommitResult> CommitFile(FileRecord file, ConflictMode mode,
                                  const std::function<std::string(const std::string&)>& new_name,
                                  const std::string& request_id = "", const std::string& idempotency_key = "",
                                  const Credentials* who = nullptr) override;
  Result<std::optional<KeyedPut>> FindKeyedPut(const std::string& key) override;
  Result<FileRecord> DeleteFile(const std::string& path, const Credentials* who = nullptr) override;
  Result<std::vector<Result<FileRecord>>> DeleteFiles(const std::vector<wire::UnlinkEntry>& entries,
                                                      const Credentials* who = nullptr) override;
  Result<HandleRecord> OpenHandle(const std::string& path, double lease_s, const Credentials* who = nullptr) override;
  Result<std::vector<std::string>> RenewHandles(const std::vector<std::string>& handles, double lease_s) override;
  Status CloseHandle(const std::string& handle) override;
  Result<int> ExpireHandles(double now) override;
  Result<FileRecord> GetFileByIno(int64_t ino) override;
  Result<std::optional<FileRecord>> CommitChunk(int64_t ino, const ChunkExpectation& expected, ChunkRecord chunk,
                                                uint64_t new_size, double mtime, const std::string& request_id = "",
                                                const Credentials* who = nullptr) override;
  Result<std::optional<FileRecord>> CommitTruncate(int64_t ino, const std::string& kept_blob,
                                                   std::optional<ChunkRecord> cut, uint64_t new_size, double mtime,
                                                   const std::string& request_id, const Credentials* who) override;
  Result<std::vector<int64_t>> PendingMd5(double changed_before, int limit) override;
  Status SettleMd5(int64_t ino, int64_t version, const std::string& md5) override;
  Result<std::vector<int64_t>> FilesToCompact(double changed_before, int limit) override;
  Status ForgetCompaction(int64_t ino, double noted_before) override;
  Status PostponeCompaction(int64_t ino, double until) override;
  Result<bool> CommitMerge(int64_t ino, const std::vector<std::string>& replaced, ChunkRecord merged,
                           const std::string& request_id) override;
  Result<DirEntry> StatHandle(const std::string& handle) override;
  Result<FileRecord> GetFileOfHandle(const std::string& handle) override;
  Result<CommitResult> CommitToHandle(const std::string& handle, FileRecord file, const std::string& request_id = "",
                                      const Credentials* who = nullptr) override;
  Result<std::vector<ReplicaRecord>> GetReplicas(const std::string& blob_id) override;
  Status MarkReplicaBad(const std::string& blob_id, const std::string& node_id) override;
  Result<BlobRecord> GetBlob(const std::string& blob_id) override;
  Status AddReplica(const std::string& blob_id, const std::string& node_id, const std::string& md5) override;
  Result<int> QueueUnderReplicated(double dead_before, double retry_after_s, int limit) override;
  Result<ReplicationCounts> CountReplication(double dead_before) override;
  Result<std::vector<PendingDeletion>> PendingDeletions(int limit) override;
  Status DeletionDone(const std::string& blob_id, const std::string& node_id) override;
  Status DeletionFailed(const std::string& blob_id, const std::string& node_id) override;
  Result<std::vector<OutboxJob>> UnpublishedJobs(int limit) override;
  Status MarkJobPublished(int64_t id) override;
  Status PruneOutbox(double published_before) override;
  Result<bool> HoldLease(const std::string& name, const std::string& holder, double ttl_s) override;
  Status ReleaseLease(const std::string& name, const std::string& holder) override;
  Result<Counts> CountFiles() override;
  Result<std::vector<std::string>> CheckConsistency() override;

 private:
  using Connect = std::function<Result<std::unique_ptr<Database>>()>;
  SqlStore(Connect connect, size_t pool_size) : connect_(std::move(connect)), pool_size_(pool_size) {}
  // A store whose pool starts with `first` (its schema created or migrated
  // first) and makes more with `connect`, up to pool_size.
  static Result<std::unique_ptr<SqlStore>> Start(Result<std::unique_ptr<Database>> first, Connect connect,
                                                 size_t pool_size);
  // A connection borrowed from the pool: an idle one, or a new one while
  // fewer than pool_size_ exist; waits otherwise. GiveBack returns it, or
  // drops it when it broke (the next Acquire connects again).
  Result<std::unique_ptr<Database>> Acquire();
  void GiveBack(std::unique_ptr<Database> db);
  // Adds a connection made elsewhere to the pool.
  void Adopt(std::unique_ptr<Database> db);
  // Runs fn(db) on a borrowed connection, rerunning it on retryable errors;
  // SqlError becomes IOError.
  template <typename Fn>
  auto Locked(Fn&& fn) -> decltype(fn(std::declval<Database&>()));
  // As Locked in a transaction, committed when fn returns OK.
  Status WithTransaction(const std::function<Status(Database&)>& fn);
  // For fn that only reads. SQLite: in one transaction (one snapshot).
  // PostgreSQL at READ COMMITTED gives each statement its own snapshot even
  // inside a transaction, so the statements run without BEGIN and COMMIT:
  // the same answers, two round trips fewer.
  Status WithReads(const std::function<Status(Database&)>& fn);
  // As WithTransaction for `make`, which makes an inode and answers its entry.
  Result<DirEntry> MakeInTransaction(const std::function<Result<DirEntry>(Database&)>& make);

  // Syncs every kSyncEvery while kRelaxed commits were made since the last sync.
  void SyncLoop();
  static constexpr std::chrono::milliseconds kSyncEvery{1000};

  const Connect connect_;
  const size_t pool_size_;
  std::mutex mu_;
  std::condition_variable idle_cv_;
  std::vector<std::unique_ptr<Database>> idle_;
  size_t open_ = 0;  // connections made and not dropped (idle or lent)
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  bool stopping_ = false;
  std::atomic<uint64_t> synced_{0};  // RelaxedCommits::Count() when the last sync began
  std::thread syncer_;  // last: started when the rest is ready
};

}  // namespace dfs::master
