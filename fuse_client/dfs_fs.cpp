#include "fuse_client/dfs_fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <set>
#include <string_view>
#include <utility>

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

timespec NsToTimespec(int64_t ns) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(ns / 1000000000);
  ts.tv_nsec = static_cast<long>(ns % 1000000000);
  if (ts.tv_nsec < 0) {
    ts.tv_nsec += 1000000000;
    --ts.tv_sec;
  }
  return ts;
}

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string Join(const std::string& dir, const std::string& name) { return dir.empty() ? name : dir + "/" + name; }

bool IsAtOrUnder(const std::string& path, const std::string& top) {
  return !top.empty() && (path == top || path.compare(0, top.size() + 1, top + "/") == 0);
}

// dfs's name limits, which the kernel does not know (it passes up to 1024).
int CheckName(const char* fuse_path) {
  if (!fuse_path) return 0;
  std::string_view p(fuse_path);
  if (p.size() > kMaxPathBytes) return -ENAMETOOLONG;
  for (size_t start = 0; start <= p.size();) {
    size_t end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    if (end - start > kMaxComponentBytes) return -ENAMETOOLONG;
    start = end + 1;
  }
  return 0;
}

// The process that made the current FUSE request: its uid, gid and groups
// go with every request to the master (new inodes get its owner, and the
// master checks its permissions).
Credentials CallerOfRequest() {
  Credentials who;
  const fuse_context* ctx = fuse_get_context();
  who.uid = static_cast<uint32_t>(ctx->uid);
  who.gid = static_cast<uint32_t>(ctx->gid);
  gid_t groups[64];
  int n = fuse_getgroups(64, groups);
  if (n > 64) {  // more than fit: ask again with room for all
    std::vector<gid_t> all(static_cast<size_t>(n));
    n = fuse_getgroups(n, all.data());
    for (int i = 0; i < n && i < static_cast<int>(all.size()); ++i) who.groups.push_back(all[static_cast<size_t>(i)]);
  } else {
    for (int i = 0; i < n; ++i) who.groups.push_back(static_cast<uint32_t>(groups[i]));
  }
  return who;
}

// Runs an operation as the calling process, turning an escaped exception
// into EIO (and a log line) rather than a crashed mount.
template <typename Fn>
int Guard(const char* op, const char* path, Fn&& fn) {
  if (int rc = CheckName(path); rc != 0) return rc;
  try {
    const Credentials who = CallerOfRequest();
    CallerScope as(who);
    return fn();
  } catch (const std::exception& e) {
    DFS_LOG(ERROR, "fuse") << op << " name=" << (path ? path : "") << " failed: " << e.what();
    return -EIO;
  }
}

// Guard of an operation that must see every unlink this mount answered
// (UnlinkQueue): those queued are sent first.
template <typename Fn>
int GuardSettled(const char* op, const char* path, Fn&& fn) {
  return Guard(op, path, [&] {
    Self()->SettleUnlinks();
    return fn();
  });
}

}  // namespace

DfsFilesystem::DfsFilesystem(DfsClient client, std::unique_ptr<FileCache> cache, std::chrono::milliseconds attr_ttl,
                             bool verify_at_open)
    : client_(std::move(client)),
      unlinks_(std::make_unique<UnlinkQueue>(client_)),
      cache_(std::move(cache)),
      read_ahead_(std::make_unique<ReadAhead>(client_, *cache_)),
      attr_ttl_(attr_ttl),
      verify_at_open_(verify_at_open),
      uid_(::getuid()),
      gid_(::getgid()) {}

DfsFilesystem::~DfsFilesystem() {
  unlinks_.reset();  // sends what is queued
  read_ahead_.reset();
  {
    std::lock_guard lock(renew_mu_);
    stopping_ = true;
  }
  renew_cv_.notify_all();
  if (renewer_.joinable()) renewer_.join();
}

// ---- the master's handles of open files --------------------------------------

void DfsFilesystem::StartRenewing() {
  if (!renewer_.joinable()) renewer_ = std::thread([this] { RenewLoop(); });
}

Result<FileInfo> DfsFilesystem::OpenMasterHandle(OpenFile& file, const std::string& path) {
  auto opened = client_.OpenHandle(path);
  if (!opened.ok()) return opened.status();
  if (opened->lease_s > 0) {
    std::lock_guard lock(renew_mu_);
    renew_every_ = std::min(renew_every_, std::chrono::milliseconds(static_cast<int64_t>(opened->lease_s * 1000 / 3)));
  }
  file.Update([&](FileState& s) { s.handle = opened->handle; });
  return FileInfoFromJson(nlohmann::json(opened->entry));
}

void DfsFilesystem::CloseMasterHandle(OpenFile& file) {
  std::string handle;
  file.Update([&](FileState& s) { handle = std::exchange(s.handle, ""); });
  if (handle.empty()) return;
  Status st = client_.CloseHandle(handle);
  if (!st.ok() && st.code() != Code::kNotFound) {
    DFS_LOG(WARN, "fuse") << "close handle=" << handle << " failed (it lapses with its lease): " << st.ToString();
  }
}

// Renews the handles of every open file, a third of a lease apart; a handle
// the master no longer has (this mount was cut off longer than a lease) is
// dropped, and its file is written by name again.
void DfsFilesystem::RenewLoop() {
  std::unique_lock lock(renew_mu_);
  while (!renew_cv_.wait_for(lock, renew_every_, [this] { return stopping_; })) {
    lock.unlock();
    std::map<std::string, std::shared_ptr<OpenFile>> open;
    {
      std::lock_guard handles(handles_mu_);
      for (const auto& [id, f] : handles_) {
        if (std::string h = f->Get().handle; !h.empty()) open[h] = f;
      }
    }
    std::vector<std::string> list;
    for (const auto& [h, f] : open) list.push_back(h);
    auto gone = list.empty() ? Result<std::vector<std::string>>(std::vector<std::string>{}) : client_.RenewHandles(list);
    if (!gone.ok()) DFS_LOG(WARN, "fuse") << "renewing " << list.size() << " handle(s) failed: " << gone.status().ToString();
    for (const auto& h : gone.ok() ? *gone : std::vector<std::string>{}) {
      DFS_LOG(WARN, "fuse") << "handle=" << h << " lapsed on the master; name=" << open[h]->Path() << " is written by name";
      open[h]->Update([&](FileState& s) {
        if (s.handle == h) s.handle.clear();
      });
    }
    lock.lock();
  }
}

