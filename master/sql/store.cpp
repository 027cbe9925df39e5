// SqlStore (sql_store.h): files and their contents, nodes, replicas,
// the heal queue, blob deletions and the replication outbox. The namespace
// operations are in namespace.cpp, the inode tree's statements in tree.cpp.
#include "master/sql/sql_store.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/http_util.h"
#include "common/log.h"
#include "common/path.h"
#include "master/sql/tree.h"
#include "master/sql/postgres_database.h"
#include "master/sql/schema.h"
#include "master/sql/sqlite_database.h"

namespace dfs::master {

namespace {
// The database unreachable (or gone mid-COMMIT) is 503: retry later; anything else is 500.
Status FromSql(const SqlError& e) {
  const bool unreachable = e.kind() == SqlError::Kind::kConnection || e.kind() == SqlError::Kind::kCommitUnknown;
  std::string message = std::string("metadata: ") + e.what();
  return unreachable ? Status::Unavailable(std::move(message)) : Status::IOError(std::move(message));
}

constexpr int kMaxAttempts = 6;
// Connections to PostgreSQL per master: what its busiest lanes use at once.
constexpr size_t kPostgresPoolSize = 8;

// 5, 10, 20, ... ms, each scaled by a random 0.5 to 1.5.
void BackOff(int attempt) {
  thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  const double ms = 5.0 * (1 << std::min(attempt, 6)) * jitter(rng);
  std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(ms * 1000)));
}
}  // namespace

using namespace sql;

namespace {
// blob_id, node_id, state, node url, node state (as the replica queries select them).
ReplicaRecord ReadReplicaRow(const Statement& q) {
  return {q.Text(0), q.Text(1), ReplicaStateFromString(q.Text(2)), q.Text(3), NodeStateFromString(q.Text(4))};
}
}  // namespace

Result<std::unique_ptr<Database>> SqlStore::Acquire() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [&] { return !idle_.empty() || open_ < pool_size_; });
  if (!idle_.empty()) {
    auto db = std::move(idle_.back());
    idle_.pop_back();
    return db;
  }
  ++open_;
  lock.unlock();
  auto db = connect_();
  if (!db.ok()) {
    lock.lock();
    --open_;
    idle_cv_.notify_one();
  }
  return db;
}

void SqlStore::GiveBack(std::unique_ptr<Database> db) {
  std::lock_guard lock(mu_);
  if (db->Healthy()) {
    idle_.push_back(std::move(db));
  } else {
    --open_;  // broken: the next Acquire connects again
  }
  idle_cv_.notify_one();
}

void SqlStore::Adopt(std::unique_ptr<Database> db) {
  std::lock_guard lock(mu_);
  ++open_;
  idle_.push_back(std::move(db));
  idle_cv_.notify_one();
}

SqlStore::~SqlStore() {
  {
    std::lock_guard lock(sync_mu_);
    stopping_ = true;
  }
  sync_cv_.notify_all();
  if (syncer_.joinable()) syncer_.join();
}

Status SqlStore::Sync() {
  const uint64_t made = RelaxedCommits::Count();
  // A full commit that writes a row: its fsync takes every earlier commit
  // to the disk with it (SQLite: the whole WAL; PostgreSQL: the WAL up to it).
  Status st = Locked([&](Database& db) -> Status {
    Transaction tx(db, Durability::kFull);
    db.Exec("UPDATE schema_version SET version = version");
    tx.Commit();
    return Status::OK();
  });
  if (st.ok()) synced_ = std::max(synced_.load(), made);
  return st;
}

void SqlStore::SyncLoop() {
  std::unique_lock lock(sync_mu_);
  while (!sync_cv_.wait_for(lock, kSyncEvery, [this] { return stopping_; })) {
    if (RelaxedCommits::Count() == synced_.load()) continue;
    lock.unlock();
    Status st = Sync();
    if (!st.ok()) DFS_LOG(WARN, "master") << "metadata sync failed (tried again in a second): " << st.ToString();
    lock.lock();
  }
}

template <typename Fn>
auto SqlStore::Locked(Fn&& fn) -> decltype(fn(std::declval<Database&>())) {
  for (int attempt = 1;; ++attempt) {
    auto db = Acquire();
    if (!db.ok()) return db.status();
    struct GiveBackOnExit {
      SqlStore* store;
      std::unique_ptr<Database>& db;
      ~GiveBackOnExit() { store->GiveBack(std::move(db)); }
    } give_back{this, *db};
    try {
      return fn(**db);
    } catch (const SqlError& e) {
      if (!e.retryable() || attempt == kMaxAttempts) {
        DFS_LOG(ERROR, "master") << "metadata error: " << e.what();
        return FromSql(e);
      }
      DFS_LOG(WARN, "master") << "metadata: retrying (attempt " << attempt << "): " << e.what();
    }
    BackOff(attempt);
  }
}

Result<std::unique_ptr<SqlStore>> SqlStore::Start(Result<std::unique_ptr<Database>> first, Connect connect,
                                                  size_t pool_size) {
  if (!first.ok()) return first.status();
  try {
    Database& db = **first;
    Status st = db.dialect() == Dialect::kSqlite ? CreateOrMigrateSqliteSchema(db) : CreateOrMigratePostgresSchema(db);
    if (!st.ok()) return st;
  } catch (const SqlError& e) {
    return FromSql(e);
  }
  std::unique_ptr<SqlStore> store(new SqlStore(std::move(connect), pool_size));
  store->Adopt(std::move(*first));
  store->syncer_ = std::thread([s = store.get()] { s->SyncLoop(); });
  return store;
}

namespace {
template <typename Db>
Result<std::unique_ptr<Database>> OpenAs(const std::string& where) {
  auto db = Db::Open(where);
  if (!db.ok()) return db.status();
  return std::unique_ptr<Database>(std::move(*db));
}
}  // namespace

Result<std::unique_ptr<SqlStore>> SqlStore::OpenSqlite(const std::string& path) {
  // One connection, never replaced (SQLite's never breaks): ":memory:" is a
  // database per connection, and SQLite has one writer at a time anyway.
  return Start(
      OpenAs<SqliteDatabase>(path),
      []() -> Result<std::unique_ptr<Database>> { return Status::IOError("metadata: no SQLite connection"); }, 1);
}

Result<std::unique_ptr<SqlStore>> SqlStore::OpenPostgres(const std::string& url) {
  return Start(OpenAs<PostgresDatabase>(url), [url] { return OpenAs<PostgresDatabase>(url); }, kPostgresPoolSize);
}

Status SqlStore::WithTransaction(const std::function<Status(Database&)>& fn) {
  return Locked([&](Database& db) -> Status {
    Transaction tx(db);
    Status st = fn(db);
    if (st.ok()) tx.Commit();
    return st;
  });
}

