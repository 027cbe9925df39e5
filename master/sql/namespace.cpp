// SqlStore's NamespaceStore half (sql_store.h): listings, stat,
// mkdir/rmdir, rename(2) with its flags, setattr, symlinks, special files
// and hard links, each one transaction over the inode tree (tree.h).
#include "master/sql/sql_store.h"

#include <functional>

#include "common/path.h"
#include "master/sql/tree.h"

namespace dfs::master {
namespace {

using sql::Inode;

// Inode columns, then the content's md5 and version (NULL unless a regular file).
const std::string kEntryColumns = std::string(sql::kInodeColumns) + ", c.md5, c.version";
const char* const kEntryFrom = "inodes i LEFT JOIN contents c ON c.ino = i.ino";

DirEntry ReadEntry(const Statement& q, int first_col, std::string name) {
  Inode i = sql::ReadInodeRow(q, first_col);
  DirEntry e;
  e.name = std::move(name);
  e.type = i.type;
  e.is_dir = i.type == InodeType::kDir;
  e.ino = i.ino;
  e.size = i.size;
  e.mtime = sql::NsToSeconds(i.mtime_ns);
  e.atime = sql::NsToSeconds(i.atime_ns);
  e.ctime = sql::NsToSeconds(i.ctime_ns);
  e.mtime_ns = i.mtime_ns;
  e.atime_ns = i.atime_ns;
  e.ctime_ns = i.ctime_ns;
  e.mode = i.mode;
  e.uid = i.uid;
  e.gid = i.gid;
  e.nlink = i.nlink;
  e.rdev = i.rdev;
  e.target = i.target;
  if (!q.IsNull(first_col + 12)) {
    e.md5 = q.Text(first_col + 12);
    e.version = q.Int(first_col + 13);
  }
  return e;
}

bool IsEmptyDir(Database& db, int64_t ino) { return !db.Prepare("SELECT 1 FROM entries WHERE parent = ? LIMIT 1").Bind(1, ino).Step(); }

// True when folder `dir` is `ancestor` or lies below it (a folder has one
// entry, so its chain of parents is its only way up).
bool IsWithin(Database& db, int64_t dir, int64_t ancestor) {
  auto up = db.Prepare("SELECT parent FROM entries WHERE ino = ? LIMIT 1");
  for (int depth = 0; depth <= static_cast<int>(kMaxPathBytes); ++depth) {
    if (dir == ancestor) return true;
    if (dir == kRootIno) return false;
    up.Reset();
    if (!up.Bind(1, dir).Step()) return false;
    dir = up.Int(0);
  }
  return true;  // a damaged (cyclic) tree: refuse rather than loop
}

void SetCtime(Database& db, int64_t ino, int64_t now) {
  db.Prepare("UPDATE inodes SET ctime_ns = ? WHERE ino = ?").Bind(1, now).Bind(2, ino).Run();
}

// Removes what `name` in `parent` is (the inode `target`) to make room
// for a rename onto it, with the checks of rename(2) for the two types.
Status ReplaceTarget(Database& db, const sql::ParentAndName& dst, int64_t target, bool moving_dir,
                     const std::string& to, const Credentials* who) {
  auto inode = sql::GetInode(db, target).value();
  const bool target_dir = inode.type == InodeType::kDir;
  if (!moving_dir && target_dir) return Status::IsDirectory("'" + to + "' is a directory");
  if (moving_dir && !target_dir) return Status::NotDirectory("'" + to + "' is not a directory");
  if (target_dir && !IsEmptyDir(db, target)) return Status::NotEmpty("'" + to + "' is not empty");
  if (Status st = sql::CheckRemove(sql::GetInode(db, dst.parent).value(), inode, who); !st.ok()) return st;
  sql::RemoveEntry(db, dst.parent, dst.name, target_dir);
  sql::DropLink(db, target);
  return Status::OK();
}

// A folder that moves to another parent takes its ".." along: one link
// less for the old parent, one more for the new.
void MoveDotDot(Database& db, int64_t from_parent, int64_t to_parent) {
  if (from_parent == to_parent) return;
  db.Prepare("UPDATE inodes SET nlink = nlink - 1 WHERE ino = ?").Bind(1, from_parent).Run();
  db.Prepare("UPDATE inodes SET nlink = nlink + 1 WHERE ino = ?").Bind(1, to_parent).Run();
}

bool IsOwnerOrRoot(const Inode& inode, const Credentials* who) {
  return !who || who->IsRoot() || who->uid == static_cast<uint32_t>(inode.uid);
}

// The new inode `fresh` (type, mode, target or rdev set) linked as `path`,
// owned by who: write and search permission on the folder, EEXIST when the
// name is taken.
Result<DirEntry> CreateInode(Database& db, const std::string& path, Inode fresh, const Credentials* who) {
  auto where = sql::ResolveParent(db, path, who);
  if (!where.ok()) return where.status();
  const Inode dir = sql::GetInode(db, where->parent).value();
  if (Status st = sql::CheckAccess(dir, who, kMayWrite | kMayExec); !st.ok()) return st;
  sql::SetNewOwner(fresh, dir, who);
  fresh.atime_ns = fresh.mtime_ns = fresh.ctime_ns = sql::NowNs();
  fresh.ino = sql::InsertInode(db, fresh);
  if (!sql::AddEntry(db, where->parent, where->name, fresh.ino, fresh.type == InodeType::kDir)) {
    return Status::AlreadyExists("'" + path + "' already exists");  // rolled back with the inode
  }
  auto q = db.Prepare("SELECT " + kEntryColumns + " FROM " + kEntryFrom + " WHERE i.ino = ?");
  q.Bind(1, fresh.ino).Step();
  return ReadEntry(q, 0, path);
}

// The mode after a chmod by who, as Linux: only the owner or root may, and a
// non-root owner outside the file's group loses the setgid bit.
Result<int> NewMode(const Inode& inode, int mode, const Credentials* who) {
  mode &= 07777;
  if (!IsOwnerOrRoot(inode, who)) {
    // The kernel drops setuid/setgid when someone else writes the file, as
    // the writer: clearing only those bits needs write permission, no more.
    const bool only_clears = (mode | 06000) == (inode.mode | 06000) && (mode & ~inode.mode) == 0 && mode != inode.mode;
    if (!only_clears) return Status::NotPermitted("only the owner may change the mode");
    if (Status st = sql::CheckAccess(inode, who, kMayWrite); !st.ok()) return st;
    return mode;
  }
  if (who && !who->IsRoot() && inode.type != InodeType::kDir && !who->InGroup(static_cast<uint32_t>(inode.gid))) {
    mode &= ~02000;
  }
  return mode;
}

// chown as POSIX: only root gives a file away; its owner may change its
// group to one of its own groups. Any chown of a non-folder clears setuid,
// and setgid when group-executable (Linux, root included).
Status Chown(Inode& inode, std::optional<uint32_t> uid, std::optional<uint32_t> gid, const Credentials* who) {
  const bool uid_changes = uid && *uid != static_cast<uint32_t>(inode.uid);
  const bool gid_changes = gid && *gid != static_cast<uint32_t>(inode.gid);
  if (who && !who->IsRoot()) {
    if (uid_changes) return Status::NotPermitted("only root may change the owner");
    if (who->uid != static_cast<uint32_t>(inode.uid) && (uid || gid)) {
      return Status::NotPermitted("only the owner may change the group");
    }
    if (gid_changes && !who->InGroup(*gid)) return Status::NotPermitted("not a member of that group");
  }
  if (uid) inode.uid = *uid;
  if (gid) inode.gid = *gid;
  if (inode.type != InodeType::kDir) {
    inode.mode &= ~04000;
    if ((inode.mode & 02010) == 02010) inode.mode &= ~02000;
  }
  return Status::OK();
}

// utimensat's rule: setting both times to now needs ownership or write
// permission; setting a given time needs ownership (or root).
Status SetTimes(Inode& inode, const AttrChange& change, const Credentials* who, int64_t now) {
  const bool explicit_time = (change.atime_change && !change.atime_change->now) ||
                             (change.mtime_change && !change.mtime_change->now);
  if (!IsOwnerOrRoot(inode, who)) {
    if (explicit_time) return Status::NotPermitted("only the owner may set times");
    if (Status st = sql::CheckAccess(inode, who, kMayWrite); !st.ok()) return st;
  }
  auto apply = [now](const std::optional<TimeChange>& t, int64_t& field) {
    if (t) field = t->now ? now : t->ns;
  };
  apply(change.atime_change, inode.atime_ns);
  apply(change.mtime_change, inode.mtime_ns);
  return Status::OK();
}

// Swaps the inodes two names point to (RENAME_EXCHANGE).
Status Exchange(Database& db, const sql::ParentAndName& a, int64_t a_ino, const sql::ParentAndName& b,
                int64_t b_ino, const Credentials* who) {
  const Inode ai = sql::GetInode(db, a_ino).value(), bi = sql::GetInode(db, b_ino).value();
  const bool a_dir = ai.type == InodeType::kDir, b_dir = bi.type == InodeType::kDir;
  if ((a_dir && IsWithin(db, b.parent, a_ino)) || (b_dir && IsWithin(db, a.parent, b_ino))) {
    return Status::InvalidArgument("cannot exchange a folder with something inside it");
  }
  if (Status st = sql::CheckRemove(sql::GetInode(db, b.parent).value(), bi, who); !st.ok()) return st;
  auto point = db.Prepare("UPDATE entries SET ino = ? WHERE parent = ? AND name = ?");
  point.Bind(1, b_ino).Bind(2, a.parent).BindBlob(3, a.name).Run();
  point.Reset();
  point.Bind(1, a_ino).Bind(2, b.parent).BindBlob(3, b.name).Run();
  if (a_dir && !b_dir) MoveDotDot(db, a.parent, b.parent);
  if (b_dir && !a_dir) MoveDotDot(db, b.parent, a.parent);
  const int64_t now = sql::NowNs();
  sql::TouchDir(db, a.parent, now);
  sql::TouchDir(db, b.parent, now);
  SetCtime(db, a_ino, now);
  SetCtime(db, b_ino, now);
  return Status::OK();
}

}  // namespace

// Runs `make` (which makes an inode and answers its entry) in one transaction.
Result<DirEntry> SqlStore::MakeInTransaction(const std::function<Result<DirEntry>(Database&)>& make) {
  DirEntry entry;
  Status st = WithTransaction([&](Database& db) -> Status {
    auto made = make(db);
    if (!made.ok()) return made.status();
    entry = std::move(*made);
    return Status::OK();
  });
  if (!st.ok()) return st;
  return entry;
}

Result<DirPage> SqlStore::List(const std::string& dir, const std::string& after, size_t limit) {
  DirPage page;
  Status st = WithReads([&](Database& db) -> Status {
    auto ino = sql::Resolve(db, dir);
    if (!ino.ok()) return ino.status();
    auto inode = sql::GetInode(db, *ino);
    if (!inode || inode->type != InodeType::kDir) return Status::NotDirectory("'" + dir + "' is not a directory");
    // One more than asked says whether another page follows.
    auto q = db.Prepare("SELECT e.name, " + kEntryColumns +
                        " FROM entries e JOIN inodes i ON i.ino = e.ino LEFT JOIN contents c ON c.ino = i.ino "
                        "WHERE e.parent = ? AND e.name > ? ORDER BY e.name LIMIT ?");
    q.Bind(1, *ino).BindBlob(2, after).Bind(3, limit == 0 ? INT64_MAX : static_cast<int64_t>(limit) + 1);
    while (q.Step()) {
      if (limit != 0 && page.entries.size() == limit) {
        page.next = page.entries.back().name;
        break;
      }
      page.entries.push_back(ReadEntry(q, 1, q.Blob(0)));
    }
    return Status::OK();
  });
  if (!st.ok()) return st;
  return page;
}

Result<DirEntry> SqlStore::Stat(const std::string& path, const Credentials* who) {
  DirEntry entry;
  Status st = WithReads([&](Database& db) -> Status {
    auto ino = sql::Resolve(db, path, who);
    if (!ino.ok()) return ino.status();
    auto q = db.Prepare("SELECT " + kEntryColumns + " FROM " + kEntryFrom + " WHERE i.ino = ?");
    if (!q.Bind(1, *ino).Step()) return Status::NotFound("no file or directory '" + path + "'");
    entry = ReadEntry(q, 0, path);
    return Status::OK();
  });
  if (!st.ok()) return st;
  return entry;
}

Result<DirEntry> SqlStore::StatHandle(const std::string& handle) {
  DirEntry entry;
  Status st = WithReads([&](Database& db) -> Status {
    auto q = db.Prepare("SELECT " + kEntryColumns +
                        " FROM open_handles h JOIN inodes i ON i.ino = h.ino LEFT JOIN contents c ON c.ino = i.ino "
                        "WHERE h.handle = ? AND h.expires_at > ?");
    if (!q.Bind(1, handle).Bind(2, NowSeconds()).Step()) return Status::NotFound("no open handle " + handle);
    entry = ReadEntry(q, 0, "");
    entry.name = sql::PathOf(db, entry.ino).value_or("");
    return Status::OK();
  });
  if (!st.ok()) return st;
  return entry;
}

Status SqlStore::MakeDir(const std::string& path, int mode, bool parents, const Credentials* who) {
  return WithTransaction([&](Database& db) -> Status {
    if (path.empty()) return Status::AlreadyExists("the root already exists");
    if (parents) {
      auto made = sql::MakeParents(db, path, who);
      if (!made.ok()) return made.status();
    }
    Inode dir;
    dir.type = InodeType::kDir;
    dir.mode = mode & 01777;  // mkdir(2) keeps the sticky bit, not setuid/setgid
    dir.nlink = 2;
    auto where = sql::ResolveParent(db, path, who);
    if (!where.ok()) return where.status();
    if (sql::GetInode(db, where->parent).value().mode & 02000) dir.mode |= 02000;  // inherited
    return CreateInode(db, path, dir, who).status();
  });
}

Status SqlStore::RemoveDir(const std::string& path, const Credentials* who) {
  return WithTransaction([&](Database& db) -> Status {
    if (path.empty()) return Status::InvalidArgument("cannot remove the root");
    auto where = sql::ResolveParent(db, path, who);
    if (!where.ok()) return where.status();
    auto ino = sql::Lookup(db, where->parent, where->name);
    if (!ino) return Status::NotFound("no directory '" + path + "'");
    sql::LockInodes(db, {*ino});
    auto inode = sql::GetInode(db, *ino).value();
    if (inode.type != InodeType::kDir) return Status::NotDirectory("'" + path + "' is not a directory");
    if (Status st = sql::CheckRemove(sql::GetInode(db, where->parent).value(), inode, who); !st.ok()) return st;
    if (!IsEmptyDir(db, *ino)) return Status::NotEmpty("'" + path + "' is not empty");
    sql::RemoveEntry(db, where->parent, where->name, true);
    sql::DropLink(db, *ino);
    return Status::OK();
  });
}

Status SqlStore::Rename(const std::string& from, const std::string& to, RenameMode how,
                              const Credentials* who) {
  return WithTransaction([&](Database& db) -> Status {
    if (from.empty() || to.empty()) return Status::InvalidArgument("cannot rename the root");
    if (ParentPath(from) != ParentPath(to)) sql::LockRenames(db);
    auto src = sql::ResolveParent(db, from, who);
    if (!src.ok()) return src.status();
    auto ino = sql::Lookup(db, src->parent, src->name);
    if (!ino) return Status::NotFound("no file or directory '" + from + "'");
    auto dst = sql::ResolveParent(db, to, who);
    if (!dst.ok()) return dst.status();
    const Inode inode = sql::GetInode(db, *ino).value();
    const bool moving_dir = inode.type == InodeType::kDir;
    if (Status st = sql::CheckRemove(sql::GetInode(db, src->parent).value(), inode, who); !st.ok()) return st;
    if (Status st = sql::CheckAccess(sql::GetInode(db, dst->parent).value(), who, kMayWrite | kMayExec); !st.ok()) {
      return st;
    }
    auto target = sql::Lookup(db, dst->parent, dst->name);
    sql::LockInodes(db, target ? std::vector<int64_t>{*ino, *target} : std::vector<int64_t>{*ino});
    if (how == RenameMode::kNoReplace && target) return Status::AlreadyExists("'" + to + "' already exists");
    if (how == RenameMode::kExchange) {
      if (!target) return Status::NotFound("no file or directory '" + to + "'");
      if (*target == *ino) return Status::OK();
      return Exchange(db, *src, *ino, *dst, *target, who);
    }
    if (from == to || (target && *target == *ino)) return Status::OK();  // rename(2) does nothing
    if (moving_dir && IsWithin(db, dst->parent, *ino)) {
      return Status::InvalidArgument("cannot move '" + from + "' into itself");
    }
    // A folder moving elsewhere rewrites its "..": that needs write permission on it.
    if (moving_dir && src->parent != dst->parent) {
      if (Status st = sql::CheckAccess(inode, who, kMayWrite); !st.ok()) return st;
    }
    if (target) {
      if (Status st = ReplaceTarget(db, *dst, *target, moving_dir, to, who); !st.ok()) return st;
    }
    // The entry moves; nothing under a moved folder changes.
    db.Prepare("UPDATE entries SET parent = ?, name = ? WHERE parent = ? AND name = ?")
        .Bind(1, dst->parent)
        .BindBlob(2, dst->name)
        .Bind(3, src->parent)
        .BindBlob(4, src->name)
        .Run();
    const int64_t now = sql::NowNs();
    sql::TouchDir(db, src->parent, now);
    sql::TouchDir(db, dst->parent, now);
    SetCtime(db, *ino, now);
    if (moving_dir) MoveDotDot(db, src->parent, dst->parent);
    return Status::OK();
  });
}

Status SqlStore::SetAttr(const std::string& path, const AttrChange& change, const Credentials* who) {
  return WithTransaction([&](Database& db) -> Status {
    auto ino = sql::Resolve(db, path, who);
    if (!ino.ok()) return ino.status();
    sql::LockInodes(db, {*ino});
    Inode inode = sql::GetInode(db, *ino).value();
    if (change.size && *change.size != inode.size) {
      return Status::InvalidArgument("a file's size changes only through PUT (upload the new content)");
    }
    const int64_t now = sql::NowNs();
    if (change.uid || change.gid) {
      if (Status st = Chown(inode, change.uid, change.gid, who); !st.ok()) return st;
    }
    if (change.mode) {
      auto mode = NewMode(inode, *change.mode, who);
      if (!mode.ok()) return mode.status();
      inode.mode = *mode;
    }
    if (change.atime_change || change.mtime_change) {
      if (Status st = SetTimes(inode, change, who, now); !st.ok()) return st;
    }
    db.Prepare("UPDATE inodes SET mode = ?, uid = ?, gid = ?, atime_ns = ?, mtime_ns = ?, ctime_ns = ? WHERE ino = ?")
        .Bind(1, int64_t{inode.mode})
        .Bind(2, inode.uid)
        .Bind(3, inode.gid)
        .Bind(4, inode.atime_ns)
        .Bind(5, inode.mtime_ns)
        .Bind(6, now)
        .Bind(7, *ino)
        .Run();
    return Status::OK();
  });
}

Result<DirEntry> SqlStore::Symlink(const std::string& path, const std::string& target,
                                         const Credentials* who) {
  if (target.empty() || target.size() > kMaxSymlinkBytes) {
    return Status::InvalidArgument("a symlink's target is 1 to " + std::to_string(kMaxSymlinkBytes) + " bytes");
  }
  if (target.find('\0') != std::string::npos) return Status::InvalidArgument("a symlink's target holds no NUL");
  return MakeInTransaction([&](Database& db) -> Result<DirEntry> {
    Inode link;
    link.type = InodeType::kSymlink;
    link.mode = 0777;
    link.size = target.size();
    link.target = target;
    return CreateInode(db, path, link, who);
  });
}

Result<DirEntry> SqlStore::MakeNode(const std::string& path, InodeType type, int mode, int64_t rdev,
                                          const Credentials* who) {
  if (type == InodeType::kFile || type == InodeType::kDir || type == InodeType::kSymlink) {
    return Status::InvalidArgument("mknod makes fifos, sockets and devices (files: PUT, folders: mkdir)");
  }
  const bool device = type == InodeType::kCharDevice || type == InodeType::kBlockDevice;
  return MakeInTransaction([&](Database& db) -> Result<DirEntry> {
    if (device && who && !who->IsRoot()) {  // after the folder's own check, as mknod(2)
      auto where = sql::ResolveParent(db, path, who);
      if (!where.ok()) return where.status();
      const Inode dir = sql::GetInode(db, where->parent).value();
      if (Status st = sql::CheckAccess(dir, who, kMayWrite | kMayExec); !st.ok()) return st;
      return Status::NotPermitted("only root may make device files");
    }
    Inode node;
    node.type = type;
    node.mode = mode & 07777;
    node.rdev = device ? rdev : 0;
    return CreateInode(db, path, node, who);
  });
}

Result<DirEntry> SqlStore::Link(const std::string& existing, const std::string& path, const Credentials* who) {
  return MakeInTransaction([&](Database& db) -> Result<DirEntry> {
    auto ino = sql::Resolve(db, existing, who);
    if (!ino.ok()) return ino.status();
    const Inode inode = sql::GetInode(db, *ino).value();
    if (inode.type == InodeType::kDir) return Status::NotPermitted("folders cannot be hard-linked");
    auto where = sql::ResolveParent(db, path, who);
    if (!where.ok()) return where.status();
    if (Status st = sql::CheckAccess(sql::GetInode(db, where->parent).value(), who, kMayWrite | kMayExec); !st.ok()) {
      return st;
    }
    if (!sql::AddEntry(db, where->parent, where->name, *ino, false)) {
      return Status::AlreadyExists("'" + path + "' already exists");
    }
    db.Prepare("UPDATE inodes SET nlink = nlink + 1, ctime_ns = ? WHERE ino = ?").Bind(1, sql::NowNs()).Bind(2, *ino).Run();
    auto q = db.Prepare("SELECT " + kEntryColumns + " FROM " + kEntryFrom + " WHERE i.ino = ?");
    q.Bind(1, *ino).Step();
    return ReadEntry(q, 0, path);
  });
}

}  // namespace dfs::master