// ---- attributes -------------------------------------------------------------

static mode_t TypeBits(const std::string& type) {
  if (type == "dir") return S_IFDIR;
  if (type == "symlink") return S_IFLNK;
  if (type == "fifo") return S_IFIFO;
  if (type == "socket") return S_IFSOCK;
  if (type == "char") return S_IFCHR;
  if (type == "block") return S_IFBLK;
  return S_IFREG;
}

void DfsFilesystem::FillStat(const FileInfo& info, struct stat* st) const {
  *st = {};
  const bool dir = info.type == "dir";
  st->st_mode = TypeBits(info.type) | (info.mode & 07777);
  st->st_rdev = static_cast<dev_t>(info.rdev);
  st->st_nlink = static_cast<nlink_t>(info.nlink > 0 ? info.nlink : (dir ? 2 : 1));
  st->st_size = static_cast<off_t>(info.size);
  st->st_blocks = static_cast<blkcnt_t>((info.size + 511) / 512);
  st->st_blksize = 1 << 20;  // invites large reads and writes
  // A master without owners (before inodes: ino 0) has files of whoever
  // mounted; a file not uploaded yet (ino -1) has its creator's.
  st->st_uid = info.ino != 0 ? static_cast<uid_t>(info.uid) : uid_;
  st->st_gid = info.ino != 0 ? static_cast<gid_t>(info.gid) : gid_;
  if (info.mtime_ns != 0) {  // exact
    st->st_mtim = NsToTimespec(info.mtime_ns);
    st->st_atim = NsToTimespec(info.atime_ns);
    st->st_ctim = NsToTimespec(info.ctime_ns);
  } else {
    st->st_mtim = ToTimespec(info.mtime);
    st->st_atim = ToTimespec(info.atime > 0 ? info.atime : info.mtime);
    st->st_ctim = ToTimespec(info.ctime > 0 ? info.ctime : info.mtime);
  }
  // Inode numbers are the master's (use_ino): one for all names of a file,
  // kept across renames. A file not on the master yet gets one from its name.
  st->st_ino = info.ino > 0 ? static_cast<ino_t>(info.ino)
                            : static_cast<ino_t>((uint64_t{1} << 62) | (std::hash<std::string>{}(info.name) >> 2));
}

void DfsFilesystem::CacheAttr(const std::string& path, const FileInfo& info) {
  std::lock_guard lock(attrs_mu_);
  attrs_[path] = {info, std::chrono::steady_clock::now() + attr_ttl_};
  if (info.nlink > 1 && info.ino > 0 && info.type != "dir") {
    aliases_[info.ino].insert(path);
    ino_of_[path] = info.ino;
  }
}

void DfsFilesystem::ForgetAttr(const std::string& path) {
  // The other names of a hard-linked file show the same inode: the kernel
  // knows them as other files (libfuse's path API), so it is told too. A
  // name is registered while the kernel may hold attributes of it that say
  // nlink > 1 (it registers again when it asks again).
  std::set<std::string> others;
  {
    std::lock_guard lock(attrs_mu_);
    attrs_.erase(path);
    if (auto it = ino_of_.find(path); it != ino_of_.end()) {
      if (auto alias = aliases_.find(it->second); alias != aliases_.end()) {
        others.swap(alias->second);
        aliases_.erase(alias);
      }
      for (const auto& other : others) {
        attrs_.erase(other);
        ino_of_.erase(other);
      }
      ino_of_.erase(path);
    }
  }
  others.erase(path);
  for (const auto& other : others) InvalidateKernelAttr(other);
}

int64_t DfsFilesystem::HardLinkedInode(const std::string& path) {
  {
    std::lock_guard lock(attrs_mu_);
    if (aliases_.empty()) return 0;  // no other name of anything is known: nothing to tell
    if (auto it = ino_of_.find(path); it != ino_of_.end()) return it->second;
  }
  auto info = client_.StatPath(path);
  return info.ok() && info->nlink > 1 && info->type != "dir" ? info->ino : 0;
}

void DfsFilesystem::ForgetInode(int64_t ino) {
  std::set<std::string> names;
  {
    std::lock_guard lock(attrs_mu_);
    auto alias = aliases_.find(ino);
    if (alias == aliases_.end()) return;
    names.swap(alias->second);
    aliases_.erase(alias);
    for (const auto& name : names) {
      attrs_.erase(name);
      ino_of_.erase(name);
    }
  }
  for (const auto& name : names) InvalidateKernelAttr(name);
}

void DfsFilesystem::ForgetEntry(const std::string& path) {
  ForgetAttr(path);
  ForgetAttr(ParentPath(path));  // its folder's times and link count changed
}

void DfsFilesystem::InvalidateKernelAttr(const std::string& path) {
  // fuse_ is set once mounted (init); the daemon's own tests run without a kernel.
  if (fuse* f = fuse_.load()) fuse_invalidate_path(f, ("/" + path).c_str());
}

void DfsFilesystem::ForgetAllAttrs() {
  std::lock_guard lock(attrs_mu_);
  attrs_.clear();
  // Aliases stay: the kernel may still hold what it was told of them.
}

std::optional<FileInfo> DfsFilesystem::Cached(const std::string& path) {
  std::lock_guard lock(attrs_mu_);
  auto it = attrs_.find(path);
  if (it == attrs_.end() || it->second.expires <= std::chrono::steady_clock::now()) return std::nullopt;
  return it->second.info;
}