Status SqlStore::WithReads(const std::function<Status(Database&)>& fn) {
  return Locked([&](Database& db) -> Status {
    if (db.dialect() == Dialect::kPostgres) return fn(db);
    Transaction tx(db);
    Status st = fn(db);
    if (st.ok()) tx.Commit();
    return st;
  });
}

Status SqlStore::UpsertNode(const NodeRecord& n) {
  return Locked([&](Database& db) -> Status {
    Transaction tx(db, Durability::kRelaxed);  // a heartbeat: the next one repeats it
    auto q = db.Prepare(
        "INSERT INTO nodes (node_id, url, state, capacity, used, free, blobs, last_heartbeat) "
        "VALUES (?, ?, 'up', ?, ?, ?, ?, ?) "
        "ON CONFLICT(node_id) DO UPDATE SET url = excluded.url, capacity = excluded.capacity, "
        "used = excluded.used, free = excluded.free, blobs = excluded.blobs, "
        "last_heartbeat = excluded.last_heartbeat, "
        "state = CASE WHEN nodes.draining = 1 THEN 'draining' ELSE 'up' END");
    q.Bind(1, n.node_id).Bind(2, n.url).Bind(3, static_cast<int64_t>(n.capacity)).Bind(4, static_cast<int64_t>(n.used));
    q.Bind(5, static_cast<int64_t>(n.free)).Bind(6, static_cast<int64_t>(n.blobs)).Bind(7, n.last_heartbeat);
    q.Run();
    tx.Commit();
    return Status::OK();
  });
}

Result<std::vector<NodeRecord>> SqlStore::ListNodes() {
  return Locked([&](Database& db) -> Result<std::vector<NodeRecord>> {
    std::vector<NodeRecord> out;
    auto q = db.Prepare(
        "SELECT node_id, url, state, capacity, used, free, blobs, last_heartbeat, draining FROM nodes "
        "ORDER BY node_id");
    while (q.Step()) {
      NodeRecord n;
      n.node_id = q.Text(0);
      n.url = q.Text(1);
      n.state = NodeStateFromString(q.Text(2));
      n.capacity = static_cast<uint64_t>(q.Int(3));
      n.used = static_cast<uint64_t>(q.Int(4));
      n.free = static_cast<uint64_t>(q.Int(5));
      n.blobs = static_cast<uint64_t>(q.Int(6));
      n.last_heartbeat = q.Real(7);
      n.draining = q.Int(8) != 0;
      out.push_back(std::move(n));
    }
    return out;
  });
}

Result<std::vector<std::string>> SqlStore::MarkSilentNodesDown(double before) {
  return Locked([&](Database& db) -> Result<std::vector<std::string>> {
    Transaction tx(db);
    std::vector<std::string> ids;
    auto q = db.Prepare("SELECT node_id FROM nodes WHERE state IN ('up', 'draining') AND last_heartbeat < ?");
    q.Bind(1, before);
    while (q.Step()) ids.push_back(q.Text(0));
    auto u = db.Prepare("UPDATE nodes SET state = 'down' WHERE state IN ('up', 'draining') AND last_heartbeat < ?");
    u.Bind(1, before).Run();
    for (const auto& id : ids) WatchBlobsOn(db, id);  // their copies may stop counting
    tx.Commit();
    return ids;
  });
}

Result<NodeState> SqlStore::SetNodeDraining(const std::string& node_id, bool draining) {
  return Locked([&](Database& db) -> Result<NodeState> {
    // A node that is down stays down: draining only says what to do while it is alive.
    auto q = db.Prepare(
        "UPDATE nodes SET draining = ?1, "
        "state = CASE WHEN state = 'down' THEN 'down' WHEN ?3 = 1 THEN 'draining' ELSE 'up' END "
        "WHERE node_id = ?2 RETURNING state");
    q.Bind(1, int64_t{draining ? 1 : 0}).Bind(2, node_id).Bind(3, int64_t{draining ? 1 : 0});
    if (!q.Step()) return Status::NotFound("no node " + node_id);
    const NodeState state = NodeStateFromString(q.Text(0));
    q.Reset();
    if (draining) WatchBlobsOn(db, node_id);  // its copies stop counting
    return state;
  });
}

namespace {

// The regular file at `path`: NotFound when nothing is there, or when what is
// there is not a regular file (a folder, a symlink, a special file).
Result<FileRecord> FileAtPath(Database& db, const std::string& path) {
  auto ino = Resolve(db, path);
  if (!ino.ok()) {
    const Code code = ino.status().code();
    if (code == Code::kNotDirectory || code == Code::kNotFound) return Status::NotFound("no file '" + path + "'");
    return ino.status();
  }
  auto file = FileOfInode(db, *ino);
  if (!file) return Status::NotFound("no file '" + path + "'");
  file->path = path;
  return *file;
}

// Every regular file under folder `dir` (whose path is `dir_path`), depth first.
void CollectFiles(Database& db, int64_t dir, const std::string& dir_path, std::vector<FileRecord>& out) {
  std::vector<std::pair<int64_t, std::string>> subdirs;
  {
    auto q = db.Prepare(std::string("SELECT e.name, i.type, ") + kFileColumns +
                        " FROM entries e JOIN inodes i ON i.ino = e.ino LEFT JOIN contents c ON c.ino = i.ino "
                        "WHERE e.parent = ?");
    q.Bind(1, dir);
    while (q.Step()) {
      const std::string path = dir_path.empty() ? q.Blob(0) : dir_path + "/" + q.Blob(0);
      if (q.Text(1) == ToString(InodeType::kDir)) {
        subdirs.emplace_back(q.Int(2), path);
      } else if (!q.IsNull(4)) {  // a regular file (it has content: c.md5)
        out.push_back(ReadFileRow(q, 2));
        out.back().path = path;
      }
    }
  }
  for (const auto& [ino, path] : subdirs) CollectFiles(db, ino, path, out);
}

}  // namespace

Result<FileRecord> SqlStore::GetFile(const std::string& path) {
  return Locked([&](Database& db) -> Result<FileRecord> { return FileAtPath(db, path); });
}

Result<bool> SqlStore::FileExists(const std::string& path) {
  return Locked([&](Database& db) -> Result<bool> {
    auto file = FileAtPath(db, path);
    if (file.ok()) return true;
    if (file.status().code() == Code::kNotFound) return false;
    return file.status();
  });
}

Result<std::vector<std::string>> SqlStore::UnreferencedBlobs(const std::vector<std::string>& blob_ids) {
  return Locked([&](Database& db) -> Result<std::vector<std::string>> {
    std::vector<std::string> out;
    auto q = db.Prepare("SELECT 1 FROM chunks WHERE blob_id = ?");
    for (const auto& id : blob_ids) {
      q.Reset();
      if (!q.Bind(1, id).Step()) out.push_back(id);
    }
    return out;
  });
}

