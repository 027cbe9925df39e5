// DfsFilesystem: the FUSE operations of mount.dfs over DfsClient (libfuse3's
// path-based API, multithreaded). Each request goes to the master as the
// process that made it (its uid, gid and groups: CallerScope), so files get
// their real owners and the master checks POSIX permissions; symlinks, hard
// links and special files are inodes on the master. A file open for reading is
// read chunk by chunk, each chunk fetched when a read first touches it and
// md5-checked before any of its bytes is returned (ChunkReader, through the
// bounded FileCache; `verify=open` fetches and checks the whole file at open
// instead). Files are written to a local spool file. A new (or truncated)
// file is uploaded whole, with overwrite semantics and its md5, when the
// program closes or fsyncs it. An existing file is not fetched at open: its
// spool is filled chunk by chunk (FetchChunk, md5-checked) only where a read
// or an upload needs old bytes, and close/fsync sends only the byte ranges
// writes changed, as range writes of one chunk each, several in parallel
// (appends in order); when that cannot be done (a truncate down, a master
// that refuses) the file is filled and uploaded whole. An upload failure is
// returned from close() so no program loses data silently. Attributes come
// from a short-lived cache filled by directory listings. Unlinks the mount
// can decide are answered at once and sent in batches (UnlinkQueue).
#pragma once

#define FUSE_USE_VERSION 312  // libfuse 3.12 or later (Debian 12 has 3.14): fuse_loop_cfg_*
#include <fuse.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/client/dfs_client.h"
#include "common/md5.h"
#include "common/unique_fd.h"
#include "fuse_client/chunk_reader.h"
#include "fuse_client/file_cache.h"
#include "fuse_client/spool_ranges.h"
#include "fuse_client/unlink_queue.h"
#include "fuse_client/write_behind.h"

namespace dfs::fuse_client {

// What an open file knows about itself; see OpenFile for its locking.
struct FileState {
  std::string path;         // dfs name (no leading '/'); follows renames; empty once unlinked
  bool dirty = false;       // spool differs from what the master has
  bool uploaded = false;    // the master has had this file (opened existing or uploaded once)
  std::string uploaded_md5;
  int opens = 1;            // handles sharing this spool; the last release cleans up
  std::optional<int> pending_mode;  // chmod/utimens before the first upload
  std::optional<double> pending_mtime;
  int64_t owner_uid = 0;  // who opened it (the owner of a file this open creates)
  int64_t owner_gid = 0;
  // The master's handle on the file ("" while the master has not got it, or
  // from an older master): uploads go to the inode it holds wherever the
  // file now is, and it keeps the file on the master after its last name
  // goes, until this mount closes it (renewed while open).
  std::string handle;
  // While only writes changed the file since the master last had it
  // (ranges_only), an upload sends just the bytes they touched (SpoolContent::dirty).
  bool ranges_only = false;
  // An upload changed what the kernel should show: it is told (TellKernel)
  // once `mu` is released, since dropping pages may wait for a write to us.
  bool tell_kernel = false;
};

// What a spool holds and owes (see OpenFile::content). Invariants: a byte
// the spool does not hold (not `present`) is below `fill_end` and is the
// master's (fetched from `base` when needed); every `dirty` byte is present.
struct SpoolContent {
  RangeSet present;           // bytes of the spool that are the file's (written here, or fetched and checked)
  RangeSet dirty;             // bytes changed here and not uploaded yet
  uint64_t fill_end = 0;      // bytes at or past this are never fetched (appended here, or cut by a truncate)
  std::vector<ChunkRef> base;  // the master's chunks, to fill missing bytes from
  ChunkLayout layout;          // where the master's chunks start, to cut range writes at
  uint64_t master_size = 0;    // the file's size on the master
  std::optional<uint64_t> cut_to;  // the shortest a truncate made it below master_size: sent before range writes
  // The md5 of the spool's first seq_end bytes while it has been written only
  // in order from empty (cp, dd: the usual new file), so a whole upload
  // does not read it once more to hash it; reset by any other change.
  std::optional<Md5> seq_md5;
  uint64_t seq_end = 0;
  bool stale = true;           // base/layout/master_size are to be asked again (the master's chunks changed)
};

// An open file: the read-only cached copy, or a spool that every writable
// open of the same path shares. `mu` serializes writes, uploads and
// renames/unlinks of the file (it is held for a whole upload); the state
// has its own short lock so getattr and listings never wait for an upload.
struct OpenFile {
  UniqueFd fd;             // the cached copy, the spool, or a dup of a writer's spool; none with a reader
  std::string spool_path;  // empty when read-only
  std::mutex mu;
  // Guards `content` and the spool's bytes against fills; taken after mu,
  // and never held while the kernel is told to drop pages (reads take only
  // this one: a read the kernel waits on while it invalidates must not wait
  // for mu, which an upload holds).
  std::mutex content_mu;
  SpoolContent content;                 // of a writer's spool; under content_mu
  // The upload of a new file under way while it is written (under mu;
  // declared after fd, so it goes first: it reads the spool).
  std::unique_ptr<WriteBehind> behind;
  std::shared_ptr<OpenFile> spool_of;  // a reader sharing a writer's spool: that writer (its content fills it)