std::optional<int64_t> DfsFilesystem::DeferrableUnlink(const std::string& path, const Credentials& who,
                                                       const LockedFiles& open) {
  if (!unlinks_->accepting() || !open.files.empty()) return std::nullopt;
  {
    std::lock_guard lock(attrs_mu_);
    if (!aliases_.empty()) return std::nullopt;  // names of hard-linked files are known: HardLinkedInode
  }
  // A name the kernel looked up but this cache no longer has (a file made
  // here) goes with ino 0: whatever it names when sent, as a DELETE would.
  auto entry = Cached(path);
  if (entry && (entry->type == "dir" || entry->nlink > 1)) return std::nullopt;
  const int64_t ino = entry ? std::max<int64_t>(entry->ino, 0) : 0;
  if (who.IsRoot()) return ino;
  const std::string dir = ParentPath(path);
  auto folder = Cached(dir);
  if (!entry || !folder ||
      !MayRemove(who, static_cast<uint32_t>(folder->uid), static_cast<uint32_t>(folder->gid), folder->mode,
                 static_cast<uint32_t>(entry->uid))) {
    return std::nullopt;
  }
  for (std::string up = dir; !up.empty();) {  // the folders above it, searchable
    up = ParentPath(up);
    auto above = Cached(up);
    if (!above || !MayAccess(who, static_cast<uint32_t>(above->uid), static_cast<uint32_t>(above->gid), above->mode,
                             /*is_dir=*/true, kMayExec)) {
      return std::nullopt;
    }
  }
  return ino;
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
  if (unlinks_->IsPending(path)) return -ENOENT;  // unlinked here, not sent yet
  if (unlinks_->IsPendingIn(path)) unlinks_->Settle();  // a folder whose times the unlinks change
  std::shared_ptr<OpenFile> file = fi ? Handle(fi) : nullptr;
  if (!file || file->spool_path.empty()) file = WritableHandleFor(path);
  if (file) {
    const FileState state = file->Get();
    if (state.dirty || !state.uploaded) {  // changed here and not uploaded: the spool has the size
      struct stat spool {};
      if (::fstat(file->fd.get(), &spool) != 0) return -errno;
      FileInfo info;
      if (state.uploaded) {
        auto known = LookUp(path);
        if (known.ok()) info = *known;
      } else {  // not on the master yet: it will belong to whoever created it
        info.name = path;
        info.ino = -1;
        info.uid = state.owner_uid;
        info.gid = state.owner_gid;
        info.ctime = info.atime = 0;
      }
      info.size = static_cast<uint64_t>(spool.st_size);
      info.mode = state.pending_mode.value_or(info.mode);
      // Changed here: its times are the spool's (a pending utimens wins for mtime).
      auto ns = [](const timespec& t) { return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; };
      info.mtime_ns = state.pending_mtime ? static_cast<int64_t>(*state.pending_mtime * 1e9) : ns(spool.st_mtim);
      info.ctime_ns = ns(spool.st_ctim);
      if (info.atime_ns == 0) info.atime_ns = ns(spool.st_atim);
      FillStat(info, st);
      return 0;
    }
  }
  auto info = LookUp(path);
  if (!info.ok()) return ErrnoFor(info.status());
  FillStat(*info, st);
  return 0;
}

int DfsFilesystem::OpenDir(const std::string& path, fuse_file_info* fi) {
  auto cursor = std::make_shared<DirCursor>();
  cursor->path = path;
  std::lock_guard lock(handles_mu_);
  fi->fh = next_handle_++;
  dirs_[fi->fh] = std::move(cursor);
  return 0;
}

int DfsFilesystem::ReleaseDir(fuse_file_info* fi) {
  std::lock_guard lock(handles_mu_);
  dirs_.erase(fi->fh);
  return 0;
}

// Positions: 0 is ".", 1 is "..", then the master's entries in its order,
// then files being written here that the master does not have yet. The
// cursor holds one page (kDirPage entries), so a folder of any size lists in
// bounded memory; the kernel asks for the position after the last entry it took.
std::string DfsFilesystem::PathFor(const char* fuse_path, fuse_file_info* fi) {
  if (fuse_path) return DfsPath(fuse_path);
  auto file = fi ? Handle(fi) : nullptr;
  return file ? file->Path() : std::string();
}

int DfsFilesystem::GetAttrOfHandle(struct stat* st, fuse_file_info* fi) {
  auto file = fi ? Handle(fi) : nullptr;
  if (!file) return -ESTALE;
  const std::string path = file->Path();
  if (!path.empty()) return GetAttr(path, st, fi);
  if (auto reader = file->Reader()) {  // unlinked while open: as last read, with no links
    FillStat(reader->entry(), st);
    st->st_nlink = 0;
    return 0;
  }
  // Unlinked while open: what its local copy or spool says, with no links.
  struct stat local {};
  if (::fstat(file->fd.get(), &local) != 0) return -errno;
  FileInfo info;
  info.ino = -1;
  info.nlink = 0;
  info.size = static_cast<uint64_t>(local.st_size);
  info.mode = static_cast<int>(local.st_mode & 07777);
  info.uid = file->Get().owner_uid;
  info.gid = file->Get().owner_gid;
  auto ns = [](const timespec& t) { return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; };
  info.mtime_ns = ns(local.st_mtim);
  info.atime_ns = ns(local.st_atim);
  info.ctime_ns = ns(local.st_ctim);
  FillStat(info, st);
  st->st_nlink = 0;
  return 0;
}

