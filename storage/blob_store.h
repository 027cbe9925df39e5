// BlobStore: a storage node's disk. Blobs are named by master-assigned ids
// (32 lower-case hex), never by user file names, so no request can reach a
// path outside DATA/blobs. A blob's md5 and its block sums (block_sums.h)
// are extended attributes of its file (user.dfs.md5, user.dfs.blocks), set
// before it is fsynced and renamed into place; on a file system that keeps
// no such attributes, and for blobs written before them, they are sidecar
// files <id>.meta ({"md5","size"}) and <id>.blocks, renamed into place
// before the blob. Either way a blob that is visible always has its md5
// and, unless written before block sums existed, its block sums.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/buffered_writer.h"
#include "common/md5.h"
#include "common/status.h"
#include "common/unique_fd.h"
#include "storage/block_sums.h"

namespace dfs::storage {

// The extended attributes a blob's file carries (BlobWriter::StoreSums).
inline constexpr const char* kMd5Xattr = "user.dfs.md5";
inline constexpr const char* kBlocksXattr = "user.dfs.blocks";

// When a committed blob reaches the disk. kNow: fsynced (file and folder)
// before Commit returns. kSoon: left to the kernel until SyncPending (the
// node's syncer, within a second, or POST /sync): what a client's close()
// gets, where fsync() then asks for kNow's promise (docs/protocol.md).
enum class BlobSync { kNow, kSoon };

struct BlobInfo {
  std::string blob_id;
  uint64_t size = 0;
  std::string md5;
  double mtime = 0;  // when the blob was written (seconds since the epoch)
};

struct Usage {
  uint64_t capacity = 0;
  uint64_t used = 0;
  uint64_t free = 0;
  uint64_t blobs = 0;
};

class BlobStore;

// An in-progress write: bytes go to DATA/tmp; nothing is visible until
// Commit() succeeds, and the temp file is removed if it never does. Free
// space is measured (statvfs) when the write begins and again only once the
// blob passes what that measure allowed, or every kFreeSpaceRecheckBytes:
// never once per body piece. Space taken by others in between is caught by
// the write's own ENOSPC, which is NoSpace as well. Bytes reach the file in
// writes of up to 256 KiB (common/buffered_writer.h), flushed by Commit().
class BlobWriter {
 public:
  ~BlobWriter();
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  static constexpr uint64_t kFreeSpaceRecheckBytes = 8 << 20;

  Status Append(const char* data, size_t len);
  // Compare with expected_md5 (when not empty) and expected_crc32 (when
  // given), store the md5 and block sums with the blob, fsync, publish.
  Result<BlobInfo> Commit(const std::string& expected_md5, std::optional<uint32_t> expected_crc32 = std::nullopt,
                          BlobSync sync = BlobSync::kNow);
  uint64_t bytes_written() const { return written_; }

 private:
  friend class BlobStore;
  BlobWriter(BlobStore* store, std::string blob_id, std::string tmp_path, UniqueFd fd, BlockSumsWriter sums,
             uint64_t free_bytes);
  // Measures free space again when `more` bytes go past what the last measure allowed.
  [[nodiscard]] Status CheckRoom(size_t more);
  std::string sums_tmp_path() const { return tmp_path_ + ".blocks"; }
  std::string meta_tmp_path() const { return tmp_path_ + ".meta"; }
  // The md5 and block sums as attributes of the temporary file, or (where
  // the file system keeps none) as sidecar files, written and fsynced.
  Status StoreSums(const std::string& md5);

  BlobStore* store_;
  std::string blob_id_;
  std::string tmp_path_;
  UniqueFd fd_;
  BufferedWriter out_;
  BlockSumsWriter sums_;
  Md5 md5_;
  uint64_t written_ = 0;
  uint64_t room_until_ = 0;  // the blob may grow to this size before free space is measured again
  bool sidecars_ = false;    // StoreSums wrote sidecar files
  bool done_ = false;
};

class BlobStore {
 public:
  // Where a blob's md5 and block sums are kept.
  enum class SumsIn { kAttributes, kSidecarFiles };
  // capacity 0: the size of the file system holding `dir`. kSidecarFiles:
  // for file systems or backup tools that drop extended attributes (blobs
  // written either way are read either way).
  static Result<std::unique_ptr<BlobStore>> Open(const std::string& dir, uint64_t capacity,
                                                 SumsIn sums_in = SumsIn::kAttributes);
  // Syncs what is pending as it goes (StartSyncer's thread stopped first).
  ~BlobStore();