  // Read-only opens read by chunks (not verify=open); null otherwise. A
  // reader is replaced when the file's content changed while it is open.
  std::shared_ptr<ChunkReader> Reader() const {
    std::lock_guard lock(state_mu_);
    return reader_;
  }
  void SetReader(std::shared_ptr<ChunkReader> reader) {
    std::lock_guard lock(state_mu_);
    reader_ = std::move(reader);
  }

  FileState Get() const {
    std::lock_guard lock(state_mu_);
    return state_;
  }
  std::string Path() const {
    std::lock_guard lock(state_mu_);
    return state_.path;
  }
  template <typename Fn>
  void Update(Fn&& fn) {
    std::lock_guard lock(state_mu_);
    fn(state_);
  }

 private:
  mutable std::mutex state_mu_;
  FileState state_;
  std::shared_ptr<ChunkReader> reader_;
};

// An open folder: the page of its listing that readdir is in.
struct DirCursor {
  std::mutex mu;
  std::string path;
  bool fetched = false;
  off_t first = 2;  // the readdir position of page[0]
  std::vector<FileInfo> page;
  std::string next;  // where the page after this one starts; empty: this is the last
};

// The largest FUSE read and write request the mount asks the kernel for.
constexpr unsigned kMaxRequestBytes = 1u << 20;
// How many requests the mount serves at once (libfuse's default is 10): a
// few uploads at close must not hold every thread while other programs
// stat, list and open.
constexpr unsigned kMaxLoopThreads = 64;

class DfsFilesystem {
 public:
  // verify_at_open: read-only opens fetch and md5-check the whole file (-o
  // verify=open) instead of reading chunk by chunk.
  DfsFilesystem(DfsClient client, std::unique_ptr<FileCache> cache, std::chrono::milliseconds attr_ttl,
                bool verify_at_open = false);
  ~DfsFilesystem();
  DfsFilesystem(const DfsFilesystem&) = delete;
  DfsFilesystem& operator=(const DfsFilesystem&) = delete;
  // Starts renewing the master's handles of open files (from init: after
  // the mount daemonized, which keeps no thread); the destructor stops it.
  void StartRenewing();

  // The operations table handed to fuse_new (callbacks find this object in
  // fuse_get_context()->private_data).
  static fuse_operations Operations();

  int GetAttr(const std::string& path, struct stat* st, fuse_file_info* fi);
  // The dfs path of an op: from FUSE's path, else from the handle (nullpath_ok
  // ops that come with one); "" when the handle's file has no name left.
  std::string PathFor(const char* fuse_path, fuse_file_info* fi);
  // fstat of a handle libfuse has no path for (its file was unlinked).
  int GetAttrOfHandle(struct stat* st, fuse_file_info* fi);
  int OpenDir(const std::string& path, fuse_file_info* fi);
  // offset: the position to go on from (0 at first; see dfs_fs.cpp).
  int ReadDir(const std::string& path, void* buf, fuse_fill_dir_t filler, off_t offset, fuse_file_info* fi);
  int ReleaseDir(fuse_file_info* fi);
  static constexpr size_t kDirPage = 1000;  // entries per listing request
  int MakeDir(const std::string& path, mode_t mode);
  int RemoveDir(const std::string& path);
  // Answers at once and sends it in a batch when it can (UnlinkQueue).
  int Unlink(const std::string& path);
  // Returns once every unlink answered so far was sent to the master: every
  // operation that could see a name does this first (the operations table).
  void SettleUnlinks() { unlinks_->Settle(); }
  int Rename(const std::string& from, const std::string& to, unsigned int flags);
  int Chmod(const std::string& path, mode_t mode);
  int Utimens(const std::string& path, const struct timespec tv[2]);
  int Chown(const std::string& path, uid_t uid, gid_t gid);  // -1: unchanged
  int Symlink(const std::string& target, const std::string& path);
  int ReadLink(const std::string& path, char* buf, size_t size);
  int Link(const std::string& existing, const std::string& path);
  int MakeNode(const std::string& path, mode_t mode, dev_t rdev);
  int Truncate(const std::string& path, off_t size, fuse_file_info* fi);
  int Create(const std::string& path, mode_t mode, fuse_file_info* fi);
  int Open(const std::string& path, fuse_file_info* fi);
  int Read(char* buf, size_t size, off_t offset, fuse_file_info* fi);
  int Write(const char* buf, size_t size, off_t offset, fuse_file_info* fi);
  int Flush(fuse_file_info* fi);
  // fsync(2) of a file (its changes uploaded) or a folder: the master's
  // commits so far are then on its disk too (uploads and unlinks do not wait
  // for that: docs/namespace.md "Durability of commits").
  int Fsync(fuse_file_info* fi);
  int FsyncDir();
  int Release(fuse_file_info* fi);
  int StatFs(struct statvfs* st);

