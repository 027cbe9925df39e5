// The inode tree's SQL (metadata_sql.h): resolving paths by walking
// entries, adding and dropping links, reading file rows. Every function runs
// inside the caller's transaction.
#include <algorithm>
#include <chrono>

#include <nlohmann/json.hpp>

#include "common/http_util.h"
#include "common/path.h"
#include "master/sql/tree.h"

#include "replicator/replication_job.h"

namespace dfs::master {

namespace sql {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* const kInodeColumns =
    "i.ino, i.type, i.mode, i.uid, i.gid, i.nlink, i.size, i.atime_ns, i.mtime_ns, i.ctime_ns, i.rdev, i.target";

Inode ReadInodeRow(const Statement& s, int c) {
  Inode i;
  i.ino = s.Int(c + 0);
  i.type = InodeTypeFromString(s.Text(c + 1)).value_or(InodeType::kFile);
  i.mode = static_cast<int>(s.Int(c + 2));
  i.uid = s.Int(c + 3);
  i.gid = s.Int(c + 4);
  i.nlink = s.Int(c + 5);
  i.size = static_cast<uint64_t>(s.Int(c + 6));
  i.atime_ns = s.Int(c + 7);
  i.mtime_ns = s.Int(c + 8);
  i.ctime_ns = s.Int(c + 9);
  i.rdev = s.Int(c + 10);
  i.target = s.Blob(c + 11);
  return i;
}

std::optional<Inode> GetInode(Database& db, int64_t ino) {
  auto q = db.Prepare(std::string("SELECT ") + kInodeColumns + " FROM inodes i WHERE i.ino = ?");
  if (!q.Bind(1, ino).Step()) return std::nullopt;
  return ReadInodeRow(q);
}

int64_t InsertInode(Database& db, const Inode& n) {
  auto q = db.Prepare(
      "INSERT INTO inodes (type, mode, uid, gid, nlink, size, atime_ns, mtime_ns, ctime_ns, rdev, target) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ino");
  q.Bind(1, ToString(n.type)).Bind(2, int64_t{n.mode & 07777}).Bind(3, n.uid).Bind(4, n.gid).Bind(5, n.nlink);
  q.Bind(6, static_cast<int64_t>(n.size)).Bind(7, n.atime_ns).Bind(8, n.mtime_ns).Bind(9, n.ctime_ns);
  q.Bind(10, n.rdev);
  if (n.type == InodeType::kSymlink) {
    q.BindBlob(11, n.target);
  } else {
    q.BindNull(11);
  }
  q.Step();
  int64_t ino = q.Int(0);
  q.Reset();  // finishes the statement (RETURNING rows are produced as it runs)
  return ino;
}

std::optional<int64_t> Lookup(Database& db, int64_t parent, std::string_view name) {
  auto q = db.Prepare("SELECT ino FROM entries WHERE parent = ? AND name = ?");
  if (!q.Bind(1, parent).BindBlob(2, name).Step()) return std::nullopt;
  return q.Int(0);
}

namespace {

bool IsDirInode(Database& db, int64_t ino) {
  auto q = db.Prepare("SELECT 1 FROM inodes WHERE ino = ? AND type = 'dir'");
  return q.Bind(1, ino).Step();
}

// Walks `names` from the root; `made` (when set) is the folder to make
// where one is missing. With `who`, every folder passed through must be
// searchable, and one made needs write permission where it goes.
Result<int64_t> Walk(Database& db, const std::vector<std::string>& names, const std::string& path,
                     const Inode* made, const Credentials* who) {
  int64_t at = kRootIno;
  std::string walked;
  for (const auto& name : names) {
    auto dir = GetInode(db, at);
    if (!dir) return Status::NotFound("no directory '" + walked + "'");
    if (Status st = CheckAccess(*dir, who, kMayExec); !st.ok()) return st;
    if (!walked.empty()) walked += '/';
    walked += name;
    auto next = Lookup(db, at, name);
    if (!next && made) {
      LockInodes(db, {at});
      next = Lookup(db, at, name);  // made meanwhile by a transaction that held the lock
    }
    if (!next && made) {
      if (Status st = CheckAccess(*dir, who, kMayWrite); !st.ok()) return st;
      Inode fresh = *made;
      SetNewOwner(fresh, *dir, who);
      if (dir->mode & 02000) fresh.mode |= 02000;  // setgid folders pass it on
      const int64_t ino = InsertInode(db, fresh);
      AddEntry(db, at, name, ino, true);
      next = ino;
    }
    if (!next) return Status::NotFound("no file or directory '" + walked + "'");
    if (!IsDirInode(db, *next)) {
      if (walked == path) return *next;  // the last component may be anything
      return Status::NotDirectory("'" + walked + "' is not a directory");
    }
    at = *next;
  }
  return at;
}

}  // namespace

Status CheckAccess(const Inode& inode, const Credentials* who, int want) {
  if (!who) return Status::OK();
  if (MayAccess(*who, static_cast<uint32_t>(inode.uid), static_cast<uint32_t>(inode.gid), inode.mode,
                inode.type == InodeType::kDir, want)) {
    return Status::OK();
  }
  return Status::AccessDenied("permission denied");
}

Status CheckRemove(const Inode& dir, const Inode& child, const Credentials* who) {
  if (Status st = CheckAccess(dir, who, kMayWrite | kMayExec); !st.ok()) return st;
  if (who && !MayRemove(*who, static_cast<uint32_t>(dir.uid), static_cast<uint32_t>(dir.gid), dir.mode,
                        static_cast<uint32_t>(child.uid))) {
    return Status::NotPermitted("the folder is sticky: only the owner may remove or rename this");
  }
  return Status::OK();
}

void SetNewOwner(Inode& inode, const Inode& dir, const Credentials* who) {
  inode.uid = who ? who->uid : 0;
  inode.gid = (dir.mode & 02000) ? dir.gid : (who ? who->gid : 0);
}

Result<int64_t> Resolve(Database& db, const std::string& path, const Credentials* who) {
  if (path.empty()) return kRootIno;
  return Walk(db, SplitPath(path), path, nullptr, who);
}

void LockInodes(Database& db, std::vector<int64_t> inos) {
  if (db.dialect() != Dialect::kPostgres) return;
  std::sort(inos.begin(), inos.end());
  inos.erase(std::unique(inos.begin(), inos.end()), inos.end());
  auto q = db.Prepare("SELECT ino FROM inodes WHERE ino = ? FOR UPDATE");
  for (int64_t ino : inos) {
    q.Reset();
    q.Bind(1, ino).Run();
  }
}

void LockRenames(Database& db) {
  constexpr int64_t kRenameLock = 0x72656e616d65;  // "rename"
  if (db.dialect() == Dialect::kPostgres) db.Prepare("SELECT pg_advisory_xact_lock(?)").Bind(1, kRenameLock).Run();
}

Result<ParentAndName> ResolveParent(Database& db, const std::string& path, const Credentials* who) {
  const std::string parent = ParentPath(path);
  auto dir = Resolve(db, parent, who);
  if (!dir.ok()) return dir.status();
  LockInodes(db, {*dir});
  if (!IsDirInode(db, *dir)) return Status::NotDirectory("'" + parent + "' is not a directory");
  return ParentAndName{*dir, BaseName(path)};
}

Result<ParentAndName> MakeParents(Database& db, const std::string& path, const Credentials* who) {
  const std::string parent = ParentPath(path);
  if (!parent.empty()) {
    const int64_t now = NowNs();
    Inode dir;
    dir.type = InodeType::kDir;
    dir.mode = 0755;
    dir.nlink = 2;
    dir.atime_ns = dir.mtime_ns = dir.ctime_ns = now;
    auto walked = Walk(db, SplitPath(parent), parent, &dir, who);
    if (!walked.ok()) return walked.status();
    if (!IsDirInode(db, *walked)) return Status::NotDirectory("'" + parent + "' is not a directory");
  }
  return ResolveParent(db, path, who);
}

std::optional<std::string> PathOf(Database& db, int64_t ino) {
  std::vector<std::string> names;
  auto up = db.Prepare("SELECT parent, name FROM entries WHERE ino = ? LIMIT 1");
  // A tree has no cycles (rename refuses a folder into itself); the bound
  // only guards against a damaged database.
  for (int depth = 0; ino != kRootIno; ++depth) {
    if (depth > static_cast<int>(kMaxPathBytes / 2)) return std::nullopt;
    up.Reset();
    if (!up.Bind(1, ino).Step()) return std::nullopt;
    names.push_back(up.Blob(1));
    ino = up.Int(0);
  }
  std::string path;
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    if (!path.empty()) path += '/';
    path += *it;
  }
  return path;
}

void TouchDir(Database& db, int64_t ino, int64_t now_ns) {
  db.Prepare("UPDATE inodes SET mtime_ns = ?1, ctime_ns = ?1 WHERE ino = ?2").Bind(1, now_ns).Bind(2, ino).Run();
}

bool AddEntry(Database& db, int64_t parent, std::string_view name, int64_t ino, bool child_is_dir) {
  // The (parent, name) key decides: of two racing creates one inserts.
  auto q = db.Prepare("INSERT INTO entries (parent, name, ino) VALUES (?, ?, ?) ON CONFLICT DO NOTHING");
  q.Bind(1, parent).BindBlob(2, name).Bind(3, ino).Run();
  if (db.Changes() == 0) return false;
  TouchDir(db, parent, NowNs());
  if (child_is_dir) db.Prepare("UPDATE inodes SET nlink = nlink + 1 WHERE ino = ?").Bind(1, parent).Run();
  return true;
}

void RemoveEntry(Database& db, int64_t parent, std::string_view name, bool child_is_dir) {
  db.Prepare("DELETE FROM entries WHERE parent = ? AND name = ?").Bind(1, parent).BindBlob(2, name).Run();
  TouchDir(db, parent, NowNs());
  if (child_is_dir) db.Prepare("UPDATE inodes SET nlink = nlink - 1 WHERE ino = ?").Bind(1, parent).Run();
}

void DropLink(Database& db, int64_t ino) {
  auto q = db.Prepare(
      "UPDATE inodes SET nlink = CASE WHEN type = 'dir' THEN 0 ELSE nlink - 1 END, ctime_ns = ? WHERE ino = ? "
      "RETURNING nlink");
  q.Bind(1, NowNs()).Bind(2, ino);
  if (!q.Step()) return;
  const int64_t left = q.Int(0);
  q.Reset();
  if (left == 0) PurgeIfUnused(db, ino);
}

bool IsOpen(Database& db, int64_t ino) {
  return db.Prepare("SELECT 1 FROM open_handles WHERE ino = ? AND expires_at > ? LIMIT 1")
      .Bind(1, ino)
      .Bind(2, NowSeconds())
      .Step();
}

bool PurgeIfUnused(Database& db, int64_t ino) {
  {
    auto q = db.Prepare("SELECT nlink FROM inodes WHERE ino = ?");
    if (!q.Bind(1, ino).Step() || q.Int(0) > 0) return false;
  }
  if (IsOpen(db, ino)) return false;  // kept, nameless, until its last handle closes or expires
  db.Prepare("DELETE FROM open_handles WHERE ino = ?").Bind(1, ino).Run();
  auto size = db.Prepare("SELECT i.size FROM contents c JOIN inodes i ON i.ino = c.ino WHERE c.ino = ?");
  if (size.Bind(1, ino).Step()) {
    AddToCounters(db, -1, -size.Int(0));
    size.Reset();
    DropChunks(db, ino);
    db.Prepare("DELETE FROM contents WHERE ino = ?").Bind(1, ino).Run();
  }
  db.Prepare("DELETE FROM inodes WHERE ino = ?").Bind(1, ino).Run();
  return true;
}

const char* const kFileColumns = "i.ino, i.size, c.md5, i.mtime_ns, i.mode, c.version, c.want_copies";
const char* const kFileFrom = "inodes i JOIN contents c ON c.ino = i.ino";

FileRecord ReadFileRow(const Statement& s, int c) {
  FileRecord f;
  f.ino = s.Int(c + 0);
  f.size = static_cast<uint64_t>(s.Int(c + 1));
  f.md5 = s.Text(c + 2);
  f.mtime = NsToSeconds(s.Int(c + 3));
  f.mode = static_cast<int>(s.Int(c + 4));
  f.version = s.Int(c + 5);
  f.want_copies = static_cast<int>(s.Int(c + 6));
  return f;
}

const char* const kChunkColumns = "ch.idx, ch.\"offset\", ch.size, ch.md5, ch.blob_id, ch.primary_node";

ChunkRecord ReadChunkRow(const Statement& s, int c) {
  return {s.Int(c + 0), static_cast<uint64_t>(s.Int(c + 1)), static_cast<uint64_t>(s.Int(c + 2)), s.Text(c + 3),
          s.Text(c + 4), s.Text(c + 5)};
}

std::vector<ChunkRecord> ChunksOf(Database& db, int64_t ino) {
  std::vector<ChunkRecord> out;
  auto q = db.Prepare(std::string("SELECT ") + kChunkColumns + " FROM chunks ch WHERE ch.ino = ? ORDER BY ch.idx");
  q.Bind(1, ino);
  while (q.Step()) out.push_back(ReadChunkRow(q));
  return out;
}

void InsertChunks(Database& db, int64_t ino, const std::vector<ChunkRecord>& chunks) {
  auto q = db.Prepare(
      "INSERT INTO chunks (ino, idx, \"offset\", size, md5, blob_id, primary_node) VALUES (?, ?, ?, ?, ?, ?, ?)");
  for (const auto& c : chunks) {
    q.Reset();
    q.Bind(1, ino).Bind(2, c.index).Bind(3, static_cast<int64_t>(c.offset)).Bind(4, static_cast<int64_t>(c.size));
    q.Bind(5, c.md5).Bind(6, c.blob_id).Bind(7, c.primary_node).Run();
    Watch(db, c.blob_id);  // one copy so far
  }
}

void DropChunks(Database& db, int64_t ino) {
  for (const auto& c : ChunksOf(db, ino)) {
    QueueDeletionsOf(db, c.blob_id);
    Unwatch(db, c.blob_id);
  }
  db.Prepare("DELETE FROM chunks WHERE ino = ?").Bind(1, ino).Run();
}

std::optional<FileRecord> FileOfInode(Database& db, int64_t ino) {
  auto q = db.Prepare(std::string("SELECT ") + kFileColumns + " FROM " + kFileFrom + " WHERE i.ino = ?");
  if (!q.Bind(1, ino).Step()) return std::nullopt;
  FileRecord f = ReadFileRow(q);
  q.Reset();
  f.chunks = ChunksOf(db, ino);
  return f;
}

std::optional<BlobOwner> OwnerOfBlob(Database& db, const std::string& blob_id) {
  auto q = db.Prepare(std::string("SELECT ") + kChunkColumns + ", " + kFileColumns +
                      " FROM chunks ch JOIN inodes i ON i.ino = ch.ino JOIN contents c ON c.ino = ch.ino "
                      "WHERE ch.blob_id = ?");
  if (!q.Bind(1, blob_id).Step()) return std::nullopt;
  BlobOwner owner{ReadChunkRow(q), ReadFileRow(q, 6)};
  q.Reset();
  owner.file.path = PathOf(db, owner.file.ino).value_or("");
  return owner;
}

void Watch(Database& db, const std::string& blob_id) {
  db.Prepare("INSERT INTO heal_watch (blob_id) VALUES (?) ON CONFLICT DO NOTHING").Bind(1, blob_id).Run();
}

void Unwatch(Database& db, const std::string& blob_id) {
  db.Prepare("DELETE FROM heal_watch WHERE blob_id = ?").Bind(1, blob_id).Run();
}

void WatchBlobsOn(Database& db, const std::string& node_id) {
  db.Prepare("INSERT INTO heal_watch (blob_id) SELECT blob_id FROM replicas WHERE node_id = ? ON CONFLICT DO NOTHING")
      .Bind(1, node_id)
      .Run();
}

void AddToCounters(Database& db, int64_t files, int64_t bytes) {
  auto q = db.Prepare("UPDATE counters SET value = value + ? WHERE name = ?");
  q.Bind(1, files).Bind(2, "files").Run();
  q.Reset();
  q.Bind(1, bytes).Bind(2, "bytes").Run();
}

void QueueDeletionsOf(Database& db, const std::string& blob_id) {
  auto q = db.Prepare(
      "INSERT INTO blob_deletions (blob_id, node_id) SELECT blob_id, node_id FROM replicas WHERE blob_id = ? "
      "ON CONFLICT DO NOTHING");
  q.Bind(1, blob_id).Run();
  db.Prepare("DELETE FROM replicas WHERE blob_id = ?").Bind(1, blob_id).Run();
}

// Queues a replication job for the file's blob (the outbox): committed with
// the change that needs it, published to Redis later, never lost.
void InsertReplicationJob(Database& db, const ChunkRecord& chunk, int want_copies, const std::string& job_id,
                          const std::string& source_node_id) {
  replication::ReplicationJob job;
  job.job_id = job_id.empty() ? RandomHex(8) : job_id;
  job.blob_id = chunk.blob_id;
  job.md5 = chunk.md5;
  job.size = chunk.size;
  job.want_copies = want_copies;
  job.created_at = NowSeconds();
  if (!source_node_id.empty()) {
    auto url = db.Prepare("SELECT url FROM nodes WHERE node_id = ?");
    if (url.Bind(1, source_node_id).Step()) {
      job.source_node_id = source_node_id;
      job.source_url = url.Text(0);
    }
  }
  auto out = db.Prepare("INSERT INTO outbox (blob_id, payload, created_at) VALUES (?, ?, ?)");
  out.Bind(1, chunk.blob_id).Bind(2, job.ToJson()).Bind(3, job.created_at).Run();
}

PrefixRange RangeOf(std::string_view prefix) {
  std::string hi(prefix);
  while (!hi.empty() && static_cast<unsigned char>(hi.back()) == 0xFF) hi.pop_back();
  if (hi.empty()) return {std::string(prefix), std::nullopt};
  hi.back() = static_cast<char>(static_cast<unsigned char>(hi.back()) + 1);
  return {std::string(prefix), hi};
}

}  // namespace sql
}  // namespace dfs::master
