// SQL helpers shared by MetadataStore and NamespaceStore: the inode tree
// (resolving paths, adding and dropping links), file rows and replication
// jobs. Internal to master/: callers hold the store's lock inside a
// transaction (MetadataStore::WithTransaction), so a helper that checks and
// then changes does both atomically.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/credentials.h"
#include "common/status.h"
#include "master/metadata_store.h"
#include "master/sql/database.h"

namespace dfs::master::sql {

// Nanoseconds since the epoch, as inodes store times.
int64_t NowNs();
inline double NsToSeconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }
inline int64_t SecondsToNs(double s) { return static_cast<int64_t>(s * 1e9); }

// One inode row.
struct Inode {
  int64_t ino = 0;
  InodeType type = InodeType::kFile;
  int mode = 0644;  // permission bits (07777)
  int64_t uid = 0;
  int64_t gid = 0;
  int64_t nlink = 1;
  uint64_t size = 0;
  int64_t atime_ns = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  int64_t rdev = 0;
  std::string target;  // a symlink's target
};

// The columns ReadInodeRow expects, in order, from inodes aliased `i`.
extern const char* const kInodeColumns;
Inode ReadInodeRow(const Statement& s, int first_col = 0);
std::optional<Inode> GetInode(Database& db, int64_t ino);
// Inserts a new inode (ino chosen by the database); returns its number.
int64_t InsertInode(Database& db, const Inode& inode);

// Permission checks for `who`; nullptr (a request without credentials) is
// never refused. AccessDenied (EACCES) when the mode bits say no.
Status CheckAccess(const Inode& inode, const Credentials* who, int want);
// May `who` remove or rename `child` out of folder `dir`? Write and search
// on the folder, and in a sticky folder (01000) only the owner of the child
// or of the folder, or root (EACCES; EPERM for the sticky case, as Linux).
Status CheckRemove(const Inode& dir, const Inode& child, const Credentials* who);

// The inode `name` names in folder `parent`, if any.
std::optional<int64_t> Lookup(Database& db, int64_t parent, std::string_view name);
// Walks `path` ("" is the root) from the root. NotFound when a component
// is missing, NotDirectory when one above the last is not a folder.
// With `who`, each folder walked through must grant search (x) permission.
Result<int64_t> Resolve(Database& db, const std::string& path, const Credentials* who = nullptr);
// Row locks, for PostgreSQL at READ COMMITTED (SQLite's BEGIN IMMEDIATE
// already runs one writer at a time: both are no-ops there). LockInodes
// locks the inodes' rows FOR UPDATE in ino order, until the transaction
// ends; a transaction locks folders before what is in them, so two
// transactions on one folder queue instead of reading what the other is
// changing. LockRenames is the one lock a rename between two folders takes
// first (as Linux's s_vfs_rename_mutex), so no two such renames can make a
// cycle of folders or lock two folders in opposite orders.
void LockInodes(Database& db, std::vector<int64_t> inos);
void LockRenames(Database& db);

// The folder `path` is in and its last name: ("a/b", "c") for "a/b/c".
struct ParentAndName {
  int64_t parent = kRootIno;
  std::string name;
};
// Resolves the folder above `path` (NotFound / NotDirectory as Resolve,
// NotDirectory too when it is not a folder) and locks it (LockInodes): every
// caller is about to change what is in it.
Result<ParentAndName> ResolveParent(Database& db, const std::string& path, const Credentials* who = nullptr);
// As ResolveParent, making missing folders on the way (mkdir -p) with
// mode 0755, owned by `who` (root without): a PUT of a/b/c makes a and a/b.
// Making one needs write permission on the folder it goes in.
Result<ParentAndName> MakeParents(Database& db, const std::string& path, const Credentials* who = nullptr);
// The owner a new inode in folder `dir` gets: who's uid, and who's gid, or
// the folder's when it is setgid (02000), as Linux does.
void SetNewOwner(Inode& inode, const Inode& dir, const Credentials* who);
// A path that names `ino` ("" for the root), through any of its links;
// nullopt when it has none left.
std::optional<std::string> PathOf(Database& db, int64_t ino);