// The files whose paths start with `prefix`: the entries of the prefix's
// folder whose names start with its last part, and everything under those
// that are folders. Costs the subtree listed, not the namespace.
Result<std::vector<FileRecord>> SqlStore::ListFiles(const std::string& prefix) {
  return Locked([&](Database& db) -> Result<std::vector<FileRecord>> {
    std::vector<FileRecord> out;
    const size_t slash = prefix.rfind('/');
    const std::string dir_path = slash == std::string::npos ? "" : prefix.substr(0, slash);
    const std::string start = slash == std::string::npos ? prefix : prefix.substr(slash + 1);
    auto dir = Resolve(db, dir_path);
    if (!dir.ok()) return out;  // nothing is under a folder that does not exist
    const PrefixRange range = RangeOf(start);
    auto q = db.Prepare(std::string("SELECT e.name, i.type, ") + kFileColumns +
                          " FROM entries e JOIN inodes i ON i.ino = e.ino LEFT JOIN contents c ON c.ino = i.ino "
                          "WHERE e.parent = ?1 AND e.name >= ?2 AND (e.name < ?3 OR ?3 IS NULL)");
    q.Bind(1, *dir).BindBlob(2, range.lo);
    if (range.hi) {
      q.BindBlob(3, *range.hi);
    } else {
      q.BindNull(3);
    }
    std::vector<std::pair<int64_t, std::string>> subdirs;
    while (q.Step()) {
      const std::string path = dir_path.empty() ? q.Blob(0) : dir_path + "/" + q.Blob(0);
      if (q.Text(1) == ToString(InodeType::kDir)) {
        subdirs.emplace_back(q.Int(2), path);
      } else if (!q.IsNull(4)) {  // c.md5: a regular file
        out.push_back(ReadFileRow(q, 2));
        out.back().path = path;
      }
    }
    for (const auto& [ino, path] : subdirs) CollectFiles(db, ino, path, out);
    std::sort(out.begin(), out.end(), [](const FileRecord& a, const FileRecord& b) { return a.path < b.path; });
    return out;
  });
}