  // Fsyncs every blob committed BlobSync::kSoon so far, and their folders;
  // on failure the ones not synced stay pending (tried again next time).
  [[nodiscard]] Status SyncPending();
  size_t pending_syncs() const;
  // A thread that calls SyncPending every `every` while blobs are pending
  // (once per store: a second call does nothing).
  void StartSyncer(std::chrono::milliseconds every);

  static Status ValidateId(const std::string& blob_id);

  // expected_size: Content-Length when known, used to refuse early with NoSpace.
  Result<std::unique_ptr<BlobWriter>> BeginWrite(const std::string& blob_id,
                                                 std::optional<uint64_t> expected_size);
  Result<BlobInfo> Stat(const std::string& blob_id) const;
  Result<UniqueFd> OpenForRead(const std::string& blob_id) const;
  // The blob's block sums; NotFound for a blob written before they existed.
  Result<BlockSums> OpenBlockSums(const std::string& blob_id, uint64_t size) const;
  // Takes a copy found corrupt out of service: moves it (and its sidecars)
  // to DATA/quarantine, unless the blob was replaced since `read_fd` was
  // opened (a repair got there first). True when it was moved.
  Result<bool> Quarantine(const std::string& blob_id, int read_fd);
  // Removes what quarantine holds that was moved there longer than `keep`
  // ago; returns how many files went.
  Result<size_t> PruneQuarantine(std::chrono::seconds keep);
  // Publishes block sums computed (into sums_tmp) from a read of the blob
  // through `read_fd`, unless the blob was replaced or got sums meanwhile.
  Result<bool> AdoptBlockSums(const std::string& blob_id, const std::string& sums_tmp, int read_fd);
  // A fresh name in DATA/tmp (removed at start) for a file about blob_id.
  std::string TmpPath(const std::string& blob_id) const;
  // Re-reads the blob and returns its actual md5.
  Result<std::string> ComputeMd5(const std::string& blob_id) const;
  Status Delete(const std::string& blob_id);
  Result<std::vector<BlobInfo>> List() const;
  Usage GetUsage() const;
  // How many times free space was measured (statvfs) for writes, for tests.
  uint64_t free_space_checks() const { return free_space_checks_.load(); }

  const std::string& dir() const { return dir_; }
  std::string BlobPath(const std::string& blob_id) const;
  std::string MetaPath(const std::string& blob_id) const;
  std::string BlocksPath(const std::string& blob_id) const;

 private:
  friend class BlobWriter;
  BlobStore(std::string dir, uint64_t capacity, SumsIn sums_in)
      : dir_(std::move(dir)), capacity_(capacity), sums_in_(sums_in) {}
  // Publish's last step: the shard folder fsynced now, or it and the blob left pending.
  Status SyncPublished(const std::string& id, BlobSync sync);
  Status Publish(BlobWriter& writer, const std::string& md5, BlobSync sync);
  uint64_t FreeBytes() const;

  std::string dir_;
  uint64_t capacity_;
  SumsIn sums_in_;
  mutable std::mutex pending_mu_;
  std::vector<std::string> pending_files_;  // blobs committed kSoon, not yet fsynced
  std::set<std::string> pending_dirs_;      // and their shard folders
  std::mutex syncer_mu_;
  std::condition_variable syncer_cv_;
  bool stopping_ = false;
  std::thread syncer_;
  std::atomic<uint64_t> used_{0};
  std::atomic<uint64_t> blobs_{0};
  mutable std::atomic<uint64_t> free_space_checks_{0};
  std::mutex publish_mu_;              // serialises check-and-rename of one id
};

// DATA/node_id, created once and kept across restarts.
Result<std::string> LoadOrCreateNodeId(const std::string& dir);

}  // namespace dfs::storage