// Adds the entry (parent, name) -> ino unless the name is taken (then
// false, nothing changed). Updates the folder's times and, for a folder
// child, its link count; does not touch the child's nlink.
bool AddEntry(Database& db, int64_t parent, std::string_view name, int64_t ino, bool child_is_dir);
// Removes the entry (parent, name) and updates the folder as AddEntry.
void RemoveEntry(Database& db, int64_t parent, std::string_view name, bool child_is_dir);
// One link of `ino` went away: decrements nlink (a folder: to 0), and once
// no link is left purges it (PurgeIfUnused).
void DropLink(Database& db, int64_t ino);
// True while a client holds an unexpired handle on `ino`.
bool IsOpen(Database& db, int64_t ino);
// Deletes `ino` when it has no link and no open handle left: the inode,
// its content, its handles, and queues its blob's copies for deletion.
// False (nothing changed) while it is still linked or open.
bool PurgeIfUnused(Database& db, int64_t ino);
// Sets mtime and ctime of `ino` to now (a folder whose entries changed).
void TouchDir(Database& db, int64_t ino, int64_t now_ns);

// The columns ReadFileRow expects, in order: inodes `i` joined with contents `c`.
extern const char* const kFileColumns;
extern const char* const kFileFrom;  // "inodes i JOIN contents c ON c.ino = i.ino"
// Reads a file row starting at column first_col; `path` and `chunks` are left empty.
FileRecord ReadFileRow(const Statement& s, int first_col = 0);
// The columns ReadChunkRow expects, from chunks aliased `ch`.
extern const char* const kChunkColumns;
ChunkRecord ReadChunkRow(const Statement& s, int first_col = 0);
// A file's chunks in order.
std::vector<ChunkRecord> ChunksOf(Database& db, int64_t ino);
// Records the chunks of `ino` (each watched: it has one copy so far).
void InsertChunks(Database& db, int64_t ino, const std::vector<ChunkRecord>& chunks);
// Removes the chunks of `ino`, queueing every copy of each for deletion.
void DropChunks(Database& db, int64_t ino);
// The file at `ino` with its chunks (nullopt when it is not a regular file).
std::optional<FileRecord> FileOfInode(Database& db, int64_t ino);
// The chunk a blob holds and its file (with one of its paths; no chunk list).
struct BlobOwner {
  ChunkRecord chunk;
  FileRecord file;
};
std::optional<BlobOwner> OwnerOfBlob(Database& db, const std::string& blob_id);

// The heal pass looks at the blob (it may lack copies) / no longer needs to.
void Watch(Database& db, const std::string& blob_id);
void Unwatch(Database& db, const std::string& blob_id);
// Every blob with a copy on the node (it went down or is draining).
void WatchBlobsOn(Database& db, const std::string& node_id);
// Adds to the running totals (files: count of regular files, bytes: their sizes).
void AddToCounters(Database& db, int64_t files, int64_t bytes);

// Moves every replica of the blob to the deletion queue.
void QueueDeletionsOf(Database& db, const std::string& blob_id);
// A job to copy the chunk's blob until it has want_copies good copies.
// job_id: the request that caused the job (follows it into the replicator's logs); random if empty.
// source_node_id: the chunk's one copy, named in the job (a new chunk's
// first copy) so the replicator need not ask the master for its copies.
void InsertReplicationJob(Database& db, const ChunkRecord& chunk, int want_copies, const std::string& job_id = "",
                          const std::string& source_node_id = "");

// [lo, hi) in byte order holding exactly the byte strings that start with
// `prefix`; hi is nullopt when there is no upper bound (the empty prefix).
struct PrefixRange {
  std::string lo;
  std::optional<std::string> hi;
};
PrefixRange RangeOf(std::string_view prefix);

}  // namespace dfs::master::sql
