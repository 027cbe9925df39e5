#include "fuse_client/dfs_fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <set>

#include "common/log.h"
#include "common/path.h"

namespace dfs::fuse_client {

std::string DfsPath(const char* fuse_path) {
  std::string p = fuse_path ? fuse_path : "";
  while (!p.empty() && p.front() == '/') p.erase(0, 1);
  return p;
}

int ErrnoFor(const Status& status) {
  switch (status.code()) {
    case Code::kUnavailable:
    case Code::kIOError:
    case Code::kInternal:
    case Code::kChecksumMismatch: return -EIO;
    default: {
      int e = status.to_errno();
      return -(e > 0 ? e : EIO);
    }
  }
}

namespace {

DfsFilesystem* Self() { return static_cast<DfsFilesystem*>(fuse_get_context()->private_data); }

timespec ToTimespec(double seconds) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(std::floor(seconds));
  ts.tv_nsec = static_cast<long>((seconds - std::floor(seconds)) * 1e9);
  return ts;
}

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string Join(const std::string& dir, const std::string& name) { return dir.empty() ? name : dir + "/" + name; }

// Copies a whole file into an open fd (the spool), from the start.
Status CopyInto(const std::string& from, int to_fd) {
  UniqueFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) return Status::IOError("open " + from + ": " + std::strerror(errno));
  for (;;) {
    ssize_t n = ::copy_file_range(in.get(), nullptr, to_fd, nullptr, 1 << 30, 0);
    if (n == 0) return Status::OK();
    if (n < 0) return Status::IOError(std::string("copy: ") + std::strerror(errno));
  }
}

// Runs an operation, turning an escaped exception into EIO (and a log line)
// rather than a crashed mount.
template <typename Fn>
int Guard(const char* op, const char* path, Fn&& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    DFS_LOG(ERROR, "fuse") << op << " name=" << (path ? path : "") << " failed: " << e.what();
    return -EIO;
  }
}

}  // namespace

DfsFilesystem::DfsFilesystem(DfsClient client, std::unique_ptr<FileCache> cache, std::chrono::milliseconds attr_ttl)
    : client_(std::move(client)), cache_(std::move(cache)), attr_ttl_(attr_ttl), uid_(::getuid()), gid_(::getgid()) {}

// ---- attributes -------------------------------------------------------------

void DfsFilesystem::FillStat(const FileInfo& info, struct stat* st) const {
  *st = {};
  const bool dir = info.type == "dir";
  st->st_mode = (dir ? S_IFDIR : S_IFREG) | (info.mode & 07777);
  st->st_nlink = dir ? 2 : 1;
  st->st_size = static_cast<off_t>(info.size);
  st->st_blocks = static_cast<blkcnt_t>((info.size + 511) / 512);
  st->st_blksize = 1 << 20;  // invites large reads and writes
  st->st_uid = uid_;
  st->st_gid = gid_;
  st->st_mtim = st->st_ctim = st->st_atim = ToTimespec(info.mtime);
}

void DfsFilesystem::CacheAttr(const std::string& path, const FileInfo& info) {
  std::lock_guard lock(attrs_mu_);
  attrs_[path] = {info, std::chrono::steady_clock::now() + attr_ttl_};
}

void DfsFilesystem::ForgetAttr(const std::string& path) {
  std::lock_guard lock(attrs_mu_);
  attrs_.erase(path);
}

void DfsFilesystem::ForgetAllAttrs() {
  std::lock_guard lock(attrs_mu_);
  attrs_.clear();
}

Result<FileInfo> DfsFilesystem::LookUp(const std::string& path) {
  {
    std::lock_guard lock(attrs_mu_);
    auto it = attrs_.find(path);
    if (it != attrs_.end()) {
      if (it->second.expires > std::chrono::steady_clock::now()) return it->second.info;
      attrs_.erase(it);
    }
  }
  auto info = client_.StatPath(path);
  if (info.ok()) CacheAttr(path, *info);
  return info;
}

int DfsFilesystem::GetAttr(const std::string& path, struct stat* st, fuse_file_info* fi) {
  std::shared_ptr<OpenFile> file = fi ? Handle(fi) : nullptr;
  if (!file || file->spool_path.empty()) file = WritableHandleFor(path);
  if (file) {
    std::unique_lock lock(file->mu);
    if (file->dirty || !file->uploaded) {  // changed here and not uploaded: the spool has the size
      struct stat spool {};
      if (::fstat(file->fd.get(), &spool) != 0) return -errno;
      FileInfo info;
      if (file->uploaded) {
        lock.unlock();
        auto known = LookUp(path);
        if (known.ok()) info = *known;
        lock.lock();
      }
      info.size = static_cast<uint64_t>(spool.st_size);
      info.mode = file->pending_mode.value_or(info.mode);
      info.mtime = file->pending_mtime.value_or(spool.st_mtim.tv_sec + spool.st_mtim.tv_nsec / 1e9);
      FillStat(info, st);
      return 0;
    }
  }
  if (path.empty()) {
    FileInfo root;
    root.type = "dir";
    root.mode = 0755;
    FillStat(root, st);
    return 0;
  }
  auto info = LookUp(path);
  if (!info.ok()) return ErrnoFor(info.status());
  FillStat(*info, st);
  return 0;
}

