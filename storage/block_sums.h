// Per-block md5s of a blob, in a sidecar <id>.blocks beside it, so a read
// can check each block before any of its bytes leave the node (HDFS-style).
// Format: 16-byte header "dfsblk1 " + block size as 8 hex digits, then the
// 32-hex-digit md5 of each block in order (the last block may be short).
#pragma once

#include <cstdint>
#include <string>

#include "common/md5.h"
#include "common/status.h"
#include "common/unique_fd.h"

namespace dfs::storage {

constexpr uint32_t kBlockSize = 1 << 20;

// Written while a blob's body streams in: one digest per full block, to a
// file, so memory stays bounded whatever the blob's size.
class BlockSumsWriter {
 public:
  static Result<BlockSumsWriter> Create(const std::string& path, uint32_t block_size = kBlockSize);
  BlockSumsWriter(BlockSumsWriter&&) = default;
  Status Append(const char* data, size_t len);
  // Digest of the last (short) block, flush, fsync, close.
  Status Finish();
  // Finish in two steps, so the fsync can run beside others (BlobWriter):
  // the last digest written out, then fsync and close.
  Status Write();
  Status SyncAndClose();

 private:
  BlockSumsWriter(UniqueFd fd, uint32_t block_size);
  Status Flush();

  UniqueFd fd_;
  uint32_t block_size_;
  Md5 block_md5_;
  uint64_t in_block_ = 0;
  std::string pending_;  // digests not yet written
};

// Reads the sidecar of a blob of `blob_size` bytes.
class BlockSums {
 public:
  // NotFound: no sidecar (a blob written before block sums existed).
  // Corruption: a sidecar that does not fit the blob (a cut or grown blob).
  static Result<BlockSums> Open(const std::string& path, uint64_t blob_size);
  uint32_t block_size() const { return block_size_; }
  uint64_t block_count() const { return blocks_; }
  // Whether `data` is exactly block `index` as it was written.
  Result<bool> Verify(uint64_t index, const char* data, size_t len) const;

 private:
  BlockSums(UniqueFd fd, uint32_t block_size, uint64_t blocks)
      : fd_(std::move(fd)), block_size_(block_size), blocks_(blocks) {}
  UniqueFd fd_;
  uint32_t block_size_;
  uint64_t blocks_;
};

// The whole sidecar for `data` (tests and tools).
std::string EncodeBlockSums(const std::string& data, uint32_t block_size = kBlockSize);

}  // namespace dfs::storage
