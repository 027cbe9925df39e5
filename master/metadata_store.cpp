#include "master/metadata_store.h"

#include <chrono>

#include <nlohmann/json.hpp>

#include "common/http_util.h"
#include "common/log.h"
#include "common/path.h"
#include "master/metadata_sql.h"

namespace dfs::master {

namespace {
constexpr int kSchemaVersion = 2;  // 2: nodes.draining

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (
  node_id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'up' CHECK (state IN ('up','down','draining')),
  draining INTEGER NOT NULL DEFAULT 0,  -- kept while down: state says liveness
  capacity INTEGER NOT NULL DEFAULT 0,
  used INTEGER NOT NULL DEFAULT 0,
  free INTEGER NOT NULL DEFAULT 0,
  blobs INTEGER NOT NULL DEFAULT 0,
  last_heartbeat REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS files (
  path TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  md5 TEXT NOT NULL,
  mtime REAL NOT NULL,
  mode INTEGER NOT NULL DEFAULT 420,
  blob_id TEXT NOT NULL UNIQUE,
  primary_node TEXT NOT NULL,
  version INTEGER NOT NULL DEFAULT 1,
  want_copies INTEGER NOT NULL DEFAULT 3
);
CREATE TABLE IF NOT EXISTS replicas (
  blob_id TEXT NOT NULL,
  node_id TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'ok' CHECK (state IN ('ok','bad')),
  created_at REAL NOT NULL,
  PRIMARY KEY (blob_id, node_id)
);
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  blob_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at REAL NOT NULL,
  published_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (published_at) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_blob ON outbox (blob_id, created_at);
CREATE TABLE IF NOT EXISTS blob_deletions (
  blob_id TEXT NOT NULL,
  node_id TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt REAL NOT NULL DEFAULT 0,
  PRIMARY KEY (blob_id, node_id)
);
CREATE TABLE IF NOT EXISTS put_keys (
  key TEXT PRIMARY KEY,
  requested TEXT NOT NULL,
  name TEXT NOT NULL,
  renamed INTEGER NOT NULL,
  size INTEGER NOT NULL,
  md5 TEXT NOT NULL,
  node TEXT NOT NULL,
  version INTEGER NOT NULL,
  created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS put_keys_age ON put_keys (created_at);
CREATE TABLE IF NOT EXISTS dirs (
  path TEXT PRIMARY KEY,
  mode INTEGER NOT NULL DEFAULT 493,
  mtime REAL NOT NULL
);
)sql";
}  // namespace

namespace sql {

FileRecord ReadFileRow(const Statement& s) {
  FileRecord f;
  f.path = s.Text(0);
  f.size = static_cast<uint64_t>(s.Int(1));
  f.md5 = s.Text(2);
  f.mtime = s.Real(3);
  f.mode = static_cast<int>(s.Int(4));
  f.blob_id = s.Text(5);
  f.primary_node = s.Text(6);
  f.version = s.Int(7);
  f.want_copies = static_cast<int>(s.Int(8));
  return f;
}

const char* const kFileColumns = "path, size, md5, mtime, mode, blob_id, primary_node, version, want_copies";

PrefixRange RangeOf(const std::string& prefix) {
  // Paths are valid UTF-8, which never holds the byte 0xFF: "\xff" is above them all.
  std::string hi = prefix;
  while (!hi.empty() && static_cast<unsigned char>(hi.back()) == 0xFF) hi.pop_back();
  if (hi.empty()) return {prefix, "\xff"};
  hi.back() = static_cast<char>(static_cast<unsigned char>(hi.back()) + 1);
  return {prefix, hi};
}

std::string Under(const char* column, int lo_param, int hi_param) {
  return std::string("(") + column + " >= ?" + std::to_string(lo_param) + " AND " + column + " < ?" +
         std::to_string(hi_param) + ")";
}

Status FromSqlite(const SqliteError& e) { return Status::IOError(std::string("metadata: ") + e.what()); }

void QueueDeletionsOf(Database& db, const std::string& blob_id) {
  auto q = db.Prepare(
      "INSERT OR IGNORE INTO blob_deletions (blob_id, node_id) SELECT blob_id, node_id FROM replicas WHERE blob_id = ?");
  q.Bind(1, blob_id).Run();
  db.Prepare("DELETE FROM replicas WHERE blob_id = ?").Bind(1, blob_id).Run();
}

// Queues a replication job for the file's blob (the outbox): committed with
// the change that needs it, published to Redis later, never lost.
void InsertReplicationJob(Database& db, const FileRecord& file, const std::string& job_id) {
  nlohmann::json job = {{"job_id", job_id.empty() ? RandomHex(8) : job_id},
                        {"blob_id", file.blob_id},
                        {"md5", file.md5},
                        {"size", file.size},
                        {"want_copies", file.want_copies},
                        {"created_at", NowSeconds()}};
  auto out = db.Prepare("INSERT INTO outbox (blob_id, payload, created_at) VALUES (?, ?, ?)");
  out.Bind(1, file.blob_id).Bind(2, job.dump()).Bind(3, NowSeconds()).Run();
}

std::optional<FileRecord> FileOfBlob(Database& db, const std::string& blob_id) {
  auto q = db.Prepare(std::string("SELECT ") + kFileColumns + " FROM files WHERE blob_id = ?");
  if (!q.Bind(1, blob_id).Step()) return std::nullopt;
  return ReadFileRow(q);
}

// A file may not sit where a directory is, nor under a path that is a file.
Status CheckNamespace(Database& db, const std::string& path) {
  std::string parent = ParentPath(path);
  while (!parent.empty()) {
    auto q = db.Prepare("SELECT 1 FROM files WHERE path = ?");
    if (q.Bind(1, parent).Step()) return Status::NotDirectory("'" + parent + "' is a file, not a directory");
    parent = ParentPath(parent);
  }
  auto dir = db.Prepare("SELECT 1 FROM dirs WHERE path = ?");
  if (dir.Bind(1, path).Step()) return Status::IsDirectory("'" + path + "' is a directory");
  auto under = db.Prepare("SELECT 1 FROM files WHERE " + Under("path", 1, 2) + " LIMIT 1");
  const PrefixRange r = RangeOf(path + "/");
  if (under.Bind(1, r.lo).Bind(2, r.hi).Step()) return Status::IsDirectory("'" + path + "' is a directory");
  return Status::OK();
}
}  // namespace sql

using namespace sql;

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

template <typename Fn>
auto MetadataStore::Locked(Fn&& fn) -> decltype(fn()) {
  std::lock_guard lock(mu_);
  try {
    return fn();
  } catch (const SqliteError& e) {
    DFS_LOG(ERROR, "master") << "sqlite error: " << e.what();
    return FromSqlite(e);
  }
}

Result<std::unique_ptr<MetadataStore>> MetadataStore::Open(const std::string& path) {
  auto db = Database::Open(path);
  if (!db.ok()) return db.status();
  std::unique_ptr<MetadataStore> store(new MetadataStore(std::move(*db)));
  try {
    store->CreateSchema();
  } catch (const SqliteError& e) {
    return FromSqlite(e);
  }
  return store;
}

void MetadataStore::CreateSchema() {
  Transaction tx(*db_);
  db_->Exec(kSchema);
  auto q = db_->Prepare("SELECT version FROM schema_version");
  if (!q.Step()) {
    db_->Prepare("INSERT INTO schema_version (version) VALUES (?)").Bind(1, int64_t{kSchemaVersion}).Run();
  } else if (q.Int(0) < 2) {
    // Version 1 kept "draining" in state only, so a draining node that died
    // was never marked down.
    db_->Exec("ALTER TABLE nodes ADD COLUMN draining INTEGER NOT NULL DEFAULT 0;"
              "UPDATE nodes SET draining = 1 WHERE state = 'draining';"
              "UPDATE schema_version SET version = 2;");
  }
  tx.Commit();
}

Status MetadataStore::WithTransaction(const std::function<Status(Database&)>& fn) {
  return Locked([&]() -> Status {
    Transaction tx(*db_);
    Status st = fn(*db_);
    if (st.ok()) tx.Commit();
    return st;
  });
}

Status MetadataStore::UpsertNode(const NodeRecord& n) {
  return Locked([&]() -> Status {
    auto q = db_->Prepare(
        "INSERT INTO nodes (node_id, url, state, capacity, used, free, blobs, last_heartbeat) "
        "VALUES (?, ?, 'up', ?, ?, ?, ?, ?) "
        "ON CONFLICT(node_id) DO UPDATE SET url = excluded.url, capacity = excluded.capacity, "
        "used = excluded.used, free = excluded.free, blobs = excluded.blobs, "
        "last_heartbeat = excluded.last_heartbeat, "
        "state = CASE WHEN nodes.draining = 1 THEN 'draining' ELSE 'up' END");
    q.Bind(1, n.node_id).Bind(2, n.url).Bind(3, static_cast<int64_t>(n.capacity)).Bind(4, static_cast<int64_t>(n.used));
    q.Bind(5, static_cast<int64_t>(n.free)).Bind(6, static_cast<int64_t>(n.blobs)).Bind(7, n.last_heartbeat);
    q.Run();
    return Status::OK();
  });
}

Result<std::vector<NodeRecord>> MetadataStore::ListNodes() {
  return Locked([&]() -> Result<std::vector<NodeRecord>> {
    std::vector<NodeRecord> out;
    auto q = db_->Prepare(
        "SELECT node_id, url, state, capacity, used, free, blobs, last_heartbeat, draining FROM nodes "
        "ORDER BY node_id");
    while (q.Step()) {
      NodeRecord n;
      n.node_id = q.Text(0);
      n.url = q.Text(1);
      n.state = q.Text(2);
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

Result<std::vector<std::string>> MetadataStore::MarkSilentNodesDown(double before) {
  return Locked([&]() -> Result<std::vector<std::string>> {
    Transaction tx(*db_);
    std::vector<std::string> ids;
    auto q = db_->Prepare("SELECT node_id FROM nodes WHERE state IN ('up', 'draining') AND last_heartbeat < ?");
    q.Bind(1, before);
    while (q.Step()) ids.push_back(q.Text(0));
    auto u = db_->Prepare("UPDATE nodes SET state = 'down' WHERE state IN ('up', 'draining') AND last_heartbeat < ?");
    u.Bind(1, before).Run();
    tx.Commit();
    return ids;
  });
}

Result<std::string> MetadataStore::SetNodeDraining(const std::string& node_id, bool draining) {
  return Locked([&]() -> Result<std::string> {
    // A node that is down stays down: draining only says what to do while it is alive.
    auto q = db_->Prepare(
        "UPDATE nodes SET draining = ?1, "
        "state = CASE WHEN state = 'down' THEN 'down' WHEN ?1 THEN 'draining' ELSE 'up' END "
        "WHERE node_id = ?2 RETURNING state");
    q.Bind(1, int64_t{draining ? 1 : 0}).Bind(2, node_id);
    if (!q.Step()) return Status::NotFound("no node " + node_id);
    return q.Text(0);
  });
}

Result<FileRecord> MetadataStore::GetFile(const std::string& path) {
  return Locked([&]() -> Result<FileRecord> {
    auto q = db_->Prepare(std::string("SELECT ") + kFileColumns + " FROM files WHERE path = ?");
    if (!q.Bind(1, path).Step()) return Status::NotFound("no file '" + path + "'");
    return ReadFileRow(q);
  });
}

Result<bool> MetadataStore::FileExists(const std::string& path) {
  return Locked([&]() -> Result<bool> {
    auto q = db_->Prepare("SELECT 1 FROM files WHERE path = ?");
    return q.Bind(1, path).Step();
  });
}

Result<std::vector<std::string>> MetadataStore::UnreferencedBlobs(const std::vector<std::string>& blob_ids) {
  return Locked([&]() -> Result<std::vector<std::string>> {
    std::vector<std::string> out;
    auto q = db_->Prepare("SELECT 1 FROM files WHERE blob_id = ?");
    for (const auto& id : blob_ids) {
      q.Reset();
      if (!q.Bind(1, id).Step()) out.push_back(id);
    }
    return out;
  });
}

Result<std::vector<FileRecord>> MetadataStore::ListFiles(const std::string& prefix) {
  return Locked([&]() -> Result<std::vector<FileRecord>> {
    std::vector<FileRecord> out;
    auto q = db_->Prepare(std::string("SELECT ") + kFileColumns + " FROM files WHERE " + Under("path", 1, 2) +
                          " ORDER BY path");
    const PrefixRange r = RangeOf(prefix);
    q.Bind(1, r.lo).Bind(2, r.hi);
    while (q.Step()) out.push_back(ReadFileRow(q));
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
  ins.Bind(5, static_cast<int64_t>(file.size)).Bind(6, file.md5).Bind(7, file.primary_node).Bind(8, file.version);
  ins.Bind(9, now).Run();
}
}  // namespace

Result<std::optional<KeyedPut>> MetadataStore::FindKeyedPut(const std::string& key) {
  return Locked([&]() -> Result<std::optional<KeyedPut>> { return ReadKeyedPut(*db_, key); });
}

Result<CommitResult> MetadataStore::CommitFile(FileRecord file, ConflictMode mode,
                                               const std::function<std::string(const std::string&)>& new_name,
                                               const std::string& request_id, const std::string& idempotency_key) {
  return Locked([&]() -> Result<CommitResult> {
    Transaction tx(*db_);
    CommitResult result;
    if (!idempotency_key.empty()) {
      result.earlier = ReadKeyedPut(*db_, idempotency_key);
      if (result.earlier) return result;
    }
    const std::string requested = file.path;
    Status ns = CheckNamespace(*db_, file.path);
    if (!ns.ok()) return ns;
    auto existing = db_->Prepare(std::string("SELECT ") + kFileColumns + " FROM files WHERE path = ?");
    bool exists = existing.Bind(1, file.path).Step();
    if (exists && mode == ConflictMode::kFail) return Status::AlreadyExists("'" + file.path + "' already exists");
    if (exists && mode == ConflictMode::kOverwrite) {
      FileRecord old = ReadFileRow(existing);
      QueueDeletionsOf(*db_, old.blob_id);
      file.version = old.version + 1;
      file.mode = old.mode;  // new content, same permissions (as writing a file does)
      auto u = db_->Prepare(
          "UPDATE files SET size = ?, md5 = ?, mtime = ?, mode = ?, blob_id = ?, primary_node = ?, version = ?, "
          "want_copies = ? WHERE path = ?");
      u.Bind(1, static_cast<int64_t>(file.size)).Bind(2, file.md5).Bind(3, file.mtime).Bind(4, int64_t{file.mode});
      u.Bind(5, file.blob_id).Bind(6, file.primary_node).Bind(7, file.version).Bind(8, int64_t{file.want_copies});
      u.Bind(9, file.path).Run();
    } else {
      // Insert under the UNIQUE path constraint; on a collision try a new
      // name. Atomic however many PUTs of one name race.
      for (int attempt = 0;; ++attempt) {
        if (attempt > 50) return Status::Internal("could not find a free name for '" + requested + "'");
        if (attempt > 0) {
          file.path = new_name(requested);
          result.renamed = true;
          Status cns = CheckNamespace(*db_, file.path);
          if (!cns.ok()) continue;
        } else if (exists) {
          continue;
        }
        auto ins = db_->Prepare(std::string("INSERT OR IGNORE INTO files (") + kFileColumns +
                                ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
        ins.Bind(1, file.path).Bind(2, static_cast<int64_t>(file.size)).Bind(3, file.md5).Bind(4, file.mtime);
        ins.Bind(5, int64_t{file.mode}).Bind(6, file.blob_id).Bind(7, file.primary_node).Bind(8, file.version);
        ins.Bind(9, int64_t{file.want_copies}).Run();
        if (db_->Changes() == 1) break;
      }
    }
    auto rep = db_->Prepare("INSERT OR REPLACE INTO replicas (blob_id, node_id, state, created_at) VALUES (?, ?, 'ok', ?)");
    rep.Bind(1, file.blob_id).Bind(2, file.primary_node).Bind(3, NowSeconds()).Run();
    InsertReplicationJob(*db_, file, request_id);
    if (!idempotency_key.empty()) RecordKeyedPut(*db_, idempotency_key, requested, file, result.renamed);
    tx.Commit();
    result.file = std::move(file);
    return result;
  });
}

Result<FileRecord> MetadataStore::DeleteFile(const std::string& path) {
  return Locked([&]() -> Result<FileRecord> {
    Transaction tx(*db_);
    auto q = db_->Prepare(std::string("SELECT ") + kFileColumns + " FROM files WHERE path = ?");
    if (!q.Bind(1, path).Step()) return Status::NotFound("no file '" + path + "'");
    FileRecord f = ReadFileRow(q);
    db_->Prepare("DELETE FROM files WHERE path = ?").Bind(1, path).Run();
    QueueDeletionsOf(*db_, f.blob_id);
    // Its folders stay, even when this file was all that implied them (POSIX).
    for (std::string p = ParentPath(path); !p.empty(); p = ParentPath(p)) {
      db_->Prepare("INSERT OR IGNORE INTO dirs (path, mode, mtime) VALUES (?, 493, ?)").Bind(1, p).Bind(2, NowSeconds()).Run();
    }
    tx.Commit();
    return f;
  });
}

Result<std::vector<ReplicaRecord>> MetadataStore::GetReplicas(const std::string& blob_id) {
  return Locked([&]() -> Result<std::vector<ReplicaRecord>> {
    std::vector<ReplicaRecord> out;
    auto q = db_->Prepare(
        "SELECT r.blob_id, r.node_id, r.state, COALESCE(n.url, ''), COALESCE(n.state, 'down') FROM replicas r "
        "LEFT JOIN nodes n ON n.node_id = r.node_id WHERE r.blob_id = ? ORDER BY r.created_at");
    q.Bind(1, blob_id);
    while (q.Step()) out.push_back({q.Text(0), q.Text(1), q.Text(2), q.Text(3), q.Text(4)});
    return out;
  });
}

Status MetadataStore::MarkReplicaBad(const std::string& blob_id, const std::string& node_id) {
  return Locked([&]() -> Status {
    Transaction tx(*db_);
    db_->Prepare("UPDATE replicas SET state = 'bad' WHERE blob_id = ? AND node_id = ? AND state = 'ok'")
        .Bind(1, blob_id)
        .Bind(2, node_id)
        .Run();
    if (db_->Changes() == 0) return Status::OK();  // already known
    // The bad copy stays listed (so it is never chosen as a source) until a
    // good copy is written over it; the job makes that happen.
    if (auto file = FileOfBlob(*db_, blob_id)) InsertReplicationJob(*db_, *file);
    tx.Commit();
    return Status::OK();
  });
}

Result<BlobRecord> MetadataStore::GetBlob(const std::string& blob_id) {
  return Locked([&]() -> Result<BlobRecord> {
    auto file = FileOfBlob(*db_, blob_id);
    if (!file) return Status::NotFound("no file refers to blob " + blob_id);
    BlobRecord out{*file, {}};
    auto q = db_->Prepare(
        "SELECT r.blob_id, r.node_id, r.state, COALESCE(n.url, ''), COALESCE(n.state, 'down') FROM replicas r "
        "LEFT JOIN nodes n ON n.node_id = r.node_id WHERE r.blob_id = ? ORDER BY r.created_at");
    q.Bind(1, blob_id);
    while (q.Step()) out.holders.push_back({q.Text(0), q.Text(1), q.Text(2), q.Text(3), q.Text(4)});
    return out;
  });
}

Status MetadataStore::AddReplica(const std::string& blob_id, const std::string& node_id, const std::string& md5) {
  return Locked([&]() -> Status {
    Transaction tx(*db_);
    auto node = db_->Prepare("SELECT 1 FROM nodes WHERE node_id = ?");
    if (!node.Bind(1, node_id).Step()) return Status::InvalidArgument("no node " + node_id);
    auto file = FileOfBlob(*db_, blob_id);
    if (!file) {
      // Deleted or overwritten while the copy was made: the copy is garbage.
      db_->Prepare("INSERT OR IGNORE INTO blob_deletions (blob_id, node_id) VALUES (?, ?)")
          .Bind(1, blob_id)
          .Bind(2, node_id)
          .Run();
      tx.Commit();
      return Status::NotFound("no file refers to blob " + blob_id);
    }
    if (file->md5 != md5) return Status::ChecksumMismatch("copy md5 " + md5 + " is not the file's " + file->md5);
    db_->Prepare(
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
    "(SELECT COUNT(*) FROM replicas r JOIN nodes n ON n.node_id = r.node_id WHERE r.blob_id = f.blob_id "
    "AND r.state = 'ok' AND (n.state = 'up' OR (n.state = 'down' AND n.last_heartbeat >= :dead_before)))";

Result<int> MetadataStore::QueueUnderReplicated(double dead_before, double retry_after_s, int limit) {
  return Locked([&]() -> Result<int> {
    Transaction tx(*db_);
    auto q = db_->Prepare(std::string("SELECT ") + kFileColumns + " FROM files f WHERE " + kGoodCopies +
                          " < MIN(f.want_copies, (SELECT COUNT(*) FROM nodes WHERE state = 'up')) "
                          // Back off per file: retry_after, then 2x, 4x ... 64x, counted in the
                          // jobs of the last hour (older ones are pruned), so a file that cannot
                          // be healed does not flood the queue and the dead letters.
                          "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.blob_id = f.blob_id AND o.created_at >= "
                          ":now - :retry * (1 << MIN(6, (SELECT COUNT(*) FROM outbox c WHERE c.blob_id = f.blob_id) - 1))) "
                          "LIMIT :limit");
    q.Bind(1, dead_before).Bind(2, NowSeconds()).Bind(3, retry_after_s).Bind(4, int64_t{limit});
    std::vector<FileRecord> files;
    while (q.Step()) files.push_back(ReadFileRow(q));
    for (const auto& f : files) InsertReplicationJob(*db_, f);
    tx.Commit();
    return static_cast<int>(files.size());
  });
}

Result<ReplicationCounts> MetadataStore::CountReplication(double dead_before) {
  return Locked([&]() -> Result<ReplicationCounts> {
    ReplicationCounts c;
    auto under = db_->Prepare(std::string("SELECT COUNT(*) FROM files f WHERE ") + kGoodCopies + " < f.want_copies");
    under.Bind(1, dead_before).Step();
    c.under_replicated = static_cast<uint64_t>(under.Int(0));
    auto outbox = db_->Prepare("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL");
    outbox.Step();
    c.unpublished_jobs = static_cast<uint64_t>(outbox.Int(0));
    return c;
  });
}

Status MetadataStore::PruneOutbox(double published_before) {
  return Locked([&]() -> Status {
    db_->Prepare("DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < ?")
        .Bind(1, published_before)
        .Run();
    return Status::OK();
  });
}

Result<std::vector<PendingDeletion>> MetadataStore::PendingDeletions(int limit) {
  return Locked([&]() -> Result<std::vector<PendingDeletion>> {
    std::vector<PendingDeletion> out;
    auto q = db_->Prepare(
        "SELECT d.blob_id, d.node_id, COALESCE(n.url, ''), d.attempts FROM blob_deletions d "
        "LEFT JOIN nodes n ON n.node_id = d.node_id WHERE d.next_attempt <= ? LIMIT ?");
    q.Bind(1, NowSeconds()).Bind(2, int64_t{limit});
    while (q.Step()) out.push_back({q.Text(0), q.Text(1), q.Text(2), static_cast<int>(q.Int(3))});
    return out;
  });
}

Status MetadataStore::DeletionDone(const std::string& blob_id, const std::string& node_id) {
  return Locked([&]() -> Status {
    db_->Prepare("DELETE FROM blob_deletions WHERE blob_id = ? AND node_id = ?").Bind(1, blob_id).Bind(2, node_id).Run();
    return Status::OK();
  });
}

Status MetadataStore::DeletionFailed(const std::string& blob_id, const std::string& node_id) {
  return Locked([&]() -> Status {
    // Back off: 1 s, 2 s, 4 s ... capped at 5 minutes. Never given up: a node
    // that comes back still gets its garbage removed.
    db_->Prepare(
           "UPDATE blob_deletions SET attempts = attempts + 1, "
           "next_attempt = ? + MIN(300, (1 << MIN(attempts, 9))) WHERE blob_id = ? AND node_id = ?")
        .Bind(1, NowSeconds())
        .Bind(2, blob_id)
        .Bind(3, node_id)
        .Run();
    return Status::OK();
  });
}

Result<std::vector<OutboxJob>> MetadataStore::UnpublishedJobs(int limit) {
  return Locked([&]() -> Result<std::vector<OutboxJob>> {
    std::vector<OutboxJob> out;
    auto q = db_->Prepare("SELECT id, blob_id, payload FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT ?");
    q.Bind(1, int64_t{limit});
    while (q.Step()) out.push_back({q.Int(0), q.Text(1), q.Text(2)});
    return out;
  });
}

Status MetadataStore::MarkJobPublished(int64_t id) {
  return Locked([&]() -> Status {
    db_->Prepare("UPDATE outbox SET published_at = ? WHERE id = ?").Bind(1, NowSeconds()).Bind(2, id).Run();
    return Status::OK();
  });
}

Result<MetadataStore::Counts> MetadataStore::CountFiles() {
  return Locked([&]() -> Result<Counts> {
    auto q = db_->Prepare("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM files");
    q.Step();
    return Counts{static_cast<uint64_t>(q.Int(0)), static_cast<uint64_t>(q.Int(1))};
  });
}

}  // namespace dfs::master