int DfsFilesystem::ReadDir(const std::string& path, void* buf, fuse_fill_dir_t filler) {
  auto entries = client_.ListDir(path);
  if (!entries.ok()) return ErrnoFor(entries.status());
  struct stat st {};
  FileInfo self;
  self.type = "dir";
  self.mode = 0755;
  FillStat(self, &st);
  filler(buf, ".", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  filler(buf, "..", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  std::set<std::string> names;
  for (const auto& e : *entries) {
    CacheAttr(Join(path, e.name), e);
    FillStat(e, &st);
    names.insert(e.name);
    if (filler(buf, e.name.c_str(), &st, 0, FUSE_FILL_DIR_PLUS) != 0) break;
  }
  // Files being written here but not uploaded yet are listed too.
  std::vector<std::string> pending;
  {
    std::lock_guard lock(handles_mu_);
    for (const auto& [id, f] : handles_) {
      if (!f->spool_path.empty() && ParentPath(f->path) == path && !names.count(BaseName(f->path))) {
        pending.push_back(f->path);
      }
    }
  }
  for (const auto& p : pending) {
    if (names.insert(BaseName(p)).second && GetAttr(p, &st, nullptr) == 0) {
      filler(buf, BaseName(p).c_str(), &st, 0, FUSE_FILL_DIR_PLUS);
    }
  }
  return 0;
}

// ---- namespace --------------------------------------------------------------

int DfsFilesystem::MakeDir(const std::string& path, mode_t) {
  Status st = client_.MakeDir(path);
  ForgetAttr(path);
  return st.ok() ? 0 : ErrnoFor(st);
}

int DfsFilesystem::RemoveDir(const std::string& path) {
  Status st = client_.RemoveDir(path);
  ForgetAttr(path);
  return st.ok() ? 0 : ErrnoFor(st);
}

int DfsFilesystem::Unlink(const std::string& path) {
  Status st = client_.Remove(path);
  ForgetAttr(path);
  bool local_only = false;
  {
    std::lock_guard lock(handles_mu_);
    for (auto& [id, f] : handles_) {
      if (f->path == path && !f->spool_path.empty()) {
        // Unlinked while open: the program may go on using it, but it is no
        // longer a name in dfs, so it is never uploaded.
        std::lock_guard flock(f->mu);
        local_only = local_only || !f->uploaded;
        f->path.clear();
        f->dirty = false;
      }
    }
  }
  if (st.code() == Code::kNotFound && local_only) return 0;
  return st.ok() ? 0 : ErrnoFor(st);
}

int DfsFilesystem::Rename(const std::string& from, const std::string& to, unsigned int flags) {
  if (flags & RENAME_EXCHANGE) return -EINVAL;
  if ((flags & RENAME_NOREPLACE) && (client_.StatPath(to).ok() || WritableHandleFor(to))) return -EEXIST;
  Status st = client_.Rename(from, to);
  ForgetAllAttrs();
  bool moved_local = false;
  {
    std::lock_guard lock(handles_mu_);
    for (auto& [id, f] : handles_) {
      std::lock_guard flock(f->mu);
      if (f->path == from) {
        f->path = to;
        moved_local = true;
      } else if (f->path.compare(0, from.size() + 1, from + "/") == 0) {
        f->path = to + f->path.substr(from.size());
      }
    }
  }
  if (st.code() == Code::kNotFound && moved_local) return 0;  // not uploaded yet: a local rename
  return st.ok() ? 0 : ErrnoFor(st);
}

int DfsFilesystem::Chmod(const std::string& path, mode_t mode) {
  if (auto f = WritableHandleFor(path)) {
    std::lock_guard lock(f->mu);
    if (f->dirty) {  // applied after the upload
      f->pending_mode = static_cast<int>(mode & 07777);
      return 0;
    }
  }
  SetAttrRequest req;
  req.mode = static_cast<int>(mode & 07777);
  Status st = client_.SetAttr(path, req);
  ForgetAttr(path);
  return st.ok() ? 0 : ErrnoFor(st);
}

int DfsFilesystem::Utimens(const std::string& path, const struct timespec tv[2]) {
  double mtime = NowSeconds();
  if (tv) {
    if (tv[1].tv_nsec == UTIME_OMIT) return 0;
    if (tv[1].tv_nsec != UTIME_NOW) mtime = static_cast<double>(tv[1].tv_sec) + tv[1].tv_nsec / 1e9;
  }
  if (auto f = WritableHandleFor(path)) {
    std::lock_guard lock(f->mu);
    if (f->dirty) {
      f->pending_mtime = mtime;
      return 0;
    }
  }
  SetAttrRequest req;
  req.mtime = mtime;
  Status st = client_.SetAttr(path, req);
  ForgetAttr(path);
  return st.ok() ? 0 : ErrnoFor(st);
}

int DfsFilesystem::StatFs(struct statvfs* st) {
  auto cluster = client_.Cluster();
  if (!cluster.ok()) return ErrnoFor(cluster.status());
  *st = {};
  constexpr uint64_t kBlock = 4096;
  st->f_bsize = st->f_frsize = kBlock;
  st->f_blocks = cluster->value("capacity", uint64_t{0}) / kBlock;
  st->f_bfree = st->f_bavail = cluster->value("free", uint64_t{0}) / kBlock;
  uint64_t files = cluster->value("files", uint64_t{0});
  st->f_files = files + 1000000;  // no inode limit: report plenty free
  st->f_ffree = st->f_favail = 1000000;
  st->f_namemax = 255;
  return 0;
}

// ---- open files -------------------------------------------------------------

uint64_t DfsFilesystem::Register(std::shared_ptr<OpenFile> file) {
  std::lock_guard lock(handles_mu_);
  uint64_t id = next_handle_++;
  handles_[id] = std::move(file);
  return id;
}

std::shared_ptr<OpenFile> DfsFilesystem::Handle(fuse_file_info* fi) {
  std::lock_guard lock(handles_mu_);
  auto it = handles_.find(fi->fh);
  return it == handles_.end() ? nullptr : it->second;
}

std::shared_ptr<OpenFile> DfsFilesystem::WritableHandleFor(const std::string& path) {
  std::lock_guard lock(handles_mu_);
  for (const auto& [id, f] : handles_) {
    if (!f->spool_path.empty() && f->path == path) return f;
  }
  return nullptr;
}

int DfsFilesystem::OpenForWrite(const std::string& path, bool truncate, std::shared_ptr<OpenFile>* out) {
  auto file = std::make_shared<OpenFile>();
  file->path = path;
  file->spool_path = cache_->NewSpoolPath();
  file->fd.Reset(::open(file->spool_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!file->fd) return -errno;
  if (!truncate) {
    auto info = client_.StatPath(path);
    Status st = info.status();
    if (info.ok() && info->type == "dir") st = Status::IsDirectory(path);
    if (st.ok()) {
      auto local = cache_->Fetch(client_, path, info->md5);
      st = local.ok() ? CopyInto(*local, file->fd.get()) : local.status();
    }
    if (!st.ok()) {
      ::unlink(file->spool_path.c_str());
      return ErrnoFor(st);
    }
    file->uploaded = true;  // the master has this content already
  } else {
    file->dirty = true;
  }
  *out = std::move(file);
  return 0;
}

int DfsFilesystem::Create(const std::string& path, mode_t mode, fuse_file_info* fi) {
  std::shared_ptr<OpenFile> file;
  if (int rc = OpenForWrite(path, /*truncate=*/true, &file); rc != 0) return rc;
  if ((mode & 07777) != 0644) file->pending_mode = static_cast<int>(mode & 07777);
  ForgetAttr(path);
  fi->fh = Register(std::move(file));
  return 0;
}

int DfsFilesystem::Open(const std::string& path, fuse_file_info* fi) {
  if ((fi->flags & O_ACCMODE) != O_RDONLY) {
    std::shared_ptr<OpenFile> file;
    if (int rc = OpenForWrite(path, (fi->flags & O_TRUNC) != 0, &file); rc != 0) return rc;
    fi->fh = Register(std::move(file));
    return 0;
  }
  // Reading: always ask the master for the current md5, then use (or make)
  // a verified local copy with exactly that md5.
  Status st;
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto info = client_.StatPath(path);
    if (!info.ok()) return ErrnoFor(info.status());
    if (info->type == "dir") return -EISDIR;
    CacheAttr(path, *info);
    auto local = cache_->Fetch(client_, path, info->md5);
    if (local.ok()) {
      auto file = std::make_shared<OpenFile>();
      file->path = path;
      file->fd.Reset(::open(local->c_str(), O_RDONLY | O_CLOEXEC));
      if (!file->fd) return -errno;
      fi->fh = Register(std::move(file));
      return 0;
    }
    st = local.status();
    if (st.code() != Code::kUnavailable) break;  // changed meanwhile: look again
  }
  DFS_LOG(WARN, "fuse") << "open name=" << path << " failed: " << st.ToString();
  return ErrnoFor(st);
}

int DfsFilesystem::Read(char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  auto file = Handle(fi);
  if (!file) return -EBADF;
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(file->fd.get(), buf + done, size - done, offset + static_cast<off_t>(done));
    if (n < 0) return -errno;
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return static_cast<int>(done);
}

int DfsFilesystem::Write(const char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  auto file = Handle(fi);
  if (!file) return -EBADF;
  if (file->spool_path.empty()) return -EBADF;
  std::lock_guard lock(file->mu);
  if (fi->flags & O_APPEND) {
    struct stat st {};
    if (::fstat(file->fd.get(), &st) != 0) return -errno;
    offset = st.st_size;
  }
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pwrite(file->fd.get(), buf + done, size - done, offset + static_cast<off_t>(done));
    if (n < 0) return -errno;
    done += static_cast<size_t>(n);
  }
  file->dirty = !file->path.empty();
  return static_cast<int>(size);
}

int DfsFilesystem::Upload(OpenFile& file) {
  if (!file.dirty || file.path.empty()) return 0;
  PutOptions options;
  options.conflict = "overwrite";
  auto put = client_.Put(file.spool_path, file.path, options);
  if (!put.ok()) {
    DFS_LOG(ERROR, "fuse") << "upload name=" << file.path << " failed: " << put.status().ToString();
    return ErrnoFor(put.status());
  }
  file.dirty = false;
  file.uploaded = true;
  file.uploaded_md5 = put->md5;
  ForgetAttr(file.path);
  if (file.pending_mode || file.pending_mtime) {
    SetAttrRequest req;
    req.mode = file.pending_mode;
    req.mtime = file.pending_mtime;
    Status st = client_.SetAttr(file.path, req);
    if (!st.ok()) {
      DFS_LOG(WARN, "fuse") << "setattr name=" << file.path << " after upload failed: " << st.ToString();
      return ErrnoFor(st);
    }
    file.pending_mode.reset();
    file.pending_mtime.reset();
  }
  DFS_LOG(INFO, "fuse") << "uploaded name=" << file.path << " size=" << put->size << " md5=" << put->md5;
  return 0;
}

int DfsFilesystem::Flush(fuse_file_info* fi) {
  auto file = Handle(fi);
  if (!file || file->spool_path.empty()) return 0;
  std::lock_guard lock(file->mu);
  return Upload(*file);
}

int DfsFilesystem::Truncate(const std::string& path, off_t size, fuse_file_info* fi) {
  if (size < 0) return -EINVAL;
  std::shared_ptr<OpenFile> file = fi ? Handle(fi) : nullptr;
  if (!file || file->spool_path.empty()) file = WritableHandleFor(path);
  if (file) {
    std::lock_guard lock(file->mu);
    if (::ftruncate(file->fd.get(), size) != 0) return -errno;
    file->dirty = !file->path.empty();
    return 0;
  }
  // Not open here: fetch, cut, upload.
  if (int rc = OpenForWrite(path, size == 0, &file); rc != 0) return rc;
  int rc = ::ftruncate(file->fd.get(), size) == 0 ? 0 : -errno;
  file->dirty = true;
  if (rc == 0) rc = Upload(*file);
  ::unlink(file->spool_path.c_str());
  return rc;
}

int DfsFilesystem::Release(fuse_file_info* fi) {
  std::shared_ptr<OpenFile> file;
  {
    std::lock_guard lock(handles_mu_);
    auto it = handles_.find(fi->fh);
    if (it == handles_.end()) return 0;
    file = std::move(it->second);
    handles_.erase(it);
  }
  std::lock_guard lock(file->mu);
  if (file->spool_path.empty()) return 0;
  if (file->dirty && Upload(*file) != 0) {
    // close() already got the error from flush; nothing else can be told.
    DFS_LOG(ERROR, "fuse") << "release name=" << file->path << ": changes could not be uploaded";
  }
  if (!file->dirty && !file->uploaded_md5.empty()) cache_->Adopt(file->spool_path, file->uploaded_md5);
  ::unlink(file->spool_path.c_str());
  return 0;
}

// ---- the operations table -----------------------------------------------------

fuse_operations DfsFilesystem::Operations() {
  fuse_operations ops{};
  ops.init = [](fuse_conn_info* conn, fuse_config* cfg) -> void* {
    auto* self = Self();
    double ttl = std::chrono::duration<double>(self->attr_ttl_).count();
    cfg->attr_timeout = ttl;
    cfg->entry_timeout = ttl;
    cfg->negative_timeout = 0;
    cfg->hard_remove = 1;  // no .fuse_hidden files: unlink is unlink
    cfg->use_ino = 0;
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    return self;
  };
  ops.getattr = [](const char* p, struct stat* st, fuse_file_info* fi) {
    return Guard("getattr", p, [&] { return Self()->GetAttr(DfsPath(p), st, fi); });
  };
  ops.readdir = [](const char* p, void* buf, fuse_fill_dir_t filler, off_t, fuse_file_info*, fuse_readdir_flags) {
    return Guard("readdir", p, [&] { return Self()->ReadDir(DfsPath(p), buf, filler); });
  };
  ops.mkdir = [](const char* p, mode_t mode) {
    return Guard("mkdir", p, [&] { return Self()->MakeDir(DfsPath(p), mode); });
  };
  ops.rmdir = [](const char* p) { return Guard("rmdir", p, [&] { return Self()->RemoveDir(DfsPath(p)); }); };
  ops.unlink = [](const char* p) { return Guard("unlink", p, [&] { return Self()->Unlink(DfsPath(p)); }); };
  ops.rename = [](const char* from, const char* to, unsigned int flags) {
    return Guard("rename", from, [&] { return Self()->Rename(DfsPath(from), DfsPath(to), flags); });
  };
  ops.chmod = [](const char* p, mode_t mode, fuse_file_info*) {
    return Guard("chmod", p, [&] { return Self()->Chmod(DfsPath(p), mode); });
  };
  ops.chown = [](const char*, uid_t uid, gid_t gid, fuse_file_info*) {
    // Files belong to whoever mounted; only a no-op chown is allowed.
    bool same = (uid == static_cast<uid_t>(-1) || uid == ::getuid()) &&
                (gid == static_cast<gid_t>(-1) || gid == ::getgid());
    return same ? 0 : -EPERM;
  };
  ops.utimens = [](const char* p, const struct timespec tv[2], fuse_file_info*) {
    return Guard("utimens", p, [&] { return Self()->Utimens(DfsPath(p), tv); });
  };
  ops.truncate = [](const char* p, off_t size, fuse_file_info* fi) {
    return Guard("truncate", p, [&] { return Self()->Truncate(DfsPath(p), size, fi); });
  };
  ops.create = [](const char* p, mode_t mode, fuse_file_info* fi) {
    return Guard("create", p, [&] { return Self()->Create(DfsPath(p), mode, fi); });
  };
  ops.open = [](const char* p, fuse_file_info* fi) {
    return Guard("open", p, [&] { return Self()->Open(DfsPath(p), fi); });
  };
  ops.read = [](const char* p, char* buf, size_t size, off_t off, fuse_file_info* fi) {
    return Guard("read", p, [&] { return Self()->Read(buf, size, off, fi); });
  };
  ops.write = [](const char* p, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
    return Guard("write", p, [&] { return Self()->Write(buf, size, off, fi); });
  };
  ops.flush = [](const char* p, fuse_file_info* fi) { return Guard("flush", p, [&] { return Self()->Flush(fi); }); };
  ops.fsync = [](const char* p, int, fuse_file_info* fi) {
    return Guard("fsync", p, [&] { return Self()->Flush(fi); });
  };
  ops.release = [](const char* p, fuse_file_info* fi) {
    return Guard("release", p, [&] { return Self()->Release(fi); });
  };
  ops.statfs = [](const char* p, struct statvfs* st) {
    return Guard("statfs", p, [&] { return Self()->StatFs(st); });
  };
  // Not supported, with the errno a program expects rather than ENOSYS.
  ops.symlink = [](const char*, const char*) { return -EPERM; };
  ops.link = [](const char*, const char*) { return -EPERM; };
  ops.mknod = [](const char*, mode_t, dev_t) { return -EPERM; };
  ops.readlink = [](const char*, char*, size_t) { return -EINVAL; };
  ops.setxattr = [](const char*, const char*, const char*, size_t, int) { return -ENOTSUP; };
  ops.getxattr = [](const char*, const char*, char*, size_t) { return -ENOTSUP; };
  ops.listxattr = [](const char*, char*, size_t) { return 0; };
  ops.removexattr = [](const char*, const char*) { return -ENOTSUP; };
  return ops;
}

}  // namespace dfs::fuse_client
