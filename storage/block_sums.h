// Per-block checksums of a blob, kept with it (an extended attribute of the
// blob file, or a sidecar <id>.blocks beside it: blob_store.h), so a read
// can check each block before any of its bytes leave the node (HDFS-style).
// Format (the same in both places): 16-byte header "dfsblk2 " + block size as 8 hex
// digits, then the CRC-32 (zlib's, as 8 hex digits) of each block in order
// (the last block may be short). Sidecars written before version 2 have the
// header "dfsblk1 " and the 32-hex-digit md5 of each block; they are read
// and checked as they are. A CRC catches the bit rot and torn writes block
// sums are for at a few percent of an md5's cost; the blob's md5 stays the
// check of its bytes as a whole (on write, by the scrubber, at the client).
#pragma once

#include <cstdint>
#include <string>

#include "common/crc32.h"
#include "common/md5.h"
#include "common/status.h"
#include "common/unique_fd.h"

namespace dfs::storage {

constexpr uint32_t kBlockSize = 1 << 20;

// Written while a blob's body streams in: one digest per full block, to a
// file as it goes (Create), or kept in memory (InMemory: 8 bytes per block,
// 512 bytes for a 64 MiB chunk) for the caller to store (encoded()).
class BlockSumsWriter {
 public:
  static Result<BlockSumsWriter> Create(const std::string& path, uint32_t block_size = kBlockSize);
  static BlockSumsWriter InMemory(uint32_t block_size = kBlockSize);
  BlockSumsWriter(BlockSumsWriter&&) = default;
  Status Append(const char* data, size_t len);
  // Digest of the last (short) block, flush, fsync, close.
  Status Finish();
  // Finish in two steps, so the fsync can run beside others (BlobWriter):
  // the last digest written out, then fsync and close.
  Status Write();
  Status SyncAndClose();
  // The CRC-32 of every byte appended, once Write() has run.
  uint32_t whole_crc() const { return whole_crc_; }
  // InMemory: the whole sidecar, once Write() has run.
  const std::string& encoded() const { return pending_; }

 private:
  void EndBlock();
  BlockSumsWriter(UniqueFd fd, uint32_t block_size);
  Status Flush();

  UniqueFd fd_;
  uint32_t block_size_;
  Crc32 block_crc_;
  uint32_t whole_crc_ = 0;
  uint64_t in_block_ = 0;
  std::string pending_;  // digests not yet written
};

// Reads the sidecar of a blob of `blob_size` bytes.
class BlockSums {
 public:
  // NotFound: no sidecar (a blob written before block sums existed).
  // ChecksumMismatch: a sidecar that does not fit the blob (a cut or grown blob).
  static Result<BlockSums> Open(const std::string& path, uint64_t blob_size);
  // The same from a sidecar's bytes held elsewhere; `what` names them in errors.
  static Result<BlockSums> FromBytes(std::string encoded, uint64_t blob_size, const std::string& what);
  uint32_t block_size() const { return block_size_; }
  uint64_t block_count() const { return blocks_; }
  // Whether `data` is exactly block `index` as it was written.
  Result<bool> Verify(uint64_t index, const char* data, size_t len) const;

 private:
  enum class Kind { kMd5, kCrc32 };  // sidecar version 1 and 2
  BlockSums(UniqueFd fd, std::string encoded, Kind kind, uint32_t block_size, uint64_t blocks)
      : fd_(std::move(fd)), encoded_(std::move(encoded)), kind_(kind), block_size_(block_size), blocks_(blocks) {}
  static size_t DigestSize(Kind kind);
  // The kind and block size a 16-byte header says.
  static Status ParseHeader(const char* header, const std::string& what, Kind* kind, uint32_t* block_size);
  UniqueFd fd_;          // a sidecar file, read a digest at a time
  std::string encoded_;  // or all of it in memory (when fd_ is not open)
  Kind kind_;
  uint32_t block_size_;
  uint64_t blocks_;
};

// The whole sidecar for `data` (tests and tools).
std::string EncodeBlockSums(const std::string& data, uint32_t block_size = kBlockSize);

}  // namespace dfs::storage