 private:
  struct CachedAttr {
    FileInfo info;
    std::chrono::steady_clock::time_point expires;
  };

  // Open files locked (mu) for a namespace change, in address order so two
  // callers never deadlock; locking waits for their in-flight uploads.
  struct LockedFiles {
    std::vector<std::shared_ptr<OpenFile>> files;
    std::vector<std::unique_lock<std::mutex>> locks;
  };

  std::shared_ptr<OpenFile> Handle(fuse_file_info* fi);
  std::shared_ptr<OpenFile> WritableHandleFor(const std::string& path);
  // The open files whose path is `a`, `b` or below `a`/ (b may be empty),
  // and below `b`/ too when b_subtree.
  LockedFiles LockFiles(const std::string& a, const std::string& b = "", bool b_subtree = false);
  int OpenForRead(const std::string& path, fuse_file_info* fi);
  // The reader of a file just opened as `file` (whose entry is `info`):
  // its chunk list, checked; Unavailable when the file changed meanwhile.
  Result<std::shared_ptr<ChunkReader>> ChunkReaderFor(const std::string& path, const OpenFile& file,
                                                      const FileInfo& info);
  // Whether the kernel may keep the pages it has of this file: its content
  // is what it was at this mount's last open of it. Records this open.
  bool KeepCache(const FileInfo& info);
  // A new open of the spool of a file being written here, or -ENOENT when none is.
  int ShareSpool(const std::string& path, fuse_file_info* fi);
  void Unregister(uint64_t id);
  // Opens `path` for writing into a new spool: empty when `truncate`, else
  // sized to its current content, which is fetched only where needed
  // (ENOENT when it does not exist).
  int OpenForWrite(const std::string& path, bool truncate, std::shared_ptr<OpenFile>* out);
  uint64_t Register(std::shared_ptr<OpenFile> file);
  // Starts the spool of an existing file: sized, empty, filled on demand
  // from its chunk list (or, from a master without chunk lists, a whole copy).
  Status StartSpool(OpenFile& file, const std::string& path, const FileInfo& info);
  // Makes bytes [lo, hi) of the spool hold the file's bytes, fetching the
  // chunks with missing bytes (caller holds file.content_mu).
  Status EnsurePresent(OpenFile& file, uint64_t lo, uint64_t hi);
  // Copies the missing bytes of one of the master's chunks into the spool.
  Status FillChunk(OpenFile& file, const std::string& path, const std::string& handle, const ChunkRef& chunk);
  // Asks the master for the file's chunks, layout and size again.
  Status RefreshBase(OpenFile& file, const std::string& path);
  // Cuts or extends the spool to `size` (caller holds file.mu, not content_mu).
  int TruncateSpool(OpenFile& file, uint64_t size);
  // Whether the program goes on writing through the open file after an
  // upload (fsync, chmod...), or is closing it (close, the last release):
  // a new file uploaded while it stays open gets a master handle, so later
  // uploads reach it wherever another client moves it; one being closed
  // needs none (a dup'ed fd written after a close uploads by name).
  enum class Then { kStaysOpen, kCloses };
  // Uploads a dirty spool (caller holds file.mu); 0 or -errno.
  int Upload(OpenFile& file, Then then);
  // Upload under file.mu, then TellKernel.
  int UploadAndTell(OpenFile& file, Then then);
  // Invalidates what the kernel holds of the file after an upload (caller does not hold file.mu).
  void TellKernel(OpenFile& file);
  // The whole spool (filled first) as the file's new content.
  int UploadWhole(OpenFile& file, const FileState& state, Then then);
  // The PUT options of a whole upload of `state`'s file.
  static PutOptions WholeUploadOptions(const FileState& state, Then then);
  // After a write (in_order: at the end of what was written in order from
  // empty) that left the spool `size` bytes long: starts, feeds or abandons
  // the file's write-behind (caller holds file.mu and file.content_mu).
  void FollowWrite(OpenFile& file, bool in_order, uint64_t size);
  // Ends the file's write-behind as its upload, when it sent what the spool
  // holds now (caller holds both locks); an error: upload it the usual way.
  Result<PutResult> FinishWriteBehind(OpenFile& file, const FileState& state);
  // What a whole upload that stored `put` leaves: nothing dirty, the
  // master's size, md5 and handle; the mode it carried (sent_mode) no longer pending.
  void Uploaded(OpenFile& file, const FileState& state, const PutResult& put, std::optional<int> sent_mode);
  // Sends only the dirty ranges, one range write per chunk, in parallel
  // (growing writes in order); false: some were not taken (upload it whole).
  bool UploadRanges(OpenFile& file, const FileState& state);
  // After an upload: the mode and time set while it was pending; 0 or -errno.
  int ApplyPendingAttrs(OpenFile& file, const std::string& path);
  static constexpr size_t kUploadThreads = 4;  // range writes in flight per upload
  // Uploads what is being written to `path` here, if anything, so the
  // master has it before a call about it.
  int FlushPath(const std::string& path);
  void FillStat(const FileInfo& info, struct stat* st) const;
  void CacheAttr(const std::string& path, const FileInfo& info);
  void ForgetAttr(const std::string& path);
  void ForgetAllAttrs();
  // ForgetAttr of `path` and of its folder (an entry was added or removed there).
  void ForgetEntry(const std::string& path);
  // The inode of `path` when it is a file with other names the kernel may
  // hold (0 otherwise; asks the master only when some such names are known).
  int64_t HardLinkedInode(const std::string& path);
  // Forgets, here and in the kernel, the attributes of every known name of `ino`.
  void ForgetInode(int64_t ino);
  // Tells the kernel that what it caches of `path` is stale.
  void InvalidateKernelAttr(const std::string& path);
  Result<FileInfo> LookUp(const std::string& path);
  // What the attribute cache has of `path` (never asks the master).
  std::optional<FileInfo> Cached(const std::string& path);
  // The inode to queue unlink(path) with (UnlinkQueue; 0: not known), when
  // this mount can decide it: not a folder, no other names known, no handle
  // here has it open, and `who` may remove it (root, or it and every folder
  // on the way cached, searchable, and its own writable). nullopt: send it now.
  std::optional<int64_t> DeferrableUnlink(const std::string& path, const Credentials& who,
                                          const LockedFiles& open);
  // Opens a master handle on `path` for `file`, which the master has; the
  // entry it answers is the file's current state. Without one (an older
  // master, or the call failed) the file is written by name.
  Result<FileInfo> OpenMasterHandle(OpenFile& file, const std::string& path);
  // Closes the master handle of a file this mount no longer has open.
  void CloseMasterHandle(OpenFile& file);
  void RenewLoop();

