// The write path of DfsFilesystem (docs/mount.md, "Writing"): the spool of
// an existing file starts empty and sized, and is filled chunk by chunk from
// verified copies (FileCache::FetchChunk) only where a read, a truncate or a
// whole upload needs the old bytes; a write never needs them. Uploads send
// the dirty ranges as range writes, one per chunk they touch, several in
// flight, the ones that grow the file in file order (each must start at
// most at the size the one before left); the whole file goes up when the
// file is new or was cut, or when the master does not take a range write.
// Invariants (SpoolContent): a byte not present is below fill_end and is the
// master's; every dirty byte is present; all of this is under
// OpenFile::content_mu, which is never held while the kernel is told to drop
// pages of the file (a read it waits on needs that lock).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "common/log.h"
#include "fuse_client/dfs_fs.h"

namespace dfs::fuse_client {

namespace {

Status Errno(const char* what) { return Status::IOError(std::string(what) + ": " + std::strerror(errno)); }

Status PreadAll(int fd, char* buf, size_t size, uint64_t offset) {
  for (size_t done = 0; done < size;) {
    ssize_t n = ::pread(fd, buf + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("spool read");
    if (n == 0) return Status::IOError("spool shorter than expected");
    done += static_cast<size_t>(n);
  }
  return Status::OK();
}

Status PwriteAll(int fd, const char* buf, size_t size, uint64_t offset) {
  for (size_t done = 0; done < size;) {
    ssize_t n = ::pwrite(fd, buf + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("spool write");
    done += static_cast<size_t>(n);
  }
  return Status::OK();
}

Result<uint64_t> SpoolSize(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Errno("spool");
  return static_cast<uint64_t>(st.st_size);
}

// Copies a whole open file into another (the spool), from the start.
Status CopyInto(int from_fd, int to_fd) {
  loff_t in_offset = 0, out_offset = 0;
  for (;;) {
    ssize_t n = ::copy_file_range(from_fd, &in_offset, to_fd, &out_offset, 1 << 30, 0);
    if (n == 0) return Status::OK();
    if (n < 0) return Errno("copy");
  }
}

// The layout of a listed file; without the master's chunk size, its largest chunk's.
ChunkLayout LayoutOf(const ChunkList& list, uint64_t chunk_size) {
  std::vector<uint64_t> starts;
  uint64_t biggest = 1;
  for (const ChunkRef& c : list.chunks) {
    starts.push_back(c.offset);
    biggest = std::max(biggest, c.size);
  }
  return ChunkLayout(std::move(starts), list.chunks.back().size, chunk_size ? chunk_size : biggest);
}

// Whether every byte of the spool is to be sent (dd's new file, flushed empty
// at its dup2 and then written; a file rewritten from the start): one whole
// PUT streams it through the master's pipeline, where range writes would go
// a chunk at a time and then leave the whole-file md5 for the master to redo.
bool AllDirty(const SpoolContent& c, int fd) {
  auto size = SpoolSize(fd);
  return size.ok() && *size > 0 && c.dirty.Covers(0, *size);
}

// Range writes of an upload that go one after the other (the ones that grow the file).
struct RangeJob {
  std::vector<size_t> writes;  // indexes into the plan
};

}  // namespace

// ---- filling the spool --------------------------------------------------------

Status DfsFilesystem::StartSpool(OpenFile& file, const std::string& path, const FileInfo& info) {
  SpoolContent& c = file.content;
  auto meta = client_.Meta(path);
  auto list = meta.ok() ? ChunkListFromMeta(*meta) : Result<ChunkList>(meta.status());
  if (!list.ok()) {  // a master without chunk lists: a whole verified copy, as before
    DFS_LOG(INFO, "fuse") << "open name=" << path << ": no chunk list (" << list.status().ToString()
                          << "), fetching it whole";
    auto local = cache_->Fetch(client_, path, info.md5);
    if (!local.ok()) return local.status();
    if (Status st = CopyInto(local->get(), file.fd.get()); !st.ok()) return st;
    auto size = SpoolSize(file.fd.get());
    if (!size.ok()) return size.status();
    c.present.Add(0, *size);
    c.master_size = *size;
    c.stale = true;
    return Status::OK();
  }
  if (::ftruncate(file.fd.get(), static_cast<off_t>(list->size)) != 0) return Errno("spool");
  c.fill_end = c.master_size = list->size;
  c.layout = LayoutOf(*list, meta->value("chunk_size", uint64_t{0}));
  c.base = std::move(list->chunks);
  c.stale = false;
  return Status::OK();
}

Status DfsFilesystem::RefreshBase(OpenFile& file, const std::string& path) {
  if (path.empty()) return Status::NotFound("the file has no name left");
  auto meta = client_.Meta(path);
  if (!meta.ok()) return meta.status();
  auto list = ChunkListFromMeta(*meta);
  if (!list.ok()) return list.status();
  SpoolContent& c = file.content;
  c.layout = LayoutOf(*list, meta->value("chunk_size", uint64_t{0}));
  c.master_size = list->size;
  c.base = std::move(list->chunks);
  c.stale = false;
  return Status::OK();
}

Status DfsFilesystem::FillChunk(OpenFile& file, const std::string& path, const std::string& handle,
                                const ChunkRef& chunk) {
  SpoolContent& c = file.content;
  const uint64_t end = std::min(chunk.offset + chunk.size, c.fill_end);
  const auto missing = c.present.Missing(chunk.offset, end);
  if (missing.empty()) return Status::OK();
  auto fd = cache_->FetchChunk(client_, path, handle, chunk);
  if (!fd.ok()) return fd.status();
  std::string buf;
  for (const ByteRange& r : missing) {  // only the bytes not written here since
    buf.resize(r.hi - r.lo);
    if (Status st = PreadAll(fd->get(), buf.data(), buf.size(), r.lo - chunk.offset); !st.ok()) return st;
    if (Status st = PwriteAll(file.fd.get(), buf.data(), buf.size(), r.lo); !st.ok()) return st;
  }
  c.present.Add(chunk.offset, end);
  DFS_LOG(DEBUG, "fuse") << "filled name=" << path << " offset=" << chunk.offset << " bytes=" << chunk.size;
  return Status::OK();
}

Status DfsFilesystem::EnsurePresent(OpenFile& file, uint64_t lo, uint64_t hi) {
  SpoolContent& c = file.content;
  hi = std::min(hi, c.fill_end);
  if (lo >= hi || c.present.Covers(lo, hi)) return Status::OK();
  const FileState state = file.Get();
  if (c.stale) {
    if (Status st = RefreshBase(file, state.path); !st.ok()) return st;
  }
  for (int attempt = 0;; ++attempt) {
    Status st;
    for (const ChunkRef& chunk : c.base) {
      if (chunk.offset >= hi || chunk.offset + chunk.size <= lo) continue;
      if (!(st = FillChunk(file, state.path, state.handle, chunk)).ok()) break;
    }
    // A chunk that changed on the master since it was listed (another
    // client's write): list them again, once.
    if (st.ok() || st.code() != Code::kChecksumMismatch || attempt > 0) return st;
    if (Status again = RefreshBase(file, state.path); !again.ok()) return again;
  }
}

// ---- writes and truncates -------------------------------------------------------

int DfsFilesystem::Write(const char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  auto file = Handle(fi);
  if (!file) return -EBADF;
  if (file->spool_path.empty()) return -EBADF;
  if (offset < 0) return -EINVAL;
  std::lock_guard lock(file->mu);
  std::lock_guard content(file->content_mu);
  auto old_size = SpoolSize(file->fd.get());
  if (!old_size.ok()) return ErrnoFor(old_size.status());
  uint64_t lo = static_cast<uint64_t>(offset);
  if (fi->flags & O_APPEND) lo = *old_size;
  if (Status st = PwriteAll(file->fd.get(), buf, size, lo); !st.ok()) return ErrnoFor(st);
  SpoolContent& c = file->content;
  const bool in_order = c.seq_md5 && lo == c.seq_end;
  if (in_order) {
    c.seq_md5->Update(buf, size);
    c.seq_end += size;
  } else {
    c.seq_md5.reset();
  }
  const uint64_t from = std::min(lo, *old_size);  // a write past the end: the hole it leaves is new zeros
  file->content.present.Add(from, lo + size);
  file->content.dirty.Add(from, lo + size);
  file->Update([&](FileState& s) { s.dirty = !s.path.empty(); });
  FollowWrite(*file, in_order, std::max(*old_size, lo + size));
  return static_cast<int>(size);
}

void DfsFilesystem::FollowWrite(OpenFile& file, bool in_order, uint64_t size) {
  SpoolContent& c = file.content;
  if (!in_order) {
    file.behind.reset();  // abandoned: uploaded at close as any other change
    return;
  }
  if (file.behind) return file.behind->Grew(c.seq_end);
  if (c.seq_end < WriteBehind::kStartAt) return;
  const FileState state = file.Get();
  // Only what a close would upload whole: every byte new (not an append
  // after an upload, which goes as a range write).
  if (size != c.seq_end || state.path.empty() || !c.dirty.Covers(0, size)) return;
  // Then::kStaysOpen: whether a close or an fsync ends it is not known yet.
  file.behind = std::make_unique<WriteBehind>(client_, file.fd.get(), state.path,
                                              WholeUploadOptions(state, Then::kStaysOpen), c.seq_end);
  DFS_LOG(DEBUG, "fuse") << "write-behind name=" << state.path << " from=" << c.seq_end;
}

Result<PutResult> DfsFilesystem::FinishWriteBehind(OpenFile& file, const FileState& state) {
  std::unique_ptr<WriteBehind> behind = std::move(file.behind);
  const SpoolContent& c = file.content;
  auto size = SpoolSize(file.fd.get());
  if (!size.ok()) return size.status();
  if (behind->path() != state.path || behind->options().handle != state.handle || !c.seq_md5 ||
      *size != c.seq_end) {
    return Status::Unavailable("the file changed since its write-behind started");  // renamed, reopened...
  }
  return behind->Finish(c.seq_end, c.seq_md5->HexDigestSoFar());
}

int DfsFilesystem::TruncateSpool(OpenFile& file, uint64_t size) {
  std::lock_guard content(file.content_mu);
  file.behind.reset();  // what it sent is not the file any more
  SpoolContent& c = file.content;
  auto old_size = SpoolSize(file.fd.get());
  if (!old_size.ok()) return ErrnoFor(old_size.status());
  if (size < *old_size) {
    // Cut: the master is told to cut its copy at the next upload (before
    // any range write), so nothing of what is kept is fetched or sent.
    if (size < c.master_size) c.cut_to = std::min(c.cut_to.value_or(size), size);
    c.fill_end = std::min(c.fill_end, size);
    c.present.CutAt(size);
    c.dirty.CutAt(size);
  }
  if (::ftruncate(file.fd.get(), static_cast<off_t>(size)) != 0) return -errno;
  if (size == 0) {  // empty again: hashed from here as a new file
    c.seq_md5.emplace();
    c.seq_end = 0;
  } else if (size != c.seq_end) {
    c.seq_md5.reset();
  }
  if (size > *old_size) {  // extended: new zeros, sent as a range write like an append
    c.present.Add(*old_size, size);
    c.dirty.Add(*old_size, size);
  }
  file.Update([&](FileState& s) { s.dirty = s.dirty || (size != *old_size && !s.path.empty()); });
  return 0;
}

// ---- uploads ----------------------------------------------------------------------

int DfsFilesystem::Upload(OpenFile& file, Then then) {
  const FileState state = file.Get();
  if (!state.dirty || state.path.empty()) return 0;
  {
    std::lock_guard content(file.content_mu);  // released before the kernel drops pages
    if (!(state.uploaded && state.ranges_only && !AllDirty(file.content, file.fd.get()) &&
          UploadRanges(file, state))) {
      if (int rc = UploadWhole(file, state, then); rc != 0) return rc;
    }
  }
  ForgetEntry(state.path);
  // What the kernel holds is the spool's, from before the upload: dropped by TellKernel.
  file.Update([](FileState& s) { s.tell_kernel = true; });
  return ApplyPendingAttrs(file, state.path);
}

int DfsFilesystem::UploadAndTell(OpenFile& file, Then then) {
  int rc = 0;
  {
    std::lock_guard lock(file.mu);
    rc = Upload(file, then);
  }
  TellKernel(file);
  return rc;
}

void DfsFilesystem::TellKernel(OpenFile& file) {
  bool tell = false;
  std::string path;
  file.Update([&](FileState& s) {
    tell = std::exchange(s.tell_kernel, false);
    path = s.path;
  });
  if (tell && !path.empty()) InvalidateKernelAttr(path);
}

PutOptions DfsFilesystem::WholeUploadOptions(const FileState& state, Then then) {
  PutOptions options;
  options.conflict = "overwrite";
  if (!state.uploaded) options.mode = state.pending_mode.value_or(0644);  // a new file: its mode comes along
  options.handle = state.handle;      // to the inode, wherever another client moved it
  options.open_handle = state.handle.empty() && then == Then::kStaysOpen;  // and a handle on what this PUT stores
  // The chunks are on their nodes' disks when the PUT answers; the master's
  // commit gets to its disk within a second, or at fsync (Fsync).
  options.relaxed = true;
  return options;
}

int DfsFilesystem::UploadWhole(OpenFile& file, const FileState& state, Then then) {
  SpoolContent& c = file.content;
  if (file.behind) {
    const std::optional<int> sent_mode = file.behind->options().mode;
    auto put = FinishWriteBehind(file, state);
    if (put.ok()) {
      Uploaded(file, state, *put, sent_mode);
      return 0;
    }
    DFS_LOG(WARN, "fuse") << "upload name=" << state.path << ": write-behind not used (" << put.status().ToString()
                          << "), sending it whole";
  }
  if (Status st = EnsurePresent(file, 0, c.fill_end); !st.ok()) {
    DFS_LOG(ERROR, "fuse") << "upload name=" << state.path << ": old bytes not fetched: " << st.ToString();
    return ErrnoFor(st);
  }
  PutOptions options = WholeUploadOptions(state, then);
  if (auto size = SpoolSize(file.fd.get()); c.seq_md5 && size.ok() && *size == c.seq_end) {
    options.md5 = c.seq_md5->HexDigestSoFar();  // hashed as it was written
  }
  auto put = client_.Put(file.spool_path, state.path, options);
  if (!put.ok() && !state.handle.empty() && put.status().code() == Code::kNotFound) {
    // The handle lapsed (this mount was cut off longer than a lease): by name, as before handles.
    DFS_LOG(WARN, "fuse") << "upload name=" << state.path << ": handle lapsed, writing by name";
    file.Update([&](FileState& s) { s.handle.clear(); });
    options.handle.clear();
    options.open_handle = then == Then::kStaysOpen;
    put = client_.Put(file.spool_path, state.path, options);
  }
  if (!put.ok()) {
    DFS_LOG(ERROR, "fuse") << "upload name=" << state.path << " failed: " << put.status().ToString();
    return ErrnoFor(put.status());
  }
  Uploaded(file, state, *put, options.mode);
  return 0;
}

void DfsFilesystem::Uploaded(OpenFile& file, const FileState& state, const PutResult& put,
                             std::optional<int> sent_mode) {
  SpoolContent& c = file.content;
  c.dirty.Clear();
  c.cut_to.reset();
  c.master_size = put.size;
  c.fill_end = 0;  // all of it is here now
  c.stale = true;  // its chunks are new: asked for before a range write
  file.Update([&](FileState& s) {
    s.dirty = false;
    s.uploaded = true;
    s.uploaded_md5 = put.md5;
    s.ranges_only = true;
    if (s.handle.empty()) s.handle = put.handle;
    // Sent with the PUT (a chmod meanwhile is still to be applied).
    if (!state.uploaded && sent_mode && s.pending_mode && *s.pending_mode == *sent_mode) s.pending_mode.reset();
  });
  DFS_LOG(INFO, "fuse") << "uploaded name=" << state.path << " size=" << put.size << " md5=" << put.md5;
}

bool DfsFilesystem::UploadRanges(OpenFile& file, const FileState& state) {
  SpoolContent& c = file.content;
  if (c.cut_to) {  // first the cut, so every range write lands on the file as it is here
    if (Status st = client_.Truncate(state.path, state.handle, *c.cut_to); !st.ok()) {
      DFS_LOG(INFO, "fuse") << "truncate name=" << state.path << " size=" << *c.cut_to << " not taken ("
                            << st.ToString() << "): uploading it whole";
      return false;
    }
    DFS_LOG(INFO, "fuse") << "truncated name=" << state.path << " size=" << *c.cut_to;
    c.master_size = *std::exchange(c.cut_to, std::nullopt);
    c.stale = true;
    file.Update([](FileState& s) { s.uploaded_md5.clear(); });  // pending on the master
  }
  if (c.stale) {
    if (Status st = RefreshBase(file, state.path); !st.ok()) return false;
  }
  const std::vector<RangeWrite> plan = PlanRangeWrites(c.dirty, c.layout);
  // One write spans all the dirty bytes of its chunk: the bytes between them must be here.
  for (const RangeWrite& w : plan) {
    if (!EnsurePresent(file, w.bytes.lo, w.bytes.hi).ok()) return false;
  }
  // Writes within the master's size go each on its own; the ones that grow
  // the file are one job, in order.
  std::vector<RangeJob> jobs;
  RangeJob growing;
  for (size_t i = 0; i < plan.size(); ++i) {
    if (plan[i].bytes.hi <= c.master_size) {
      jobs.push_back({{i}});
    } else {
      growing.writes.push_back(i);
    }
  }
  if (!growing.writes.empty()) jobs.insert(jobs.begin(), std::move(growing));  // the longest first
  std::vector<char> sent(plan.size(), 0);
  std::atomic<size_t> next{0};
  const Credentials* caller = CallerScope::Current();
  const Credentials who = caller ? *caller : Credentials{};
  auto work = [&] {
    CallerScope as(who);
    std::string data;
    for (size_t j; (j = next.fetch_add(1)) < jobs.size();) {
      for (size_t i : jobs[j].writes) {
        const ByteRange& b = plan[i].bytes;
        data.resize(b.hi - b.lo);
        Status st = PreadAll(file.fd.get(), data.data(), data.size(), b.lo);
        if (st.ok()) st = client_.WriteRange(state.path, state.handle, b.lo, data);
        if (!st.ok()) {
          DFS_LOG(INFO, "fuse") << "range upload name=" << state.path << " offset=" << b.lo << " bytes="
                                << data.size() << " not taken (" << st.ToString() << ")";
          break;  // the rest of a growing job would start past the end
        }
        sent[i] = 1;
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 1; t < std::min(kUploadThreads, jobs.size()); ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  uint64_t bytes = 0;
  bool all = true;
  for (size_t i = 0; i < plan.size(); ++i) {
    if (!sent[i]) {
      all = false;
      continue;
    }
    c.dirty.Remove(plan[i].bytes.lo, plan[i].bytes.hi);
    bytes += plan[i].bytes.hi - plan[i].bytes.lo;
    c.master_size = std::max(c.master_size, plan[i].bytes.hi);
  }
  c.stale = bytes > 0;  // the master's chunks changed: listed again before they are fetched or written
  if (bytes > 0) file.Update([](FileState& s) { s.uploaded_md5.clear(); });  // pending on the master
  DFS_LOG(INFO, "fuse") << "uploaded name=" << state.path << " ranges=" << plan.size() << " bytes=" << bytes
                        << (all ? "" : " (some not taken: uploading it whole)");
  if (!all) return false;
  file.Update([](FileState& s) { s.dirty = false; });
  return true;
}

int DfsFilesystem::ApplyPendingAttrs(OpenFile& file, const std::string& path) {
  SetAttrRequest req;
  file.Update([&](FileState& s) {
    req.mode = std::exchange(s.pending_mode, std::nullopt);
    req.mtime = std::exchange(s.pending_mtime, std::nullopt);
  });
  if (!req.mode && !req.mtime) return 0;
  Status st = client_.SetAttr(path, req);
  if (st.ok()) return 0;
  DFS_LOG(WARN, "fuse") << "setattr name=" << path << " after upload failed: " << st.ToString();
  file.Update([&](FileState& s) {  // kept for the next try
    if (!s.pending_mode) s.pending_mode = req.mode;
    if (!s.pending_mtime) s.pending_mtime = req.mtime;
  });
  return ErrnoFor(st);
}

}  // namespace dfs::fuse_client
