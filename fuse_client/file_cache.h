// FileCache: verified local copies of dfs content, named by their md5 (so a
// copy is reused exactly when the master's md5 still matches): whole files
// (verify=open, and the base of a file opened for writing) and single chunks
// of files (the read path: docs/chunks.md, "The mount's read path"). One
// least-recently-used bound covers both. A chunk is fetched only after room
// for it is reserved, so chunk downloads never take the folder past the
// bound (a whole-file copy may, alone: the newest entry is always kept); a
// chunk larger than the whole cache is fetched into memory instead. Nothing
// is named by an md5 before its bytes were checked against it. Also holds
// the spool folder where files being written live until they are uploaded.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/client/dfs_client.h"
#include "common/status.h"
#include "common/unique_fd.h"

namespace dfs::fuse_client {

// One chunk of a file: bytes [offset, offset + size) whose md5 is `md5`.
struct ChunkRef {
  uint64_t offset = 0;
  uint64_t size = 0;
  std::string md5;
};

class FileCache {
 public:
  // Creates dir/blobs and dir/spool; picks up copies left by an earlier mount.
  static Result<std::unique_ptr<FileCache>> Open(const std::string& dir, uint64_t max_bytes);

  // A read-only fd of a verified copy of `path` whose md5 is `md5`: reused
  // when cached, else downloaded (md5-checked by the client) first.
  // Concurrent calls for one md5 download it once. The copy is opened under
  // the cache's lock, so eviction can unlink it but never before it is open.
  Result<UniqueFd> Fetch(const DfsClient& client, const std::string& path, const std::string& md5);
  // Fetch of a file whose md5 the master has not settled yet (md5 "": after
  // a range write): downloaded, checked against the md5 its answer carries,
  // and kept under that.
  Result<UniqueFd> FetchPending(const DfsClient& client, const std::string& path);
  // A read-only fd of a verified copy of one chunk of the file named `name`
  // (open as `handle` when not empty): reused when cached, else fetched with
  // one Range GET of exactly the chunk and checked against its md5
  // (ChecksumMismatch, nothing kept) before anything can read it. Concurrent
  // calls for one md5 fetch it once.
  Result<UniqueFd> FetchChunk(const DfsClient& client, const std::string& name, const std::string& handle,
                              const ChunkRef& chunk);
  // Whether a verified copy with this md5 is cached now.
  bool Has(const std::string& md5) const;
  // An open copy of the verified file or chunk with this md5 when the cache
  // has one (marked as just used); none otherwise.
  UniqueFd OpenIfCached(const std::string& md5);
  // Keeps a copy of a file just uploaded with this md5 (hard link, no copy).
  void Adopt(const std::string& local_file, const std::string& md5);
  // A new, empty, unique spool file path.
  std::string NewSpoolPath();

  // Bytes of the cached copies plus the room reserved for chunks being fetched.
  uint64_t bytes() const;
  uint64_t max_bytes() const { return max_bytes_; }
  size_t downloads_in_flight() const;

 private:
  FileCache(std::string dir, uint64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {}
  std::string PathOf(const std::string& md5) const { return dir_ + "/blobs/" + md5; }
  // Records use of a cached md5 (most recent last) and evicts beyond the bound.
  void Touch(const std::string& md5, uint64_t size);
  void TouchLocked(const std::string& md5, uint64_t size);
  void EvictLocked();
  // Evicts until `size` more bytes fit and reserves them; false when even an
  // empty cache could not hold them beside the other reservations.
  bool Reserve(uint64_t size);
  // Downloads a chunk into `fd` (from its start), checking its md5.
  static Status DownloadChunk(const DfsClient& client, const std::string& name, const std::string& handle,
                              const ChunkRef& chunk, int fd);
  // A chunk too large to cache: fetched and checked into an anonymous memory file.
  static Result<UniqueFd> FetchChunkIntoMemory(const DfsClient& client, const std::string& name,
                                               const std::string& handle, const ChunkRef& chunk);
  // Names a checked download by its md5, turning its reservation into an entry.
  Result<UniqueFd> Keep(const std::string& part, const ChunkRef& chunk);
  // Opens the cached copy of md5 and marks it used; an empty fd when absent.
  UniqueFd OpenCached(const std::string& md5);
  std::shared_ptr<std::mutex> AcquireGate(const std::string& md5);
  // Drops the download gate of md5 once no other caller holds it.
  void ReleaseGate(const std::string& md5, std::shared_ptr<std::mutex> gate);

  const std::string dir_;
  const uint64_t max_bytes_;
  mutable std::mutex mu_;
  std::list<std::string> lru_;
  struct Entry {
    std::list<std::string>::iterator pos;
    uint64_t size = 0;
  };
  std::unordered_map<std::string, Entry> entries_;
  uint64_t bytes_ = 0;     // of the entries
  uint64_t reserved_ = 0;  // for chunks being fetched
  std::map<std::string, std::shared_ptr<std::mutex>> downloading_;
  uint64_t spool_counter_ = 0;
};

}  // namespace dfs::fuse_client