  DfsClient client_;
  std::unique_ptr<UnlinkQueue> unlinks_;  // over client_
  std::unique_ptr<FileCache> cache_;
  std::unique_ptr<ReadAhead> read_ahead_;  // over client_ and cache_; stopped first
  const std::chrono::milliseconds attr_ttl_;
  const bool verify_at_open_;
  const uid_t uid_;
  const gid_t gid_;

  std::atomic<fuse*> fuse_{nullptr};  // the mounted session, for invalidations

  std::mutex attrs_mu_;
  std::map<std::string, CachedAttr> attrs_;
  std::map<int64_t, std::set<std::string>> aliases_;  // ino -> names seen of a hard-linked file
  std::map<std::string, int64_t> ino_of_;             // and back
  // ino -> version and md5 of a file's content when it was last opened here (KeepCache).
  std::map<int64_t, std::pair<int64_t, std::string>> opened_content_;

  std::mutex handles_mu_;
  std::map<uint64_t, std::shared_ptr<OpenFile>> handles_;
  std::map<uint64_t, std::shared_ptr<DirCursor>> dirs_;  // open folders, under handles_mu_
  uint64_t next_handle_ = 1;

  std::mutex renew_mu_;
  std::condition_variable renew_cv_;
  bool stopping_ = false;
  std::chrono::milliseconds renew_every_{20000};  // a third of the master's lease
  std::thread renewer_;
};

// "/a/b" -> "a/b"; "/" -> "".
std::string DfsPath(const char* fuse_path);
// The errno (negative, as FUSE wants it) for a failed call.
int ErrnoFor(const Status& status);

}  // namespace dfs::fuse_client