int DfsFilesystem::ReadDir(const std::string& path, void* buf, fuse_fill_dir_t filler, off_t offset,
                           fuse_file_info* fi) {
  std::shared_ptr<DirCursor> cursor;
  {
    std::lock_guard lock(handles_mu_);
    auto it = fi ? dirs_.find(fi->fh) : dirs_.end();
    if (it != dirs_.end()) cursor = it->second;
  }
  if (!cursor) {  // no opendir (cannot happen with libfuse, but cost nothing to allow)
    cursor = std::make_shared<DirCursor>();
    cursor->path = path;
  }
  std::lock_guard lock(cursor->mu);
  const std::string& dir = cursor->path;
  off_t pos = offset;
  if (pos == 0 && filler(buf, ".", nullptr, ++pos, static_cast<fuse_fill_dir_flags>(0)) != 0) return 0;
  if (pos == 1 && filler(buf, "..", nullptr, ++pos, static_cast<fuse_fill_dir_flags>(0)) != 0) return 0;
  struct stat st {};
  for (;;) {
    if (!cursor->fetched || pos < cursor->first) {  // first call, or a rewind
      auto page = client_.ListDirPage(dir, "", kDirPage, &cursor->next);
      if (!page.ok()) return ErrnoFor(page.status());
      cursor->page = std::move(*page);
      cursor->first = 2;
      cursor->fetched = true;
    }
    while (pos >= cursor->first + static_cast<off_t>(cursor->page.size()) && !cursor->next.empty()) {
      const std::string after = cursor->next;
      auto page = client_.ListDirPage(dir, after, kDirPage, &cursor->next);
      if (!page.ok()) return ErrnoFor(page.status());
      cursor->first += static_cast<off_t>(cursor->page.size());
      cursor->page = std::move(*page);
    }
    const off_t index = pos - cursor->first;
    if (index >= static_cast<off_t>(cursor->page.size())) break;
    const FileInfo& e = cursor->page[static_cast<size_t>(index)];
    CacheAttr(Join(dir, e.name), e);
    FillStat(e, &st);
    if (filler(buf, e.name.c_str(), &st, ++pos, FUSE_FILL_DIR_PLUS) != 0) return 0;
  }
  // Files being written here but not uploaded yet (the master has no entry for them).
  std::vector<std::string> pending;
  {
    std::lock_guard hl(handles_mu_);
    for (const auto& [id, f] : handles_) {
      if (f->spool_path.empty() || f->Get().uploaded) continue;
      std::string p = f->Path();
      if (!p.empty() && ParentPath(p) == dir) pending.push_back(p);
    }
  }
  std::sort(pending.begin(), pending.end());
  pending.erase(std::unique(pending.begin(), pending.end()), pending.end());
  const off_t end = cursor->first + static_cast<off_t>(cursor->page.size());
  for (off_t i = pos - end; i >= 0 && i < static_cast<off_t>(pending.size()); ++i) {
    const std::string& p = pending[static_cast<size_t>(i)];
    if (GetAttr(p, &st, nullptr) == 0 && filler(buf, BaseName(p).c_str(), &st, ++pos, FUSE_FILL_DIR_PLUS) != 0) {
      return 0;
    }
  }
  return 0;
}

// ---- namespace --------------------------------------------------------------

int DfsFilesystem::MakeDir(const std::string& path, mode_t mode) {
  Status st = client_.MakeDir(path, static_cast<int>(mode & 07777));
  ForgetEntry(path);
  return st.ok() ? 0 : ErrnoFor(st);
}

int DfsFilesystem::RemoveDir(const std::string& path) {
  Status st = client_.RemoveDir(path);
  ForgetEntry(path);
  return st.ok() ? 0 : ErrnoFor(st);
}

DfsFilesystem::LockedFiles DfsFilesystem::LockFiles(const std::string& a, const std::string& b, bool b_subtree) {
  LockedFiles out;
  {
    std::lock_guard lock(handles_mu_);  // never held while waiting for a file
    for (const auto& [id, f] : handles_) {
      std::string p = f->Path();
      if (IsAtOrUnder(p, a) || (!b.empty() && (b_subtree ? IsAtOrUnder(p, b) : p == b))) out.files.push_back(f);
    }
  }
  std::sort(out.files.begin(), out.files.end());
  out.files.erase(std::unique(out.files.begin(), out.files.end()), out.files.end());
  for (auto& f : out.files) out.locks.emplace_back(f->mu);
  return out;
}

int DfsFilesystem::Unlink(const std::string& path) {
  LockedFiles open = LockFiles(path);
  const Credentials* who = CallerScope::Current();
  if (auto ino = who ? DeferrableUnlink(path, *who, open) : std::nullopt) {
    unlinks_->Add(path, *ino, *who);  // durable at the next fsync or within a second of being sent
    ForgetEntry(path);
    return 0;
  }
  unlinks_->Settle();  // in the order they were made
  const int64_t linked = HardLinkedInode(path);
  Status st = client_.Remove(path, /*relaxed=*/true);  // durable at the next fsync or within a second
  if (linked) ForgetInode(linked);  // its other names lost a link
  ForgetEntry(path);
  bool local_only = false;
  for (auto& f : open.files) {
    FileState s = f->Get();
    if (s.path == path && !f->spool_path.empty()) local_only = local_only || !s.uploaded;
  }
  if (!st.ok() && !(st.code() == Code::kNotFound && local_only)) return ErrnoFor(st);
  for (auto& f : open.files) {
    // Unlinked while open: the program may go on using it, but it is no
    // longer a name in dfs, so it is never uploaded.
    bool gone = false;
    f->Update([&](FileState& s) {
      if (s.path != path) return;
      s.path.clear();
      s.dirty = false;
      gone = true;
    });
    if (gone) f->behind.reset();
  }
  return 0;
}

int DfsFilesystem::Rename(const std::string& from, const std::string& to, unsigned int flags) {
  if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)) return -EINVAL;
  if ((flags & RENAME_NOREPLACE) && WritableHandleFor(to)) return -EEXIST;  // being written here
  const bool exchange = (flags & RENAME_EXCHANGE) != 0;
  // Locking waits out an upload in flight, so the master has the file (or
  // it failed and stays local) before the rename is decided.
  LockedFiles open = LockFiles(from, to, /*b_subtree=*/exchange);
  const int64_t replaced = HardLinkedInode(to), renamed = HardLinkedInode(from);
  Status st = client_.Rename(from, to, exchange ? "exchange" : (flags & RENAME_NOREPLACE) ? "noreplace" : "");
  ForgetAllAttrs();
  for (int64_t ino : {replaced, renamed}) {
    if (ino) ForgetInode(ino);  // other names of what was replaced or moved: nlink, ctime
  }
  bool local_only = false;
  for (auto& f : open.files) {
    FileState s = f->Get();
    if (s.path == from && !f->spool_path.empty()) local_only = local_only || !s.uploaded;
  }
  if (!st.ok() && (exchange || !(st.code() == Code::kNotFound && local_only))) return ErrnoFor(st);
  if (!st.ok()) {  // not uploaded yet: a local rename, unless onto a folder
    auto target = client_.StatPath(to);
    if (target.ok() && target->type == "dir") return -EISDIR;
    if (target.ok() && (flags & RENAME_NOREPLACE)) return -EEXIST;
  }
  auto moved = [](const std::string& path, const std::string& a, const std::string& b) {
    return b + path.substr(a.size());
  };
  for (auto& f : open.files) {
    f->Update([&](FileState& s) {
      if (exchange) {
        if (IsAtOrUnder(s.path, from)) {
          s.path = moved(s.path, from, to);
        } else if (IsAtOrUnder(s.path, to)) {
          s.path = moved(s.path, to, from);
        }
      } else if (s.path == to && !IsAtOrUnder(s.path, from)) {  // replaced: its name is gone
        s.path.clear();
        s.dirty = false;
      } else if (IsAtOrUnder(s.path, from)) {
        s.path = moved(s.path, from, to);
      }
    });
  }
  return 0;
}

