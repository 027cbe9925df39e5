// The master database's schema and its migrations, run in one transaction
// when the store opens: a new database gets the current schema, an older
// one is migrated in place (a failed migration leaves it as it was).
//   1 -> 2: nodes.draining (version 1 kept draining in state only).
//   2 -> 3: the namespace becomes inodes + entries + contents; the path
//           tables files and dirs are read into it and dropped.
//   3 -> 4: heal_watch (the blobs that may lack copies, so healing and the
//           counts do not scan every file) and counters (files, bytes).
//   4 -> 5: open_handles (an unlinked file stays while a client has it open).
//   5 -> 6: a file's content is a list of chunks: each contents row's blob
//           becomes the file's one chunk; contents keeps the whole-file md5.
//   6 -> 7: leases (which master runs each background task).
//   7 -> 8: compact_watch (files with appended chunks to merge).
#include "master/sql/schema.h"

#include <map>

#include "common/log.h"
#include "common/path.h"
#include "master/sql/tree.h"

namespace dfs::master {
namespace {

constexpr int kSchemaVersion = 8;

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
-- One row per file, folder, symlink and special file. mode holds the
-- permission bits only (type says the rest); times are ns since the epoch.
CREATE TABLE IF NOT EXISTS inodes (
  ino INTEGER PRIMARY KEY,
  type TEXT NOT NULL CHECK (type IN ('file','dir','symlink','fifo','socket','char','block')),
  mode INTEGER NOT NULL CHECK (mode BETWEEN 0 AND 4095),
  uid INTEGER NOT NULL DEFAULT 0,
  gid INTEGER NOT NULL DEFAULT 0,
  nlink INTEGER NOT NULL DEFAULT 1 CHECK (nlink >= 0),
  size INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),
  atime_ns INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  ctime_ns INTEGER NOT NULL,
  rdev INTEGER NOT NULL DEFAULT 0,
  target BLOB  -- a symlink's target
);
-- A name in a folder. Names are bytes, compared as bytes.
CREATE TABLE IF NOT EXISTS entries (
  parent INTEGER NOT NULL REFERENCES inodes (ino),
  name BLOB NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
  ino INTEGER NOT NULL REFERENCES inodes (ino),
  PRIMARY KEY (parent, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_by_ino ON entries (ino);
-- A regular file's content: md5 of the whole file, its version, how many
-- copies each chunk wants. Exactly one row per regular file.
CREATE TABLE IF NOT EXISTS contents (
  ino INTEGER PRIMARY KEY REFERENCES inodes (ino),
  md5 TEXT NOT NULL,
  version INTEGER NOT NULL DEFAULT 1,
  want_copies INTEGER NOT NULL DEFAULT 3
);
-- Files whose md5 is pending (after a range write; see docs/chunks.md).
CREATE INDEX IF NOT EXISTS contents_md5_pending ON contents (ino) WHERE md5 = '';
-- The file's bytes [offset, offset + size) as one blob on the nodes
-- (replicas lists its copies). idx 0, 1, ... contiguous from offset 0.
CREATE TABLE IF NOT EXISTS chunks (
  ino INTEGER NOT NULL REFERENCES inodes (ino),
  idx INTEGER NOT NULL CHECK (idx >= 0),
  offset INTEGER NOT NULL CHECK (offset >= 0),
  size INTEGER NOT NULL CHECK (size >= 0),
  md5 TEXT NOT NULL,
  blob_id TEXT NOT NULL UNIQUE,
  primary_node TEXT NOT NULL,
  PRIMARY KEY (ino, idx)
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
-- Every blob that may have fewer good copies than it wants: added when a file
-- is written, a copy goes bad, a holder goes down or drains; removed by the
-- heal pass once the blob has its copies (or its file is gone).
CREATE TABLE IF NOT EXISTS heal_watch (
  blob_id TEXT PRIMARY KEY,
  checked_at REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS heal_watch_order ON heal_watch (checked_at);
-- A file open in a client (a mount): while one lives (expires_at is in the
-- future; clients renew), the file's inode and content stay after its last
-- name goes (nlink 0, no entry), as POSIX keeps an unlinked open file.
CREATE TABLE IF NOT EXISTS open_handles (
  handle TEXT PRIMARY KEY,
  ino INTEGER NOT NULL REFERENCES inodes (ino),
  opened_at REAL NOT NULL,
  expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS open_handles_ino ON open_handles (ino);
CREATE INDEX IF NOT EXISTS open_handles_expiry ON open_handles (expires_at);
-- A file that got a new last chunk by an append (CommitChunk): once it is
-- quiet the compaction pass merges its small chunks and drops the note.
CREATE TABLE IF NOT EXISTS compact_watch (
  ino INTEGER PRIMARY KEY,
  noted_at REAL NOT NULL
);
-- Background work one master does at a time (healing, deletions, ...): the
-- master holding a task's lease until expires_at runs it; it renews the
-- lease each time, and another master takes it once it lapses.
CREATE TABLE IF NOT EXISTS leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at REAL NOT NULL
);
-- Running totals kept by the transactions that change them ('files', 'bytes').
CREATE TABLE IF NOT EXISTS counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
)sql";

void InsertRoot(Database& db) {
  const int64_t now = sql::NowNs();
  db.Prepare(
        "INSERT INTO inodes (ino, type, mode, nlink, atime_ns, mtime_ns, ctime_ns) "
        "VALUES (?1, 'dir', 493, 2, ?2, ?2, ?2) ON CONFLICT DO NOTHING")
      .Bind(1, kRootIno)
      .Bind(2, now)
      .Run();
}

bool TableExists(Database& db, const char* name) {
  return db.Prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").Bind(1, name).Step();
}

bool ColumnExists(Database& db, const char* table, const char* column) {
  return db.Prepare("SELECT 1 FROM pragma_table_info(?) WHERE name = ?").Bind(1, table).Bind(2, column).Step();
}

// Version 5 kept one blob per file in contents (blob_id, primary_node):
// each becomes the file's one chunk, of the file's size and md5, and
// contents is rebuilt without those columns. No blob moves.
void SplitContentsIntoChunks(Database& db) {
  db.Exec(
      "INSERT INTO chunks (ino, idx, offset, size, md5, blob_id, primary_node) "
      "SELECT c.ino, 0, 0, i.size, c.md5, c.blob_id, c.primary_node FROM contents c JOIN inodes i ON i.ino = c.ino;"
      "CREATE TABLE contents_v6 (ino INTEGER PRIMARY KEY REFERENCES inodes (ino), md5 TEXT NOT NULL, "
      "  version INTEGER NOT NULL DEFAULT 1, want_copies INTEGER NOT NULL DEFAULT 3);"
      "INSERT INTO contents_v6 (ino, md5, version, want_copies) SELECT ino, md5, version, want_copies FROM contents;"
      "DROP TABLE contents;"
      "ALTER TABLE contents_v6 RENAME TO contents;"
      "CREATE INDEX IF NOT EXISTS contents_md5_pending ON contents (ino) WHERE md5 = '';");
  DFS_LOG(INFO, "master") << "migrated file contents to chunks (one per file)";
}

// Version 2 kept the namespace as paths: `files` (one row per file with its
// blob) and `dirs` (folders made explicitly; others were implied by the
// paths under them). Each becomes an inode with an entry in its folder.
class PathTableMigration {
 public:
  explicit PathTableMigration(Database& db) : db_(db) {}

  Status Run() {
    {
      auto dirs = db_.Prepare("SELECT path, mode, mtime FROM dirs ORDER BY length(path)");
      while (dirs.Step()) {
        auto made = Dir(dirs.Text(0), static_cast<int>(dirs.Int(1)), sql::SecondsToNs(dirs.Real(2)));
        if (!made.ok()) return made.status();
      }
    }
    auto files = db_.Prepare(
        "SELECT path, size, md5, mtime, mode, blob_id, primary_node, version, want_copies FROM files ORDER BY path");
    while (files.Step()) {
      const std::string path = files.Text(0);
      const int64_t mtime = sql::SecondsToNs(files.Real(3));
      auto parent = Dir(ParentPath(path), 0755, mtime);
      if (!parent.ok()) return parent.status();
      sql::Inode file;
      file.type = InodeType::kFile;
      file.mode = static_cast<int>(files.Int(4)) & 07777;
      file.size = static_cast<uint64_t>(files.Int(1));
      file.atime_ns = file.mtime_ns = file.ctime_ns = mtime;
      const int64_t ino = sql::InsertInode(db_, file);
      if (!Link(*parent, BaseName(path), ino)) {
        return Status::Internal("migration: '" + path + "' is both a file and a folder");
      }
      auto c = db_.Prepare("INSERT INTO contents (ino, md5, version, want_copies) VALUES (?, ?, ?, ?)");
      c.Bind(1, ino).Bind(2, files.Text(2)).Bind(3, files.Int(7)).Bind(4, files.Int(8)).Run();
      auto ch = db_.Prepare(
          "INSERT INTO chunks (ino, idx, offset, size, md5, blob_id, primary_node) VALUES (?, 0, 0, ?, ?, ?, ?)");
      ch.Bind(1, ino).Bind(2, files.Int(1)).Bind(3, files.Text(2)).Bind(4, files.Text(5)).Bind(5, files.Text(6)).Run();
      ++files_;
    }
    // A folder's link count: its own entry, its "." and each subfolder's "..".
    db_.Exec(
        "UPDATE inodes SET nlink = 2 + (SELECT COUNT(*) FROM entries e JOIN inodes c ON c.ino = e.ino "
        "WHERE e.parent = inodes.ino AND c.type = 'dir') WHERE type = 'dir'");
    db_.Exec("DROP TABLE files; DROP TABLE dirs;");
    DFS_LOG(INFO, "master") << "migrated the namespace to inodes: files=" << files_ << " folders=" << dirs_.size();
    return Status::OK();
  }

 private:
  // The folder at `path`, made (with its parents) when missing.
  Result<int64_t> Dir(const std::string& path, int mode, int64_t mtime_ns) {
    if (path.empty()) return kRootIno;
    if (auto it = dirs_.find(path); it != dirs_.end()) return it->second;
    auto parent = Dir(ParentPath(path), 0755, mtime_ns);
    if (!parent.ok()) return parent;
    sql::Inode dir;
    dir.type = InodeType::kDir;
    dir.mode = mode & 07777;
    dir.nlink = 2;
    dir.atime_ns = dir.mtime_ns = dir.ctime_ns = mtime_ns;
    const int64_t ino = sql::InsertInode(db_, dir);
    if (!Link(*parent, BaseName(path), ino)) {
      return Status::Internal("migration: '" + path + "' is both a file and a folder");
    }
    dirs_[path] = ino;
    return ino;
  }

  // Plain insert: the folders' times are the migrated ones, not now.
  bool Link(int64_t parent, const std::string& name, int64_t ino) {
    db_.Prepare("INSERT INTO entries (parent, name, ino) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
        .Bind(1, parent)
        .BindBlob(2, name)
        .Bind(3, ino)
        .Run();
    return db_.Changes() == 1;
  }

  Database& db_;
  std::map<std::string, int64_t> dirs_;
  uint64_t files_ = 0;
};

}  // namespace

Status CreateOrMigrateSqliteSchema(Database& db) {
  Transaction tx(db);
  int version = kSchemaVersion;
  const bool fresh = !TableExists(db, "schema_version");
  if (!fresh) {
    auto q = db.Prepare("SELECT version FROM schema_version");
    version = q.Step() ? static_cast<int>(q.Int(0)) : kSchemaVersion;
  }
  if (version > kSchemaVersion) {
    return Status::InvalidArgument("the metadata database has schema version " + std::to_string(version) +
                                   ", newer than this dfs-master's " + std::to_string(kSchemaVersion));
  }
  db.Exec(kSchema);
  InsertRoot(db);
  if (fresh) {
    db.Prepare("INSERT INTO schema_version (version) VALUES (?)").Bind(1, int64_t{kSchemaVersion}).Run();
  }
  if (version < 2) {
    db.Exec("ALTER TABLE nodes ADD COLUMN draining INTEGER NOT NULL DEFAULT 0;"
            "UPDATE nodes SET draining = 1 WHERE state = 'draining';");
  }
  if (version < 3 && TableExists(db, "files")) {
    if (Status st = PathTableMigration(db).Run(); !st.ok()) return st;
  }
  if (version < 6 && ColumnExists(db, "contents", "blob_id")) SplitContentsIntoChunks(db);
  if (version < 4 || fresh) {
    // Once, from what is there: every blob is checked by the next heal pass.
    db.Exec("INSERT INTO heal_watch (blob_id) SELECT blob_id FROM chunks WHERE true ON CONFLICT DO NOTHING");
    db.Exec("INSERT INTO counters (name, value) SELECT 'files', COUNT(*) FROM contents WHERE true "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value");
    db.Exec("INSERT INTO counters (name, value) SELECT 'bytes', COALESCE(SUM(i.size), 0) FROM contents c "
            "JOIN inodes i ON i.ino = c.ino WHERE true ON CONFLICT (name) DO UPDATE SET value = excluded.value");
  }
  db.Prepare("UPDATE schema_version SET version = ?").Bind(1, int64_t{kSchemaVersion}).Run();
  tx.Commit();
  return Status::OK();
}

}  // namespace dfs::master