namespace {
std::optional<KeyedPut> ReadKeyedPut(Database& db, const std::string& key) {
  auto q = db.Prepare("SELECT requested, name, renamed, size, md5, node, version FROM put_keys WHERE key = ?");
  if (!q.Bind(1, key).Step()) return std::nullopt;
  return KeyedPut{q.Text(0), q.Text(1), q.Int(2) != 0, static_cast<uint64_t>(q.Int(3)), q.Text(4), q.Text(5), q.Int(6)};
}

void RecordKeyedPut(Database& db, const std::string& key, const std::string& requested, const FileRecord& file,
                    bool renamed) {
  const double now = NowSeconds();
  db.Prepare("DELETE FROM put_keys WHERE created_at < ?").Bind(1, now - kKeyedPutTtlSeconds).Run();
  auto ins = db.Prepare(
      "INSERT INTO put_keys (key, requested, name, renamed, size, md5, node, version, created_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  ins.Bind(1, key).Bind(2, requested).Bind(3, file.path).Bind(4, int64_t{renamed ? 1 : 0});
  const std::string node = file.chunks.empty() ? "" : file.chunks.front().primary_node;
  ins.Bind(5, static_cast<int64_t>(file.size)).Bind(6, file.md5).Bind(7, node).Bind(8, file.version);
  ins.Bind(9, now).Run();
}

// New content for the existing file `old` (an overwrite): same inode, so
// every hard link sees it; same permissions, as writing a file keeps them.
void ReplaceContent(Database& db, const FileRecord& old, FileRecord& file) {
  DropChunks(db, old.ino);
  InsertChunks(db, old.ino, file.chunks);
  AddToCounters(db, 0, static_cast<int64_t>(file.size) - static_cast<int64_t>(old.size));
  file.ino = old.ino;
  file.version = old.version + 1;
  file.mode = old.mode;
  const int64_t now = NowNs();
  db.Prepare("UPDATE inodes SET size = ?, mtime_ns = ?, ctime_ns = ? WHERE ino = ?")
      .Bind(1, static_cast<int64_t>(file.size))
      .Bind(2, SecondsToNs(file.mtime))
      .Bind(3, now)
      .Bind(4, old.ino)
      .Run();
  auto u = db.Prepare("UPDATE contents SET md5 = ?, version = ?, want_copies = ? WHERE ino = ?");
  u.Bind(1, file.md5).Bind(2, file.version).Bind(3, int64_t{file.want_copies}).Bind(4, old.ino).Run();
}

// A new file inode with its content, not yet linked anywhere, owned by who.
int64_t InsertFileInode(Database& db, const FileRecord& file, const Inode& dir, const Credentials* who) {
  Inode inode;
  inode.type = InodeType::kFile;
  inode.mode = file.mode;
  inode.size = file.size;
  inode.atime_ns = inode.mtime_ns = SecondsToNs(file.mtime);
  inode.ctime_ns = NowNs();
  SetNewOwner(inode, dir, who);
  const int64_t ino = InsertInode(db, inode);
  auto c = db.Prepare("INSERT INTO contents (ino, md5, version, want_copies) VALUES (?, ?, ?, ?)");
  c.Bind(1, ino).Bind(2, file.md5).Bind(3, file.version).Bind(4, int64_t{file.want_copies}).Run();
  InsertChunks(db, ino, file.chunks);
  AddToCounters(db, 1, static_cast<int64_t>(file.size));
  return ino;
}

// Links the new inode under `requested`'s folder, or under new_name(requested)
// for as long as names are taken (kRename). Atomic however many PUTs of one
// name race: the (parent, name) key decides.
Status LinkNewFile(Database& db, FileRecord& file, const std::string& requested, bool exists,
                   const std::function<std::string(const std::string&)>& new_name, bool* renamed) {
  for (int attempt = 0;; ++attempt) {
    if (attempt > 50) return Status::Internal("could not find a free name for '" + requested + "'");
    if (attempt > 0 || exists) {
      file.path = new_name(requested);
      *renamed = true;
    }
    auto where = ResolveParent(db, file.path);
    if (!where.ok()) return where.status();
    if (AddEntry(db, where->parent, where->name, file.ino, false)) return Status::OK();
  }
}

// Where a PUT of file.path goes: its folder (made when missing) and what is
// there now. IsDirectory for a folder; AlreadyExists for a symlink or special
// file unless the PUT takes another name.
struct PutTarget {
  Inode dir;
  std::optional<int64_t> at;
  std::optional<FileRecord> old;
};
Result<PutTarget> FindPutTarget(Database& db, const std::string& path, ConflictMode mode, const Credentials* who) {
  auto where = MakeParents(db, path, who);
  if (!where.ok()) return where.status();
  PutTarget t;
  t.dir = GetInode(db, where->parent).value();
  t.at = Lookup(db, where->parent, where->name);
  if (t.at) LockInodes(db, {*t.at});
  t.old = t.at ? FileOfInode(db, *t.at) : std::nullopt;
  if (t.at && !t.old) {
    auto inode = GetInode(db, *t.at);
    if (inode && inode->type == InodeType::kDir) return Status::IsDirectory("'" + path + "' is a directory");
    if (mode != ConflictMode::kRename) return Status::AlreadyExists("'" + path + "' already exists");
  }
  if (t.old && mode == ConflictMode::kFail) return Status::AlreadyExists("'" + path + "' already exists");
  if (t.old && mode == ConflictMode::kOverwrite) {
    auto inode = GetInode(db, t.old->ino).value();
    if (!who || who->uid != static_cast<uint32_t>(inode.uid)) {
      if (Status st = CheckAccess(inode, who, kMayWrite); !st.ok()) return st;
    }
  } else if (Status st = CheckAccess(t.dir, who, kMayWrite | kMayExec); !st.ok()) {
    return st;
  }
  return t;
}

// Each new chunk's one copy (on its primary node) and its replication job.
void RecordFirstCopy(Database& db, const FileRecord& file, const std::string& request_id) {
  auto q = db.Prepare(
      "INSERT INTO replicas (blob_id, node_id, state, created_at) VALUES (?, ?, 'ok', ?) "
      "ON CONFLICT (blob_id, node_id) DO UPDATE SET state = 'ok'");
  for (const auto& chunk : file.chunks) {
    q.Reset();
    q.Bind(1, chunk.blob_id).Bind(2, chunk.primary_node).Bind(3, NowSeconds()).Run();
    InsertReplicationJob(db, chunk, file.want_copies, request_id, chunk.primary_node);
  }
}

// After a range write or a truncate of `file`: its new size and mtime,
// version + 1, the whole-file md5 pending, the byte counter; the file as it
// now is (with its path).
FileRecord RecordPartialChange(Database& db, const FileRecord& file, uint64_t new_size, double mtime) {
  db.Prepare("UPDATE inodes SET size = ?, mtime_ns = ?, ctime_ns = ? WHERE ino = ?")
      .Bind(1, static_cast<int64_t>(new_size))
      .Bind(2, SecondsToNs(mtime))
      .Bind(3, NowNs())
      .Bind(4, file.ino)
      .Run();
  db.Prepare("UPDATE contents SET md5 = '', version = version + 1 WHERE ino = ?").Bind(1, file.ino).Run();
  AddToCounters(db, 0, static_cast<int64_t>(new_size) - static_cast<int64_t>(file.size));
  FileRecord written = *FileOfInode(db, file.ino);
  written.path = PathOf(db, file.ino).value_or("");
  return written;
}

// The inode an unexpired handle holds open.
Result<int64_t> InodeOfHandle(Database& db, const std::string& handle) {
  auto q = db.Prepare("SELECT ino FROM open_handles WHERE handle = ? AND expires_at > ?");
  if (!q.Bind(1, handle).Bind(2, NowSeconds()).Step()) return Status::NotFound("no open handle " + handle);
  return q.Int(0);
}

}  // namespace

Result<HandleRecord> SqlStore::OpenHandle(const std::string& path, double lease_s, const Credentials* who) {
  return Locked([&](Database& db) -> Result<HandleRecord> {
    Transaction tx(db, Durability::kRelaxed);  // a lease: docs/namespace.md
    auto ino = Resolve(db, path, who);
    if (!ino.ok()) return ino.status();
    auto inode = GetInode(db, *ino).value();
    if (inode.type == InodeType::kDir) return Status::IsDirectory("'" + path + "' is a directory");
    if (!FileOfInode(db, *ino)) return Status::NotFound("'" + path + "' is not a regular file");
    HandleRecord h{RandomHex(16), *ino, NowSeconds() + lease_s};
    db.Prepare("INSERT INTO open_handles (handle, ino, opened_at, expires_at) VALUES (?, ?, ?, ?)")
        .Bind(1, h.handle)
        .Bind(2, h.ino)
        .Bind(3, NowSeconds())
        .Bind(4, h.expires_at)
        .Run();
    tx.Commit();
    return h;
  });
}

Result<std::vector<std::string>> SqlStore::RenewHandles(const std::vector<std::string>& handles, double lease_s) {
  return Locked([&](Database& db) -> Result<std::vector<std::string>> {
    Transaction tx(db, Durability::kRelaxed);  // a lease: docs/namespace.md
    std::vector<std::string> gone;
    const double now = NowSeconds();
    auto u = db.Prepare("UPDATE open_handles SET expires_at = ? WHERE handle = ? AND expires_at > ?");
    for (const auto& h : handles) {
      u.Reset();
      u.Bind(1, now + lease_s).Bind(2, h).Bind(3, now).Run();
      if (db.Changes() == 0) gone.push_back(h);
    }
    tx.Commit();
    return gone;
  });
}

Status SqlStore::CloseHandle(const std::string& handle) {
  return Locked([&](Database& db) -> Status {
    Transaction tx(db, Durability::kRelaxed);  // a lease: docs/namespace.md
    auto q = db.Prepare("DELETE FROM open_handles WHERE handle = ? RETURNING ino");
    if (!q.Bind(1, handle).Step()) return Status::NotFound("no open handle " + handle);
    const int64_t ino = q.Int(0);
    q.Reset();
    PurgeIfUnused(db, ino);  // the last handle of a nameless file: its content goes now
    tx.Commit();
    return Status::OK();
  });
}

Result<int> SqlStore::ExpireHandles(double now) {
  return Locked([&](Database& db) -> Result<int> {
    Transaction tx(db, Durability::kRelaxed);  // a lease: docs/namespace.md
    std::vector<int64_t> inodes;
    auto q = db.Prepare("DELETE FROM open_handles WHERE expires_at <= ? RETURNING ino");
    q.Bind(1, now);
    while (q.Step()) inodes.push_back(q.Int(0));
    q.Reset();
    for (int64_t ino : inodes) PurgeIfUnused(db, ino);
    tx.Commit();
    return static_cast<int>(inodes.size());
  });
}

Result<FileRecord> SqlStore::GetFileOfHandle(const std::string& handle) {
  return Locked([&](Database& db) -> Result<FileRecord> {
    auto ino = InodeOfHandle(db, handle);
    if (!ino.ok()) return ino.status();
    auto file = FileOfInode(db, *ino);
    if (!file) return Status::NotFound("the file of handle " + handle + " is gone");
    file->path = PathOf(db, *ino).value_or("");
    return *file;
  });
}

Result<CommitResult> SqlStore::CommitToHandle(const std::string& handle, FileRecord file,
                                                 const std::string& request_id, const Credentials* who) {
  return Locked([&](Database& db) -> Result<CommitResult> {
    Transaction tx(db);
    auto ino = InodeOfHandle(db, handle);
    if (!ino.ok()) return ino.status();
    LockInodes(db, {*ino});
    auto old = FileOfInode(db, *ino);
    if (!old) return Status::NotFound("the file of handle " + handle + " is gone");
    const Inode inode = GetInode(db, *ino).value();
    if (!who || who->uid != static_cast<uint32_t>(inode.uid)) {
      if (Status st = CheckAccess(inode, who, kMayWrite); !st.ok()) return st;
    }
    ReplaceContent(db, *old, file);
    file.path = PathOf(db, *ino).value_or("");
    RecordFirstCopy(db, file, request_id);
    tx.Commit();
    CommitResult result;
    result.file = std::move(file);
    return result;
  });
}

Result<FileRecord> SqlStore::GetFileByIno(int64_t ino) {
  return Locked([&](Database& db) -> Result<FileRecord> {
    auto file = FileOfInode(db, ino);
    if (!file) return Status::NotFound("no file with inode " + std::to_string(ino));
    file->path = PathOf(db, ino).value_or("");
    return *file;
  });
}

Result<std::optional<FileRecord>> SqlStore::CommitChunk(int64_t ino, const ChunkExpectation& expected,
                                                           ChunkRecord chunk,
                                                           uint64_t new_size, double mtime,
                                                           const std::string& request_id, const Credentials* who) {
  return Locked([&](Database& db) -> Result<std::optional<FileRecord>> {
    Transaction tx(db);
    LockInodes(db, {ino});
    auto file = FileOfInode(db, ino);
    if (!file) return Status::NotFound("no file with inode " + std::to_string(ino));
    const auto index = static_cast<size_t>(chunk.index);
    const size_t count = file->chunks.size();
    const bool same_chunk = index < count ? file->chunks[index].blob_id == expected.blob_id
                                          : index == count && expected.blob_id.empty();
    if (!same_chunk || (expected.grows && index + 1 < count)) return std::optional<FileRecord>();
    new_size = std::max<uint64_t>(new_size, file->size);
    const Inode inode = GetInode(db, ino).value();
    if (!who || who->uid != static_cast<uint32_t>(inode.uid)) {
      if (Status st = CheckAccess(inode, who, kMayWrite); !st.ok()) return st;
    }
    if (index < file->chunks.size()) {  // the old blob goes
      const std::string& old = file->chunks[index].blob_id;
      QueueDeletionsOf(db, old);
      Unwatch(db, old);
      db.Prepare("DELETE FROM chunks WHERE ino = ? AND idx = ?").Bind(1, ino).Bind(2, chunk.index).Run();
    }
    InsertChunks(db, ino, {chunk});
    FileRecord written = RecordPartialChange(db, *file, new_size, mtime);
    FileRecord one = written;
    one.chunks = {chunk};
    RecordFirstCopy(db, one, request_id);
    if (index == count) {  // an append: its small chunks are merged once the file is quiet
      db.Prepare("INSERT INTO compact_watch (ino, noted_at) VALUES (?, ?) "
                 "ON CONFLICT (ino) DO UPDATE SET noted_at = excluded.noted_at")
          .Bind(1, ino)
          .Bind(2, NowSeconds())
          .Run();
    }
    tx.Commit();
    return std::optional<FileRecord>(std::move(written));
  });
}

Result<std::optional<FileRecord>> SqlStore::CommitTruncate(int64_t ino, const std::string& kept_blob,
                                                             std::optional<ChunkRecord> cut, uint64_t new_size,
                                                             double mtime, const std::string& request_id,
                                                             const Credentials* who) {
  return Locked([&](Database& db) -> Result<std::optional<FileRecord>> {
    Transaction tx(db);
    LockInodes(db, {ino});
    auto file = FileOfInode(db, ino);
    if (!file) return Status::NotFound("no file with inode " + std::to_string(ino));
    size_t kept = 0;
    while (kept < file->chunks.size() && file->chunks[kept].blob_id != kept_blob) ++kept;
    if (kept == file->chunks.size() || file->size < new_size) return std::optional<FileRecord>();
    const ChunkRecord& at = file->chunks[kept];
    if (new_size < at.offset || new_size > at.offset + at.size) return std::optional<FileRecord>();
    const Inode inode = GetInode(db, ino).value();
    if (!who || who->uid != static_cast<uint32_t>(inode.uid)) {
      if (Status st = CheckAccess(inode, who, kMayWrite); !st.ok()) return st;
    }
    auto drop = db.Prepare("DELETE FROM chunks WHERE ino = ? AND idx = ?");
    for (size_t i = cut ? kept : kept + 1; i < file->chunks.size(); ++i) {
      QueueDeletionsOf(db, file->chunks[i].blob_id);
      Unwatch(db, file->chunks[i].blob_id);
      drop.Reset();
      drop.Bind(1, ino).Bind(2, file->chunks[i].index).Run();
    }
    if (cut) InsertChunks(db, ino, {*cut});
    FileRecord written = RecordPartialChange(db, *file, new_size, mtime);
    if (cut) {
      FileRecord one = written;
      one.chunks = {*cut};
      RecordFirstCopy(db, one, request_id);
    }
    tx.Commit();
    return std::optional<FileRecord>(std::move(written));
  });
}

Result<std::vector<int64_t>> SqlStore::PendingMd5(double changed_before, int limit) {
  return Locked([&](Database& db) -> Result<std::vector<int64_t>> {
    std::vector<int64_t> out;
    auto q = db.Prepare(
        "SELECT c.ino FROM contents c JOIN inodes i ON i.ino = c.ino WHERE c.md5 = '' AND i.ctime_ns < ? LIMIT ?");
    q.Bind(1, SecondsToNs(changed_before)).Bind(2, int64_t{limit});
    while (q.Step()) out.push_back(q.Int(0));
    return out;
  });
}

Status SqlStore::SettleMd5(int64_t ino, int64_t version, const std::string& md5) {
  return Locked([&](Database& db) -> Status {
    db.Prepare("UPDATE contents SET md5 = ? WHERE ino = ? AND version = ? AND md5 = ''")
        .Bind(1, md5)
        .Bind(2, ino)
        .Bind(3, version)
        .Run();
    return Status::OK();
  });
}

Result<std::vector<int64_t>> SqlStore::FilesToCompact(double changed_before, int limit) {
  return Locked([&](Database& db) -> Result<std::vector<int64_t>> {
    std::vector<int64_t> out;
    auto q = db.Prepare(
        "SELECT w.ino FROM compact_watch w LEFT JOIN inodes i ON i.ino = w.ino "
        "WHERE (i.ino IS NULL OR i.ctime_ns < ?) AND w.noted_at <= ? ORDER BY w.noted_at LIMIT ?");
    q.Bind(1, SecondsToNs(changed_before)).Bind(2, NowSeconds()).Bind(3, int64_t{limit});
    while (q.Step()) out.push_back(q.Int(0));
    return out;
  });
}

Status SqlStore::ForgetCompaction(int64_t ino, double noted_before) {
  return Locked([&](Database& db) -> Status {
    db.Prepare("DELETE FROM compact_watch WHERE ino = ? AND noted_at < ?").Bind(1, ino).Bind(2, noted_before).Run();
    return Status::OK();
  });
}

Status SqlStore::PostponeCompaction(int64_t ino, double until) {
  return Locked([&](Database& db) -> Status {
    db.Prepare("UPDATE compact_watch SET noted_at = ? WHERE ino = ?").Bind(1, until).Bind(2, ino).Run();
    return Status::OK();
  });
}

Result<bool> SqlStore::CommitMerge(int64_t ino, const std::vector<std::string>& replaced, ChunkRecord merged,
                                   const std::string& request_id) {
  return Locked([&](Database& db) -> Result<bool> {
    Transaction tx(db);
    LockInodes(db, {ino});
    auto file = FileOfInode(db, ino);
    if (!file) return false;
    const auto first = static_cast<size_t>(merged.index);
    if (replaced.size() < 2 || first + replaced.size() > file->chunks.size()) return false;
    for (size_t i = 0; i < replaced.size(); ++i) {
      if (file->chunks[first + i].blob_id != replaced[i]) return false;
    }
    auto drop = db.Prepare("DELETE FROM chunks WHERE ino = ? AND idx = ?");
    for (size_t i = 0; i < replaced.size(); ++i) {
      QueueDeletionsOf(db, replaced[i]);
      Unwatch(db, replaced[i]);
      drop.Reset();
      drop.Bind(1, ino).Bind(2, static_cast<int64_t>(first + i)).Run();
    }
    InsertChunks(db, ino, {merged});
    // The chunks after the run move down; through indexes no row has, so no
    // step of either UPDATE meets another row's (ino, idx).
    constexpr int64_t kAside = int64_t{1} << 40;
    const auto last = static_cast<int64_t>(first + replaced.size() - 1);
    db.Prepare("UPDATE chunks SET idx = idx + ? WHERE ino = ? AND idx > ?").Bind(1, kAside).Bind(2, ino).Bind(3, last).Run();
    db.Prepare("UPDATE chunks SET idx = idx - ? WHERE ino = ? AND idx >= ?")
        .Bind(1, kAside + static_cast<int64_t>(replaced.size()) - 1)
        .Bind(2, ino)
        .Bind(3, kAside)
        .Run();
    FileRecord one = *file;
    one.chunks = {merged};
    RecordFirstCopy(db, one, request_id);
    tx.Commit();
    return true;
  });
}

Result<std::optional<KeyedPut>> SqlStore::FindKeyedPut(const std::string& key) {
  return Locked([&](Database& db) -> Result<std::optional<KeyedPut>> { return ReadKeyedPut(db, key); });
}

Result<CommitResult> SqlStore::CommitFile(FileRecord file, ConflictMode mode,
                                               const std::function<std::string(const std::string&)>& new_name,
                                               const std::string& request_id, const std::string& idempotency_key,
                                               const Credentials* who) {
  return Locked([&](Database& db) -> Result<CommitResult> {
    Transaction tx(db);
    CommitResult result;
    if (!idempotency_key.empty()) {
      result.earlier = ReadKeyedPut(db, idempotency_key);
      if (result.earlier) return result;
    }
    const std::string requested = file.path;
    auto target = FindPutTarget(db, file.path, mode, who);
    if (!target.ok()) return target.status();
    if (target->old && mode == ConflictMode::kOverwrite) {
      ReplaceContent(db, *target->old, file);
    } else {
      file.ino = InsertFileInode(db, file, target->dir, who);
      if (Status st = LinkNewFile(db, file, requested, target->at.has_value(), new_name, &result.renamed);
          !st.ok()) {
        return st;
      }
    }
    RecordFirstCopy(db, file, request_id);
    if (!idempotency_key.empty()) RecordKeyedPut(db, idempotency_key, requested, file, result.renamed);
    tx.Commit();
    result.file = std::move(file);
    return result;
  });
}

namespace {
// DeleteFile's work inside the caller's transaction; `ino` (when not 0) is
// the inode the name must still be, else NotFound and nothing changes.
Result<FileRecord> DeleteFileIn(Database& db, const std::string& path, const Credentials* who, int64_t ino = 0) {
  auto where = ResolveParent(db, path, who);
  if (!where.ok()) return where.status();
  auto found = Lookup(db, where->parent, where->name);
  if (!found) return Status::NotFound("no file '" + path + "'");
  if (ino != 0 && *found != ino) return Status::NotFound("'" + path + "' names another file now");
  LockInodes(db, {*found});
  auto inode = GetInode(db, *found).value();
  if (inode.type == InodeType::kDir) return Status::IsDirectory("'" + path + "' is a directory");
  if (Status st = CheckRemove(GetInode(db, where->parent).value(), inode, who); !st.ok()) return st;
  FileRecord f = FileOfInode(db, *found).value_or(FileRecord{});
  f.path = path;
  f.ino = *found;
  // Its folders stay, even when this file was all that is in them (POSIX).
  RemoveEntry(db, where->parent, where->name, false);
  DropLink(db, *found);  // the content goes with the last link
  return f;
}
}  // namespace

Result<FileRecord> SqlStore::DeleteFile(const std::string& path, const Credentials* who) {
  return Locked([&](Database& db) -> Result<FileRecord> {
    Transaction tx(db);
    auto f = DeleteFileIn(db, path, who);
    if (f.ok()) tx.Commit();
    return f;
  });
}

Result<std::vector<Result<FileRecord>>> SqlStore::DeleteFiles(const std::vector<wire::UnlinkEntry>& entries,
                                                              const Credentials* who) {
  return Locked([&](Database& db) -> Result<std::vector<Result<FileRecord>>> {
    Transaction tx(db);
    std::vector<Result<FileRecord>> out;
    out.reserve(entries.size());
    // An entry refused changes nothing (its checks come before its writes).
    for (const auto& e : entries) out.push_back(DeleteFileIn(db, e.path, who, e.ino));
    tx.Commit();
    return out;
  });
}

Result<std::vector<ReplicaRecord>> SqlStore::GetReplicas(const std::string& blob_id) {
  return Locked([&](Database& db) -> Result<std::vector<ReplicaRecord>> {
    std::vector<ReplicaRecord> out;
    auto q = db.Prepare(
        "SELECT r.blob_id, r.node_id, r.state, COALESCE(n.url, ''), COALESCE(n.state, 'down') FROM replicas r "
        "LEFT JOIN nodes n ON n.node_id = r.node_id WHERE r.blob_id = ? ORDER BY r.created_at");
    q.Bind(1, blob_id);
    while (q.Step()) out.push_back(ReadReplicaRow(q));
    return out;
  });
}

Status SqlStore::MarkReplicaBad(const std::string& blob_id, const std::string& node_id) {
  return Locked([&](Database& db) -> Status {
    Transaction tx(db);
    db.Prepare("UPDATE replicas SET state = 'bad' WHERE blob_id = ? AND node_id = ? AND state = 'ok'")
        .Bind(1, blob_id)
        .Bind(2, node_id)
        .Run();
    if (db.Changes() == 0) return Status::OK();  // already known
    Watch(db, blob_id);
    // The bad copy stays listed (so it is never chosen as a source) until a
    // good copy is written over it; the job makes that happen.
    if (auto owner = OwnerOfBlob(db, blob_id)) InsertReplicationJob(db, owner->chunk, owner->file.want_copies);
    tx.Commit();
    return Status::OK();
  });
}

Result<BlobRecord> SqlStore::GetBlob(const std::string& blob_id) {
  return Locked([&](Database& db) -> Result<BlobRecord> {
    auto owner = OwnerOfBlob(db, blob_id);
    if (!owner) return Status::NotFound("no file refers to blob " + blob_id);
    BlobRecord out{owner->chunk, owner->file, {}};
    auto q = db.Prepare(
        "SELECT r.blob_id, r.node_id, r.state, COALESCE(n.url, ''), COALESCE(n.state, 'down') FROM replicas r "
        "LEFT JOIN nodes n ON n.node_id = r.node_id WHERE r.blob_id = ? ORDER BY r.created_at");
    q.Bind(1, blob_id);
    while (q.Step()) out.holders.push_back(ReadReplicaRow(q));
    return out;
  });
}

Status SqlStore::AddReplica(const std::string& blob_id, const std::string& node_id, const std::string& md5) {
  return Locked([&](Database& db) -> Status {
    Transaction tx(db, Durability::kRelaxed);  // a lost one is repaired: docs/namespace.md
    auto node = db.Prepare("SELECT 1 FROM nodes WHERE node_id = ?");
    if (!node.Bind(1, node_id).Step()) return Status::InvalidArgument("no node " + node_id);
    auto owner = OwnerOfBlob(db, blob_id);
    if (!owner) {
      // Deleted or overwritten while the copy was made: the copy is garbage.
      db.Prepare("INSERT INTO blob_deletions (blob_id, node_id) VALUES (?, ?) ON CONFLICT DO NOTHING")
          .Bind(1, blob_id)
          .Bind(2, node_id)
          .Run();
      tx.Commit();
      return Status::NotFound("no file refers to blob " + blob_id);
    }
    if (owner->chunk.md5 != md5) {
      return Status::ChecksumMismatch("copy md5 " + md5 + " is not the chunk's " + owner->chunk.md5);
    }
    db.Prepare(
           "INSERT INTO replicas (blob_id, node_id, state, created_at) VALUES (?, ?, 'ok', ?) "
           "ON CONFLICT(blob_id, node_id) DO UPDATE SET state = 'ok'")
        .Bind(1, blob_id)
        .Bind(2, node_id)
        .Bind(3, NowSeconds())
        .Run();
    tx.Commit();
    return Status::OK();
  });
}

// A copy counts when it is good and on a node that is up, or down for less
// than the dead timeout (it will probably come back). Draining nodes do not
// count: their copies are being moved away.
static constexpr const char* kGoodCopies =
    "(SELECT COUNT(*) FROM replicas r JOIN nodes n ON n.node_id = r.node_id WHERE r.blob_id = ch.blob_id "
    "AND r.state = 'ok' AND (n.state = 'up' OR (n.state = 'down' AND n.last_heartbeat >= CAST(?1 AS DOUBLE PRECISION))))";

// Looks at the blobs in heal_watch that were looked at longest ago (a few
// times `limit`, so the pass costs what is watched, never every file):
// those with their copies (or no file any more) leave the watch; those with
// fewer good copies than wanted (or than up nodes) get a job, unless the
// blob had one in the last retry_after_s, doubled for each recent job.
// Good copies on nodes that are up now: only these let a blob leave the
// watch (a copy on a node down for a moment still counts for healing, but
// stops counting once the node is dead, with no event to watch it again).
static constexpr const char* kUpCopies =
    "(SELECT COUNT(*) FROM replicas r JOIN nodes n ON n.node_id = r.node_id WHERE r.blob_id = ch.blob_id "
    "AND r.state = 'ok' AND n.state = 'up')";

// 1, 2, 4 ... 64 for 0-1, 2, 3 ... 7+ jobs for the blob in the outbox (the last hour's).
// (A table, not a shift: SQLite and PostgreSQL shift different integer types.)
static const std::string kRecentJobsFactor =
    "(CASE (SELECT COUNT(*) FROM outbox oc WHERE oc.blob_id = w.blob_id) WHEN 0 THEN 1 WHEN 1 THEN 1 WHEN 2 THEN 2 "
    "WHEN 3 THEN 4 WHEN 4 THEN 8 WHEN 5 THEN 16 WHEN 6 THEN 32 ELSE 64 END)";

Result<int> SqlStore::QueueUnderReplicated(double dead_before, double retry_after_s, int limit) {
  return Locked([&](Database& db) -> Result<int> {
    Transaction tx(db);
    const double now = NowSeconds();
    auto up = db.Prepare("SELECT COUNT(*) FROM nodes WHERE state = 'up'");
    up.Step();
    const int64_t up_nodes = up.Int(0);
    // Columns: the watched blob, whether a chunk holds it, the chunk, its
    // want_copies, good copies, a recent job, copies on up nodes.
    auto q = db.Prepare(std::string("SELECT w.blob_id, ch.blob_id IS NOT NULL, ") + kChunkColumns +
                          ", c.want_copies, " + kGoodCopies +
                          ", EXISTS (SELECT 1 FROM outbox o WHERE o.blob_id = w.blob_id AND o.created_at >= "
                          // Back off per blob: retry_after, then 2x, 4x ... 64x, counted in the
                          // jobs of the last hour (older ones are pruned), so a blob that cannot
                          // be healed does not flood the queue and the dead letters.
                          "CAST(?2 AS DOUBLE PRECISION) - CAST(?3 AS DOUBLE PRECISION) * " + kRecentJobsFactor + ") "
                          ", " + kUpCopies + " FROM (SELECT blob_id FROM heal_watch ORDER BY checked_at LIMIT ?4) w "
                          "LEFT JOIN chunks ch ON ch.blob_id = w.blob_id LEFT JOIN contents c ON c.ino = ch.ino");
    q.Bind(1, dead_before).Bind(2, now).Bind(3, retry_after_s).Bind(4, int64_t{std::max(limit, 1) * 4});
    std::vector<std::string> done, looked;
    std::vector<std::pair<ChunkRecord, int>> heal;
    while (q.Step()) {
      const std::string blob = q.Text(0);
      looked.push_back(blob);
      if (q.Int(1) == 0) {  // no file holds it any more
        done.push_back(blob);
        continue;
      }
      ChunkRecord chunk = ReadChunkRow(q, 2);
      const int want = static_cast<int>(q.Int(8));
      const int64_t good = q.Int(9);
      if (q.Int(11) >= want) {
        done.push_back(blob);
      } else if (good < std::min<int64_t>(want, up_nodes) && q.Int(10) == 0 && static_cast<int>(heal.size()) < limit) {
        heal.emplace_back(std::move(chunk), want);
      }
    }
    q.Reset();
    auto checked = db.Prepare("UPDATE heal_watch SET checked_at = ? WHERE blob_id = ?");
    for (const auto& blob : looked) {
      checked.Reset();
      checked.Bind(1, now).Bind(2, blob).Run();
    }
    for (const auto& blob : done) Unwatch(db, blob);
    for (const auto& [chunk, want] : heal) InsertReplicationJob(db, chunk, want);
    tx.Commit();
    return static_cast<int>(heal.size());
  });
}

Result<ReplicationCounts> SqlStore::CountReplication(double dead_before) {
  return Locked([&](Database& db) -> Result<ReplicationCounts> {
    ReplicationCounts c;
    // Only watched blobs can lack copies (see heal_watch in schema.cpp).
    auto under = db.Prepare(std::string("SELECT COUNT(DISTINCT ch.ino) FROM heal_watch w JOIN chunks ch ON "
                                          "ch.blob_id = w.blob_id JOIN contents c ON c.ino = ch.ino WHERE ") +
                              kGoodCopies + " < c.want_copies");
    under.Bind(1, dead_before).Step();
    c.under_replicated = static_cast<uint64_t>(under.Int(0));
    auto outbox = db.Prepare("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL");
    outbox.Step();
    c.unpublished_jobs = static_cast<uint64_t>(outbox.Int(0));
    return c;
  });
}

Status SqlStore::PruneOutbox(double published_before) {
  return Locked([&](Database& db) -> Status {
    db.Prepare("DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < ?")
        .Bind(1, published_before)
        .Run();
    return Status::OK();
  });
}

Result<std::vector<PendingDeletion>> SqlStore::PendingDeletions(int limit) {
  return Locked([&](Database& db) -> Result<std::vector<PendingDeletion>> {
    std::vector<PendingDeletion> out;
    auto q = db.Prepare(
        "SELECT d.blob_id, d.node_id, COALESCE(n.url, ''), d.attempts FROM blob_deletions d "
        "LEFT JOIN nodes n ON n.node_id = d.node_id WHERE d.next_attempt <= ? LIMIT ?");
    q.Bind(1, NowSeconds()).Bind(2, int64_t{limit});
    while (q.Step()) out.push_back({q.Text(0), q.Text(1), q.Text(2), static_cast<int>(q.Int(3))});
    return out;
  });
}

Status SqlStore::DeletionDone(const std::string& blob_id, const std::string& node_id) {
  return Locked([&](Database& db) -> Status {
    Transaction tx(db, Durability::kRelaxed);  // lost: the node is asked again (docs/namespace.md)
    db.Prepare("DELETE FROM blob_deletions WHERE blob_id = ? AND node_id = ?").Bind(1, blob_id).Bind(2, node_id).Run();
    tx.Commit();
    return Status::OK();
  });
}

Status SqlStore::DeletionFailed(const std::string& blob_id, const std::string& node_id) {
  return Locked([&](Database& db) -> Status {
    Transaction tx(db, Durability::kRelaxed);  // lost: the node is asked again (docs/namespace.md)
    // Back off: 1 s, 2 s, 4 s ... capped at 5 minutes. Never given up: a node
    // that comes back still gets its garbage removed.
    db.Prepare(
           "UPDATE blob_deletions SET attempts = attempts + 1, "
           "next_attempt = CAST(? AS DOUBLE PRECISION) + CASE attempts WHEN 0 THEN 1 WHEN 1 THEN 2 WHEN 2 THEN 4 WHEN 3 THEN 8 "
        "WHEN 4 THEN 16 WHEN 5 THEN 32 WHEN 6 THEN 64 WHEN 7 THEN 128 WHEN 8 THEN 256 ELSE 300 END "
        "WHERE blob_id = ? AND node_id = ?")
        .Bind(1, NowSeconds())
        .Bind(2, blob_id)
        .Bind(3, node_id)
        .Run();
    tx.Commit();
    return Status::OK();
  });
}

Result<std::vector<OutboxJob>> SqlStore::UnpublishedJobs(int limit) {
  return Locked([&](Database& db) -> Result<std::vector<OutboxJob>> {
    std::vector<OutboxJob> out;
    auto q = db.Prepare("SELECT id, blob_id, payload FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT ?");
    q.Bind(1, int64_t{limit});
    while (q.Step()) out.push_back({q.Int(0), q.Text(1), q.Text(2)});
    return out;
  });
}

Status SqlStore::MarkJobPublished(int64_t id) {
  return Locked([&](Database& db) -> Status {
    Transaction tx(db, Durability::kRelaxed);  // lost: published again (docs/namespace.md)
    db.Prepare("UPDATE outbox SET published_at = ? WHERE id = ?").Bind(1, NowSeconds()).Bind(2, id).Run();
    tx.Commit();
    return Status::OK();
  });
}

Result<bool> SqlStore::HoldLease(const std::string& name, const std::string& holder, double ttl_s) {
  return Locked([&](Database& db) -> Result<bool> {
    const double now = NowSeconds();
    auto q = db.Prepare(
        "INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO UPDATE "
        "SET holder = excluded.holder, expires_at = excluded.expires_at "
        "WHERE leases.holder = excluded.holder OR leases.expires_at < ?4 RETURNING holder");
    q.Bind(1, name).Bind(2, holder).Bind(3, now + ttl_s).Bind(4, now);
    const bool held = q.Step();
    q.Reset();
    return held;
  });
}

Status SqlStore::ReleaseLease(const std::string& name, const std::string& holder) {
  return Locked([&](Database& db) -> Status {
    db.Prepare("DELETE FROM leases WHERE name = ? AND holder = ?").Bind(1, name).Bind(2, holder).Run();
    return Status::OK();
  });
}

Result<MetadataStore::Counts> SqlStore::CountFiles() {
  return Locked([&](Database& db) -> Result<Counts> {
    // Kept by the transactions that add and remove files: no scan.
    auto q = db.Prepare(
        "SELECT COALESCE(MAX(CASE name WHEN 'files' THEN value END), 0), "
        "COALESCE(MAX(CASE name WHEN 'bytes' THEN value END), 0) FROM counters");
    q.Step();
    return Counts{static_cast<uint64_t>(q.Int(0)), static_cast<uint64_t>(q.Int(1))};
  });
}

}  // namespace dfs::master