int DfsFilesystem::Chmod(const std::string& path, mode_t mode) {
  if (auto f = WritableHandleFor(path)) {
    bool pending = false;
    f->Update([&](FileState& s) {
      if ((pending = s.dirty)) s.pending_mode = static_cast<int>(mode & 07777);  // applied after the upload
    });
    if (pending) return 0;
  }
  SetAttrRequest req;
  req.mode = static_cast<int>(mode & 07777);
  Status st = client_.SetAttr(path, req);
  ForgetAttr(path);
  return st.ok() ? 0 : ErrnoFor(st);
}

int DfsFilesystem::Utimens(const std::string& path, const struct timespec tv[2]) {
  SetAttrRequest req;
  auto take = [](const timespec& t, std::optional<int64_t>* value, bool* now) {
    if (t.tv_nsec == UTIME_OMIT) return;
    if (t.tv_nsec == UTIME_NOW) {
      *now = true;
    } else {
      *value = static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
    }
  };
  if (tv) {
    take(tv[0], &req.atime_ns, &req.atime_now);
    take(tv[1], &req.mtime_ns, &req.mtime_now);
  } else {
    req.atime_now = req.mtime_now = true;
  }
  if (!req.atime_ns && !req.mtime_ns && !req.atime_now && !req.mtime_now) return 0;
  if (auto f = WritableHandleFor(path)) {
    bool pending = false;
    const double mtime = req.mtime_ns ? static_cast<double>(*req.mtime_ns) / 1e9 : NowSeconds();
    f->Update([&](FileState& s) {
      // Not on the master yet: its upload carries the time. (atime of a file
      // being written is its upload's.)
      if ((pending = s.dirty && !s.uploaded) && (req.mtime_ns || req.mtime_now)) s.pending_mtime = mtime;
    });
    if (pending) return 0;
    if (int rc = FlushPath(path); rc != 0) return rc;  // the upload's mtime would undo this one
  }
  Status st = client_.SetAttr(path, req);
  ForgetAttr(path);
  return st.ok() ? 0 : ErrnoFor(st);
}

int DfsFilesystem::Chown(const std::string& path, uid_t uid, gid_t gid) {
  SetAttrRequest req;
  if (uid != static_cast<uid_t>(-1)) req.uid = static_cast<uint32_t>(uid);
  if (gid != static_cast<gid_t>(-1)) req.gid = static_cast<uint32_t>(gid);
  if (int rc = FlushPath(path); rc != 0) return rc;  // the master must know the file first
  Status st = client_.SetAttr(path, req);
  ForgetAttr(path);
  return st.ok() ? 0 : ErrnoFor(st);
}

int DfsFilesystem::FlushPath(const std::string& path) {
  auto f = WritableHandleFor(path);
  if (!f) return 0;
  return UploadAndTell(*f, Then::kStaysOpen);
}

int DfsFilesystem::Symlink(const std::string& target, const std::string& path) {
  Status st = client_.Symlink(path, target);
  ForgetEntry(path);
  return st.ok() ? 0 : ErrnoFor(st);
}

int DfsFilesystem::ReadLink(const std::string& path, char* buf, size_t size) {
  if (size == 0) return -EINVAL;
  auto info = LookUp(path);
  if (!info.ok()) return ErrnoFor(info.status());
  if (info->type != "symlink") return -EINVAL;
  const size_t n = std::min(size - 1, info->target.size());  // FUSE wants it NUL-terminated
  std::memcpy(buf, info->target.data(), n);
  buf[n] = '\0';
  return 0;
}

int DfsFilesystem::Link(const std::string& existing, const std::string& path) {
  if (int rc = FlushPath(existing); rc != 0) return rc;  // a file still local has no inode to link
  Status st = client_.Link(existing, path);
  ForgetAttr(existing);
  ForgetEntry(path);
  if (st.ok()) InvalidateKernelAttr(existing);  // its link count changed
  return st.ok() ? 0 : ErrnoFor(st);
}

