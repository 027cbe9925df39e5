// ChunkedUpload: one upload's body cut into chunks of at most the chunk
// size, each stored on a node chosen at random as soon as it is full, in
// the background while the next ones arrive. So the master holds at most
// kMaxStoring + 1 chunks of any upload (on its disk, for a re-send to
// another node when one fails: the one being filled and the ones being
// stored), never the whole file, and the client's bytes never wait for a
// node unless a chunk fills while kMaxStoring are still being stored. The
// whole-file md5 is computed as the bytes arrive; a chunk goes to its node
// with its CRC-32, and its md5 is the one the node hashed.
//
// Invariants: chunks() are contiguous from offset 0 and were each accepted
// by a node with their CRC checked. Until Keep() is called (the master
// committed them to a file), the destructor deletes every stored chunk from
// its node, so an upload that fails or is abandoned leaves nothing behind.
#pragma once

#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "common/md5.h"
#include "common/status.h"
#include "master/metadata_store.h"
#include "master/node_client.h"
#include "master/spool_file.h"

namespace dfs::master {

class FileService;

// Where FileService::StoreBlob put a chunk.
struct PlacedBlob {
  std::string blob_id;
  std::string node_id;
  std::string node_url;
  std::string md5;  // of the chunk, as the node hashed it
};

class ChunkedUpload {
 public:
  // `name` and `request_id` only label logs. store=false only counts and
  // hashes the body (the answer of an idempotent PUT is replayed).
  ChunkedUpload(FileService& files, std::string name, std::string request_id, bool store = true,
                NodeSync sync = NodeSync::kNow);
  ~ChunkedUpload();
  ChunkedUpload(const ChunkedUpload&) = delete;
  ChunkedUpload& operator=(const ChunkedUpload&) = delete;

  // Node errors (no room anywhere, every node failing) come back at once.
  [[nodiscard]] Status Append(const char* data, size_t len);
  // Stores the last chunk (an empty body is one empty chunk); no Append after.
  [[nodiscard]] Status Finish();
  // The chunks now belong to a committed file: the destructor keeps them.
  void Keep() { keep_ = true; }

  uint64_t size() const { return size_; }
  const std::string& md5() const { return md5_hex_; }  // after Finish
  std::vector<ChunkRecord> chunks() const;
  bool stores() const { return store_; }

 private:
  struct Stored {
    ChunkRecord chunk;
    std::string node_url;
  };
  struct Storing {
    std::unique_ptr<SpoolFile> spool;
    std::future<Result<PlacedBlob>> placed;
  };
  // Chunks stored at once, each on its own thread: one's transfer and the
  // node's fsync overlap the next one's.
  static constexpr size_t kMaxStoring = 2;
  // Starts storing the full chunk being filled (once fewer than kMaxStoring are).
  Status StoreCurrent();
  // Waits for the oldest chunk being stored, if any; its error, if it failed.
  Status Collect();
  // Adds a stored chunk (the next in order) to stored_, or fails with its error.
  Status Record(const SpoolFile& spool, Result<PlacedBlob> placed);

  FileService& files_;
  const std::string name_;
  const std::string request_id_;
  const NodeSync sync_;
  const bool store_;
  const uint64_t chunk_size_;
  std::unique_ptr<SpoolFile> current_;  // the chunk being filled
  std::deque<Storing> storing_;         // the chunks being stored, oldest first
  uint64_t current_offset_ = 0;
  std::vector<Stored> stored_;
  Md5 md5_;  // of the whole body, as it arrives
  std::string md5_hex_;
  uint64_t size_ = 0;
  bool keep_ = false;
  bool finished_ = false;
};

}  // namespace dfs::master
