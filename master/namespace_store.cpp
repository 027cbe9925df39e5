#include "master/namespace_store.h"

#include <map>

#include "common/path.h"
#include "master/metadata_sql.h"

namespace dfs::master {
namespace {

constexpr int kDirMode = 0755;

std::optional<FileRecord> FileAt(Database& db, const std::string& path) {
  auto q = db.Prepare(std::string("SELECT ") + sql::kFileColumns + " FROM files WHERE path = ?");
  if (!q.Bind(1, path).Step()) return std::nullopt;
  return sql::ReadFileRow(q);
}

bool ExplicitDir(Database& db, const std::string& path) {
  return db.Prepare("SELECT 1 FROM dirs WHERE path = ?").Bind(1, path).Step();
}

bool HasChildren(Database& db, const std::string& path) {
  const sql::PrefixRange r = sql::RangeOf(path + "/");
  const std::string under = sql::Under("path", 1, 2) + " LIMIT 1";
  return db.Prepare("SELECT 1 FROM files WHERE " + under).Bind(1, r.lo).Bind(2, r.hi).Step() ||
         db.Prepare("SELECT 1 FROM dirs WHERE " + under).Bind(1, r.lo).Bind(2, r.hi).Step();
}

bool IsDir(Database& db, const std::string& path) {
  return path.empty() || ExplicitDir(db, path) || HasChildren(db, path);
}

// No component above `path` may be a file.
Status CheckParentsAreNotFiles(Database& db, const std::string& path) {
  for (std::string p = ParentPath(path); !p.empty(); p = ParentPath(p)) {
    if (FileAt(db, p)) return Status::NotDirectory("'" + p + "' is a file, not a directory");
  }
  return Status::OK();
}

// Keeps the folders above `path` in existence once `path` moves away from
// them (a folder implied only by its last file would otherwise vanish).
void KeepParents(Database& db, const std::string& path) {
  for (std::string p = ParentPath(path); !p.empty(); p = ParentPath(p)) {
    db.Prepare("INSERT OR IGNORE INTO dirs (path, mode, mtime) VALUES (?, ?, ?)")
        .Bind(1, p)
        .Bind(2, int64_t{kDirMode})
        .Bind(3, NowSeconds())
        .Run();
  }
}

void InsertDir(Database& db, const std::string& path, int mode) {
  db.Prepare("INSERT OR IGNORE INTO dirs (path, mode, mtime) VALUES (?, ?, ?)")
      .Bind(1, path)
      .Bind(2, int64_t{mode})
      .Bind(3, NowSeconds())
      .Run();
}

DirEntry FileEntry(const FileRecord& f, std::string name) {
  return {std::move(name), false, f.size, f.md5, f.mtime, f.mode, f.version};
}

}  // namespace

Result<std::vector<DirEntry>> NamespaceStore::List(const std::string& dir) {
  std::map<std::string, DirEntry> entries;
  Status st = store_.WithTransaction([&](Database& db) -> Status {
    if (!IsDir(db, dir)) {
      if (FileAt(db, dir)) return Status::NotDirectory("'" + dir + "' is a file, not a directory");
      return Status::NotFound("no directory '" + dir + "'");
    }
    const std::string prefix = dir.empty() ? "" : dir + "/";
    auto implied_dir = [&](const std::string& name, double mtime) {
      auto [it, fresh] = entries.try_emplace(name, DirEntry{name, true, 0, "", mtime, kDirMode, 0});
      if (!fresh && it->second.is_dir) it->second.mtime = std::max(it->second.mtime, mtime);
    };
    const sql::PrefixRange r = sql::RangeOf(prefix);
    auto files = db.Prepare(std::string("SELECT ") + sql::kFileColumns + " FROM files WHERE " + sql::Under("path", 1, 2));
    files.Bind(1, r.lo).Bind(2, r.hi);
    while (files.Step()) {
      FileRecord f = sql::ReadFileRow(files);
      std::string rest = f.path.substr(prefix.size());
      size_t slash = rest.find('/');
      if (slash == std::string::npos) {
        entries[rest] = FileEntry(f, rest);
      } else {
        implied_dir(rest.substr(0, slash), f.mtime);
      }
    }
    auto dirs = db.Prepare("SELECT path, mode, mtime FROM dirs WHERE " + sql::Under("path", 1, 2));
    dirs.Bind(1, r.lo).Bind(2, r.hi);
    while (dirs.Step()) {
      std::string rest = dirs.Text(0).substr(prefix.size());
      size_t slash = rest.find('/');
      if (slash == std::string::npos) {
        entries[rest] = DirEntry{rest, true, 0, "", dirs.Real(2), static_cast<int>(dirs.Int(1)), 0};
      } else {
        implied_dir(rest.substr(0, slash), dirs.Real(2));
      }
    }
    return Status::OK();
  });
  if (!st.ok()) return st;
  std::vector<DirEntry> out;
  out.reserve(entries.size());
  for (auto& [name, e] : entries) out.push_back(std::move(e));
  return out;
}

Result<DirEntry> NamespaceStore::Stat(const std::string& path) {
  DirEntry entry;
  Status st = store_.WithTransaction([&](Database& db) -> Status {
    if (path.empty()) {
      entry = DirEntry{"", true, 0, "", 0, kDirMode, 0};
      return Status::OK();
    }
    if (auto f = FileAt(db, path)) {
      entry = FileEntry(*f, path);
      return Status::OK();
    }
    auto d = db.Prepare("SELECT mode, mtime FROM dirs WHERE path = ?");
    if (d.Bind(1, path).Step()) {
      entry = DirEntry{path, true, 0, "", d.Real(1), static_cast<int>(d.Int(0)), 0};
      return Status::OK();
    }
    if (HasChildren(db, path)) {
      entry = DirEntry{path, true, 0, "", NowSeconds(), kDirMode, 0};
      return Status::OK();
    }
    return Status::NotFound("no file or directory '" + path + "'");
  });
  if (!st.ok()) return st;
  return entry;
}

Status NamespaceStore::MakeDir(const std::string& path, int mode, bool parents) {
  return store_.WithTransaction([&](Database& db) -> Status {
    if (Status st = CheckParentsAreNotFiles(db, path); !st.ok()) return st;
    if (FileAt(db, path) || IsDir(db, path)) return Status::AlreadyExists("'" + path + "' already exists");
    std::string parent = ParentPath(path);
    if (!IsDir(db, parent)) {
      if (!parents) return Status::NotFound("no directory '" + parent + "'");
      for (std::string p = parent; !p.empty() && !IsDir(db, p); p = ParentPath(p)) InsertDir(db, p, kDirMode);
    }
    InsertDir(db, path, mode & 07777);
    return Status::OK();
  });
}

Status NamespaceStore::RemoveDir(const std::string& path) {
  return store_.WithTransaction([&](Database& db) -> Status {
    if (path.empty()) return Status::InvalidArgument("cannot remove the root");
    if (FileAt(db, path)) return Status::NotDirectory("'" + path + "' is a file, not a directory");
    if (HasChildren(db, path)) return Status::NotEmpty("'" + path + "' is not empty");
    if (!ExplicitDir(db, path)) return Status::NotFound("no directory '" + path + "'");
    db.Prepare("DELETE FROM dirs WHERE path = ?").Bind(1, path).Run();
    KeepParents(db, path);
    return Status::OK();
  });
}

Status NamespaceStore::Rename(const std::string& from, const std::string& to) {
  return store_.WithTransaction([&](Database& db) -> Status {
    if (from.empty() || to.empty()) return Status::InvalidArgument("cannot rename the root");
    auto file = FileAt(db, from);
    const bool from_dir = !file && IsDir(db, from);
    if (!file && !from_dir) return Status::NotFound("no file or directory '" + from + "'");
    if (from == to) return Status::OK();
    if (to.compare(0, from.size() + 1, from + "/") == 0) {
      return Status::InvalidArgument("cannot move '" + from + "' into itself");
    }
    if (Status st = CheckParentsAreNotFiles(db, to); !st.ok()) return st;
    if (!IsDir(db, ParentPath(to))) return Status::NotFound("no directory '" + ParentPath(to) + "'");
    auto target_file = FileAt(db, to);
    const bool target_dir = !target_file && IsDir(db, to);
    if (file) {
      if (target_dir) return Status::IsDirectory("'" + to + "' is a directory");
      if (target_file) {  // replaced, as rename(2) does
        db.Prepare("DELETE FROM files WHERE path = ?").Bind(1, to).Run();
        sql::QueueDeletionsOf(db, target_file->blob_id);
      }
      db.Prepare("UPDATE files SET path = ? WHERE path = ?").Bind(1, to).Bind(2, from).Run();
    } else {
      if (target_file) return Status::NotDirectory("'" + to + "' is a file, not a directory");
      if (target_dir) {
        if (HasChildren(db, to)) return Status::NotEmpty("'" + to + "' is not empty");
        db.Prepare("DELETE FROM dirs WHERE path = ?").Bind(1, to).Run();
      }
      // The subtree moves in place: `to` + what follows `from` in each path
      // (length() and substr() count characters on both sides, so UTF-8 is fine).
      const sql::PrefixRange r = sql::RangeOf(from + "/");
      const std::string under = sql::Under("path", 3, 4);
      {
        // Every path under `from` grows by to.size() - from.size() bytes.
        auto longest = db.Prepare("SELECT MAX(length(CAST(path AS BLOB))) FROM (SELECT path FROM files WHERE " +
                                  sql::Under("path", 1, 2) + " UNION ALL SELECT path FROM dirs WHERE " +
                                  sql::Under("path", 1, 2) + ")");
        longest.Bind(1, r.lo).Bind(2, r.hi);
        if (longest.Step() && !longest.IsNull(0) &&
            static_cast<size_t>(longest.Int(0)) - from.size() + to.size() > kMaxPathBytes) {
          return Status::InvalidArgument("renaming '" + from + "' would make a path under it longer than " +
                                         std::to_string(kMaxPathBytes) + " bytes");
        }
      }
      db.Prepare("UPDATE files SET path = ?1 || substr(path, length(?2) + 1) WHERE " + under)
          .Bind(1, to)
          .Bind(2, from)
          .Bind(3, r.lo)
          .Bind(4, r.hi)
          .Run();
      db.Prepare("UPDATE dirs SET path = ?1 || substr(path, length(?2) + 1) WHERE path = ?2 OR " + under)
          .Bind(1, to)
          .Bind(2, from)
          .Bind(3, r.lo)
          .Bind(4, r.hi)
          .Run();
    }
    KeepParents(db, from);
    return Status::OK();
  });
}

Status NamespaceStore::SetAttr(const std::string& path, const AttrChange& change) {
  return store_.WithTransaction([&](Database& db) -> Status {
    if (path.empty()) return Status::OK();
    if (auto f = FileAt(db, path)) {
      if (change.size && *change.size != f->size) {
        return Status::InvalidArgument("a file's size changes only through PUT (upload the new content)");
      }
      db.Prepare("UPDATE files SET mode = ?, mtime = ? WHERE path = ?")
          .Bind(1, int64_t{change.mode.value_or(f->mode) & 07777})
          .Bind(2, change.mtime.value_or(f->mtime))
          .Bind(3, path)
          .Run();
      return Status::OK();
    }
    if (!IsDir(db, path)) return Status::NotFound("no file or directory '" + path + "'");
    InsertDir(db, path, kDirMode);
    if (change.mode) db.Prepare("UPDATE dirs SET mode = ? WHERE path = ?").Bind(1, int64_t{*change.mode & 07777}).Bind(2, path).Run();
    if (change.mtime) db.Prepare("UPDATE dirs SET mtime = ? WHERE path = ?").Bind(1, *change.mtime).Bind(2, path).Run();
    return Status::OK();
  });
}

}  // namespace dfs::master
