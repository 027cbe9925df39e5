// The mount's read path for a file open read-only (docs/chunks.md, "The
// mount's read path"): open gets the file's chunk list from the master's
// meta and checks that it makes sense (ChunkList); each read is served from
// verified copies of the chunks under it (FileCache::FetchChunk: one Range
// GET of exactly a chunk, md5-checked before a byte of it is returned), and
// a sequential reader gets the next chunk fetched in the background
// (ReadAhead). A file whose content changed while open (the bytes fetched
// are not the listed chunk's) is read as it now is (Renewed). Invariant: no
// byte reaches a program unless the chunk it belongs to matched that
// chunk's md5; a chunk that does not fails only the reads that touch it (EIO).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/client/dfs_client.h"
#include "common/credentials.h"
#include "common/status.h"
#include "common/unique_fd.h"
#include "fuse_client/file_cache.h"

namespace dfs::fuse_client {

// What the master's meta says of a file's content: chunks contiguous from
// offset 0 adding up to `size`, each with an md5 and a good copy somewhere.
struct ChunkList {
  uint64_t size = 0;
  int64_t version = 0;
  std::string md5;  // the whole file's; "" while pending after a range write
  std::vector<ChunkRef> chunks;
};

// Checks a GET /api/v1/meta answer; IOError saying what does not make sense
// (no chunks, a gap, sizes that do not add up, a chunk without an md5 or
// without a good copy, a one-chunk file whose chunk md5 is not the file's).
Result<ChunkList> ChunkListFromMeta(const nlohmann::json& meta);

// A background fetcher of chunks a sequential reader is about to want:
// kWorkers threads (started at the first request, so they are made after the
// mount daemonized), so the next two chunks come at once, and a short queue;
// requests beyond it are dropped.
class ReadAhead {
 public:
  ReadAhead(const DfsClient& client, FileCache& cache) : client_(client), cache_(cache) {}
  ~ReadAhead();
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  // Fetches `chunk` of `name`/`handle` as `who` unless it is cached, queued or being fetched.
  void Want(const std::string& name, const std::string& handle, const ChunkRef& chunk, const Credentials& who);
  static constexpr size_t kMaxQueued = 4;
  static constexpr size_t kWorkers = 2;

 private:
  struct Job {
    std::string name, handle;
    ChunkRef chunk;
    Credentials who;
  };
  void Loop();

  const DfsClient& client_;
  FileCache& cache_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::set<std::string> pending_;  // md5s queued or being fetched
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

// The reads of one open file. Thread-safe (FUSE may read one handle from
// several threads at once).
class ChunkReader {
 public:
  ChunkReader(std::string name, std::string handle, ChunkList list, FileInfo entry)
      : name_(std::move(name)), handle_(std::move(handle)), list_(std::move(list)), entry_(std::move(entry)) {}

  // Reads up to `size` bytes at `offset` (short at the end of the file);
  // read_ahead may be null (none).
  Result<size_t> Read(const DfsClient& client, FileCache& cache, ReadAhead* read_ahead, char* buf, size_t size,
                      uint64_t offset);
  uint64_t size() const { return list_.size; }
  // A reader of the file's current content (same handle) when its version
  // moved since this reader's chunk list was made; null when it did not
  // (or there is no handle to ask by).
  Result<std::shared_ptr<ChunkReader>> Renewed(const DfsClient& client) const;
  // The file as it was when it was opened (fstat of an unlinked file).
  const FileInfo& entry() const { return entry_; }

 private:
  // The index of the chunk holding byte `offset` (< size).
  size_t ChunkAt(uint64_t offset) const;
  // Copies the part of chunk `index` that [offset, offset + size) covers.
  Result<size_t> ReadFromChunk(const DfsClient& client, FileCache& cache, size_t index, char* buf, size_t size,
                               uint64_t offset);
  // The read served from the file's whole verified copy (one this mount
  // uploaded or fetched whole) when the cache has one; nullopt when not.
  std::optional<Result<size_t>> ReadFromWholeCopy(FileCache& cache, char* buf, size_t size, uint64_t offset);
  // After a read of [offset, end): asks for the next chunk when the reader goes sequentially.
  void MaybeReadAhead(FileCache& cache, ReadAhead* read_ahead, uint64_t offset, uint64_t end);

  const std::string name_;    // the name it was opened by (names the requests; the handle finds the file)
  const std::string handle_;  // the master's handle ("" from an older master: read by name)
  const ChunkList list_;
  const FileInfo entry_;
  std::mutex mu_;
  uint64_t next_offset_ = UINT64_MAX;  // where the last read ended
  size_t read_ahead_of_ = SIZE_MAX;    // the chunk last asked for ahead
  bool looked_for_whole_ = false;      // whether whole_ was looked for in the cache
  UniqueFd whole_;                     // the whole file's verified copy, if the cache had one
};

}  // namespace dfs::fuse_client