int DfsFilesystem::MakeNode(const std::string& path, mode_t mode, dev_t rdev) {
  const char* type = S_ISFIFO(mode) ? "fifo" : S_ISSOCK(mode) ? "socket" : S_ISCHR(mode) ? "char"
                     : S_ISBLK(mode) ? "block" : nullptr;
  Status st;
  if (type) {
    st = client_.MakeNode(path, type, static_cast<int>(mode & 07777), static_cast<uint64_t>(rdev));
  } else if (S_ISREG(mode) || (mode & S_IFMT) == 0) {  // an empty regular file
    const std::string empty = cache_->NewSpoolPath();
    UniqueFd fd(::open(empty.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) return -errno;
    PutOptions options;
    options.conflict = "fail";
    options.mode = static_cast<int>(mode & 07777);
    st = client_.Put(empty, path, options).status();
    ::unlink(empty.c_str());
  } else {
    return -EINVAL;
  }
  ForgetEntry(path);
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

void DfsFilesystem::Unregister(uint64_t id) {
  std::lock_guard lock(handles_mu_);
  handles_.erase(id);
}

std::shared_ptr<OpenFile> DfsFilesystem::Handle(fuse_file_info* fi) {
  std::lock_guard lock(handles_mu_);
  auto it = handles_.find(fi->fh);
  return it == handles_.end() ? nullptr : it->second;
}

std::shared_ptr<OpenFile> DfsFilesystem::WritableHandleFor(const std::string& path) {
  std::lock_guard lock(handles_mu_);
  for (const auto& [id, f] : handles_) {
    if (!f->spool_path.empty() && f->Path() == path) return f;
  }
  return nullptr;
}

int DfsFilesystem::OpenForWrite(const std::string& path, bool truncate, std::shared_ptr<OpenFile>* out) {
  auto file = std::make_shared<OpenFile>();
  file->spool_path = cache_->NewSpoolPath();
  file->fd.Reset(::open(file->spool_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!file->fd) return -errno;
  FileState state;
  state.path = path;
  if (const Credentials* who = CallerScope::Current()) {
    state.owner_uid = who->uid;
    state.owner_gid = who->gid;
  }
  if (!truncate) {
    auto info = OpenMasterHandle(*file, path);
    if (!info.ok()) info = client_.StatPath(path);  // an older master, or not a file: say why
    Status st = info.status();
    if (info.ok() && info->type == "dir") st = Status::IsDirectory(path);
    if (st.ok()) st = StartSpool(*file, path, *info);  // nothing fetched yet
    state.handle = file->Get().handle;
    if (!st.ok()) {
      CloseMasterHandle(*file);
      ::unlink(file->spool_path.c_str());
      return ErrnoFor(st);
    }
    state.uploaded = true;  // the master has this content already
    state.ranges_only = true;
  } else {
    state.dirty = true;
    file->content.seq_md5.emplace();  // empty: hashed as it is written
  }
  file->Update([&](FileState& s) { s = state; });
  *out = std::move(file);
  return 0;
}

int DfsFilesystem::ShareSpool(const std::string& path, fuse_file_info* fi) {
  auto writer = WritableHandleFor(path);
  if (!writer) return -ENOENT;
  std::lock_guard lock(writer->mu);
  if (writer->Get().opens == 0) return -ENOENT;  // released meanwhile
  if ((fi->flags & O_ACCMODE) == O_RDONLY) {
    // A reader sees the writer's bytes as they are written (same inode).
    auto file = std::make_shared<OpenFile>();
    file->fd.Reset(::fcntl(writer->fd.get(), F_DUPFD_CLOEXEC, 0));
    if (!file->fd) return -errno;
    file->spool_of = writer;  // whose content says what is there yet
    file->Update([&](FileState& s) { s.path = path; });
    fi->fh = Register(std::move(file));
    return 0;
  }
  // Another writer shares the spool, as two fds of one local file would.
  if (fi->flags & O_TRUNC) {
    if (int rc = TruncateSpool(*writer, 0); rc != 0) return rc;
    writer->Update([&](FileState& s) { s.dirty = !s.path.empty(); });
  }
  writer->Update([&](FileState& s) { ++s.opens; });
  fi->fh = Register(writer);
  return 0;
}

int DfsFilesystem::Create(const std::string& path, mode_t mode, fuse_file_info* fi) {
  std::shared_ptr<OpenFile> file;
  if (int rc = OpenForWrite(path, /*truncate=*/true, &file); rc != 0) return rc;
  if ((mode & 07777) != 0644) file->Update([&](FileState& s) { s.pending_mode = static_cast<int>(mode & 07777); });
  ForgetEntry(path);
  fi->fh = Register(std::move(file));
  return 0;
}

int DfsFilesystem::Open(const std::string& path, fuse_file_info* fi) {
  if (int rc = ShareSpool(path, fi); rc != -ENOENT) return rc;
  if ((fi->flags & O_ACCMODE) == O_RDONLY) return OpenForRead(path, fi);
  std::shared_ptr<OpenFile> file;
  if (int rc = OpenForWrite(path, (fi->flags & O_TRUNC) != 0, &file); rc != 0) return rc;
  fi->fh = Register(std::move(file));
  return 0;
}

int DfsFilesystem::OpenForRead(const std::string& path, fuse_file_info* fi) {
  // Always ask the master for the current state: the chunk list (each
  // chunk is fetched and checked when a read first needs it) or, with
  // verify=open, a verified local copy of the whole file with exactly its md5.
  Status st;
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto file = std::make_shared<OpenFile>();
    auto info = OpenMasterHandle(*file, path);
    if (!info.ok()) info = client_.StatPath(path);  // an older master, or not a file: say why
    if (!info.ok()) return ErrnoFor(info.status());
    if (info->type == "dir") return -EISDIR;
    CacheAttr(path, *info);
    if (verify_at_open_) {
      auto local = cache_->Fetch(client_, path, info->md5);
      if (local.ok()) file->fd = std::move(*local);
      st = local.status();
    } else {
      auto reader = ChunkReaderFor(path, *file, *info);
      if (reader.ok()) file->SetReader(std::move(*reader));
      st = reader.status();
    }
    if (st.ok()) {
      file->Update([&](FileState& s) {
        s.path = path;
        s.uploaded = true;
      });
      fi->keep_cache = KeepCache(*info) ? 1 : 0;
      fi->fh = Register(std::move(file));
      return 0;
    }
    CloseMasterHandle(*file);
    if (st.code() != Code::kUnavailable) break;  // changed meanwhile: look again
  }
  DFS_LOG(WARN, "fuse") << "open name=" << path << " failed: " << st.ToString();
  return ErrnoFor(st);
}

Result<std::shared_ptr<ChunkReader>> DfsFilesystem::ChunkReaderFor(const std::string& path, const OpenFile& file,
                                                                   const FileInfo& info) {
  auto meta = client_.Meta(path);
  if (!meta.ok()) {
    // Gone or replaced since it was opened: the caller looks again.
    return meta.status().code() == Code::kNotFound ? Status::Unavailable("'" + path + "' changed while it was opened")
                                                   : meta.status();
  }
  auto list = ChunkListFromMeta(*meta);
  if (!list.ok()) return list.status();
  if (info.version != 0 && list->version != info.version) {
    return Status::Unavailable("'" + path + "' changed while it was opened; try again");
  }
  return std::make_shared<ChunkReader>(path, file.Get().handle, std::move(*list), info);
}

bool DfsFilesystem::KeepCache(const FileInfo& info) {
  if (info.ino <= 0 || (info.version == 0 && info.md5.empty())) return false;
  std::lock_guard lock(attrs_mu_);
  if (opened_content_.size() > 100000) opened_content_.clear();  // bounded; forgetting only costs a re-read
  auto content = std::make_pair(info.version, info.md5);
  auto [it, inserted] = opened_content_.try_emplace(info.ino, content);
  if (inserted) return false;
  const bool same = it->second == content;
  it->second = content;
  return same;
}

int DfsFilesystem::Read(char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  auto file = Handle(fi);
  if (!file) return -EBADF;
  if (auto reader = file->Reader()) {
    if (offset < 0) return -EINVAL;
    auto n = reader->Read(client_, *cache_, read_ahead_.get(), buf, size, static_cast<uint64_t>(offset));
    if (!n.ok() && n.status().code() == Code::kChecksumMismatch) {
      // The bytes are not the chunk's: maybe the file changed since it was
      // opened (another mount, the CLI). Then read what it is now.
      auto renewed = reader->Renewed(client_);
      if (renewed.ok() && *renewed) {
        file->SetReader(*renewed);
        n = (*renewed)->Read(client_, *cache_, read_ahead_.get(), buf, size, static_cast<uint64_t>(offset));
      }
    }
    return n.ok() ? static_cast<int>(*n) : ErrnoFor(n.status());
  }
  if (offset < 0) return -EINVAL;
  // A spool (or a reader of one) may not hold these bytes yet: fetched first.
  OpenFile* writer = file->spool_of ? file->spool_of.get() : file->spool_path.empty() ? nullptr : file.get();
  std::unique_lock<std::mutex> lock;
  if (writer) {
    lock = std::unique_lock(writer->content_mu);  // not mu: see OpenFile
    Status st = EnsurePresent(*writer, static_cast<uint64_t>(offset), static_cast<uint64_t>(offset) + size);
    if (!st.ok()) return ErrnoFor(st);
  }
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(file->fd.get(), buf + done, size - done, offset + static_cast<off_t>(done));
    if (n < 0) return -errno;
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return static_cast<int>(done);
}

int DfsFilesystem::Flush(fuse_file_info* fi) {  // close(): each close of an fd (dup'ed ones too)
  auto file = Handle(fi);
  if (!file || file->spool_path.empty()) return 0;
  return UploadAndTell(*file, Then::kCloses);
}

int DfsFilesystem::Fsync(fuse_file_info* fi) {
  auto file = Handle(fi);
  if (file && !file->spool_path.empty()) {
    if (int rc = UploadAndTell(*file, Then::kStaysOpen); rc != 0) return rc;
  }
  return FsyncDir();
}

int DfsFilesystem::FsyncDir() {
  Status st = client_.Sync();
  if (st.ok()) return 0;
  DFS_LOG(ERROR, "fuse") << "fsync: the master's commits could not be synced: " << st.ToString();
  return ErrnoFor(st);
}

int DfsFilesystem::Truncate(const std::string& path, off_t size, fuse_file_info* fi) {
  if (size < 0) return -EINVAL;
  std::shared_ptr<OpenFile> file = fi ? Handle(fi) : nullptr;
  if (!file || file->spool_path.empty()) file = WritableHandleFor(path);
  if (file) {
    std::lock_guard lock(file->mu);
    // A writer whose last release ran meanwhile (close returns before the
    // kernel releases) has uploaded and dropped its spool: not open any more.
    if (fi || file->Get().opens > 0) return TruncateSpool(*file, static_cast<uint64_t>(size));
  }
  // Not open here: fetch, cut, upload. Registered (locked first, so no open
  // shares it) while it uploads, so a rename meanwhile waits for it.
  if (int rc = OpenForWrite(path, size == 0, &file); rc != 0) return rc;
  uint64_t id = 0;
  int rc = 0;
  {
    std::lock_guard lock(file->mu);
    id = Register(file);
    rc = TruncateSpool(*file, static_cast<uint64_t>(size));
    if (size == 0) file->Update([](FileState& s) { s.dirty = true; });  // even when it was empty: as before
    if (rc == 0) rc = Upload(*file, Then::kCloses);
    file->Update([](FileState& s) { s.opens = 0; });
  }
  TellKernel(*file);
  Unregister(id);
  ::unlink(file->spool_path.c_str());
  CloseMasterHandle(*file);
  return rc;
}

int DfsFilesystem::Release(fuse_file_info* fi) {
  auto file = Handle(fi);
  if (!file) return 0;
  if (!file->spool_path.empty()) {
    // Still registered while it uploads, so a rename meanwhile waits for it.
    std::unique_lock lock(file->mu);
    bool last = false;
    file->Update([&](FileState& s) { last = --s.opens == 0; });
    if (last) {
      if (Upload(*file, Then::kCloses) != 0) {
        // close() already got the error from flush; nothing else can be told.
        DFS_LOG(ERROR, "fuse") << "release name=" << file->Path() << ": changes could not be uploaded";
      }
      file->behind.reset();  // one that no upload took (its file was unlinked, say)
      const FileState s = file->Get();
      if (!s.dirty && !s.uploaded_md5.empty()) cache_->Adopt(file->spool_path, s.uploaded_md5);
      ::unlink(file->spool_path.c_str());
      CloseMasterHandle(*file);
    }
    lock.unlock();
    TellKernel(*file);
  } else {
    CloseMasterHandle(*file);  // a reader (a shared spool's reader has none)
  }
  Unregister(fi->fh);
  return 0;
}

// ---- the operations table -----------------------------------------------------

fuse_operations DfsFilesystem::Operations() {
  fuse_operations ops{};
  ops.init = [](fuse_conn_info* conn, fuse_config* cfg) -> void* {
    auto* self = Self();
    self->fuse_ = fuse_get_context()->fuse;
    self->StartRenewing();
    double ttl = std::chrono::duration<double>(self->attr_ttl_).count();
    cfg->attr_timeout = ttl;
    cfg->entry_timeout = ttl;
    cfg->negative_timeout = 0;
    cfg->hard_remove = 1;  // no .fuse_hidden files: unlink is unlink
    // An open file whose last name went keeps working through its handle:
    // libfuse then passes no path (each op below says what it does without).
    cfg->nullpath_ok = 1;
    cfg->use_ino = 1;  // st_ino is the master's inode number
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    // Writes and read-ahead of 1 MiB per request instead of 128 KiB: a
    // quarter of the round trips through the kernel for big files.
    conn->max_write = std::max<unsigned>(conn->max_write, kMaxRequestBytes);
    conn->max_readahead = std::max<unsigned>(conn->max_readahead, kMaxRequestBytes);
    return self;
  };
  ops.getattr = [](const char* p, struct stat* st, fuse_file_info* fi) {
    if (!p) return Guard("fstat", p, [&] { return Self()->GetAttrOfHandle(st, fi); });
    return Guard("getattr", p, [&] { return Self()->GetAttr(DfsPath(p), st, fi); });
  };
  ops.opendir = [](const char* p, fuse_file_info* fi) {
    return GuardSettled("opendir", p, [&] { return Self()->OpenDir(DfsPath(p), fi); });
  };
  ops.readdir = [](const char* p, void* buf, fuse_fill_dir_t filler, off_t off, fuse_file_info* fi,
                   fuse_readdir_flags) {
    // No path (nullpath_ok): the folder is the one opendir named.
    return GuardSettled("readdir", p, [&] { return Self()->ReadDir(DfsPath(p), buf, filler, off, fi); });
  };
  ops.releasedir = [](const char* p, fuse_file_info* fi) {
    return Guard("releasedir", p, [&] { return Self()->ReleaseDir(fi); });
  };
  ops.mkdir = [](const char* p, mode_t mode) {
    return GuardSettled("mkdir", p, [&] { return Self()->MakeDir(DfsPath(p), mode); });
  };
  ops.rmdir = [](const char* p) { return GuardSettled("rmdir", p, [&] { return Self()->RemoveDir(DfsPath(p)); }); };
  ops.unlink = [](const char* p) { return Guard("unlink", p, [&] { return Self()->Unlink(DfsPath(p)); }); };
  ops.rename = [](const char* from, const char* to, unsigned int flags) {
    if (int rc = CheckName(to); rc != 0) return rc;
    return GuardSettled("rename", from, [&] { return Self()->Rename(DfsPath(from), DfsPath(to), flags); });
  };
  // fchmod, fchown, futimens, ftruncate come with a handle and no path.
  ops.chmod = [](const char* p, mode_t mode, fuse_file_info* fi) {
    return GuardSettled("chmod", p, [&] {
      const std::string path = Self()->PathFor(p, fi);
      if (!p && path.empty()) return -ESTALE;  // a handle whose file has no name left
      return Self()->Chmod(path, mode);
    });
  };
  ops.chown = [](const char* p, uid_t uid, gid_t gid, fuse_file_info* fi) {
    return GuardSettled("chown", p, [&] {
      const std::string path = Self()->PathFor(p, fi);
      if (!p && path.empty()) return -ESTALE;  // a handle whose file has no name left
      return Self()->Chown(path, uid, gid);
    });
  };
  ops.utimens = [](const char* p, const struct timespec tv[2], fuse_file_info* fi) {
    return GuardSettled("utimens", p, [&] {
      const std::string path = Self()->PathFor(p, fi);
      if (!p && path.empty()) return -ESTALE;  // a handle whose file has no name left
      return Self()->Utimens(path, tv);
    });
  };
  ops.truncate = [](const char* p, off_t size, fuse_file_info* fi) {
    return GuardSettled("truncate", p, [&] {
      const std::string path = Self()->PathFor(p, fi);
      if (!p && path.empty()) return -ESTALE;  // a handle whose file has no name left
      return Self()->Truncate(path, size, fi);
    });
  };
  ops.create = [](const char* p, mode_t mode, fuse_file_info* fi) {
    return GuardSettled("create", p, [&] { return Self()->Create(DfsPath(p), mode, fi); });
  };
  ops.open = [](const char* p, fuse_file_info* fi) {
    return GuardSettled("open", p, [&] { return Self()->Open(DfsPath(p), fi); });
  };
  ops.read = [](const char* p, char* buf, size_t size, off_t off, fuse_file_info* fi) {
    return Guard("read", p, [&] { return Self()->Read(buf, size, off, fi); });
  };
  ops.write = [](const char* p, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
    return Guard("write", p, [&] { return Self()->Write(buf, size, off, fi); });
  };
  ops.flush = [](const char* p, fuse_file_info* fi) { return Guard("flush", p, [&] { return Self()->Flush(fi); }); };
  ops.fsync = [](const char* p, int, fuse_file_info* fi) {
    return GuardSettled("fsync", p, [&] { return Self()->Fsync(fi); });
  };
  ops.fsyncdir = [](const char* p, int, fuse_file_info*) {
    return GuardSettled("fsyncdir", p, [&] { return Self()->FsyncDir(); });
  };
  ops.release = [](const char* p, fuse_file_info* fi) {
    return Guard("release", p, [&] { return Self()->Release(fi); });
  };
  ops.statfs = [](const char* p, struct statvfs* st) {
    return GuardSettled("statfs", p, [&] { return Self()->StatFs(st); });
  };
  ops.symlink = [](const char* target, const char* p) {
    return GuardSettled("symlink", p, [&] { return Self()->Symlink(target, DfsPath(p)); });
  };
  ops.readlink = [](const char* p, char* buf, size_t size) {
    return GuardSettled("readlink", p, [&] { return Self()->ReadLink(DfsPath(p), buf, size); });
  };
  ops.link = [](const char* from, const char* to) {
    if (int rc = CheckName(to); rc != 0) return rc;
    return GuardSettled("link", from, [&] { return Self()->Link(DfsPath(from), DfsPath(to)); });
  };
  ops.mknod = [](const char* p, mode_t mode, dev_t rdev) {
    return GuardSettled("mknod", p, [&] { return Self()->MakeNode(DfsPath(p), mode, rdev); });
  };
  // Not supported, with the errno a program expects rather than ENOSYS.
  ops.setxattr = [](const char*, const char*, const char*, size_t, int) { return -ENOTSUP; };
  ops.getxattr = [](const char*, const char*, char*, size_t) { return -ENOTSUP; };
  ops.listxattr = [](const char*, char*, size_t) { return 0; };
  ops.removexattr = [](const char*, const char*) { return -ENOTSUP; };
  return ops;
}

}  // namespace dfs::fuse_client
