// Reads a blob for a GET in whole blocks and checks each against its block
// sum before handing out any of its bytes, so a corrupt block never leaves
// the node. A blob without block sums (written before they existed) is read
// unverified.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"
#include "storage/block_sums.h"

namespace dfs::storage {

class VerifiedReader {
 public:
  VerifiedReader(UniqueFd fd, uint64_t size, std::optional<BlockSums> sums)
      : fd_(std::move(fd)), size_(size), sums_(std::move(sums)) {}

  // Bytes from `offset` on, at most `max_len` and never past the end of the
  // block holding `offset`. ChecksumMismatch when that block is not what was
  // written; the view is valid until the next call.
  Result<std::string_view> Read(uint64_t offset, size_t max_len);
  bool verified() const { return sums_.has_value(); }
  int fd() const { return fd_.get(); }

 private:
  Status LoadBlock(uint64_t index);

  UniqueFd fd_;
  uint64_t size_;
  std::optional<BlockSums> sums_;
  std::vector<char> buf_;
  std::optional<uint64_t> loaded_;  // block index held in buf_
};

}  // namespace dfs::storage
