#include "storage/verified_reader.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace dfs::storage {

namespace {
constexpr size_t kUnverifiedChunk = 256 * 1024;

// Bytes read; fewer than len only at end of file.
Result<size_t> PreadFull(int fd, char* buf, size_t len, uint64_t offset) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = ::pread(fd, buf + got, len - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IOError(std::string("read blob: ") + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return got;
}
}  // namespace

Status VerifiedReader::LoadBlock(uint64_t index) {
  if (loaded_ == index) return Status::OK();
  loaded_.reset();
  const uint64_t bs = sums_->block_size();
  const uint64_t start = index * bs;
  const size_t len = static_cast<size_t>(std::min<uint64_t>(bs, size_ - start));
  buf_.resize(len);
  auto got = PreadFull(fd_.get(), buf_.data(), len, start);
  if (!got.ok()) return got.status();
  auto good = *got == len ? sums_->Verify(index, buf_.data(), len) : Result<bool>(false);
  if (!good.ok()) return good.status();
  if (!*good) {
    return Status::ChecksumMismatch("block " + std::to_string(index) + " (bytes " + std::to_string(start) + "-" +
                                    std::to_string(start + len - 1) + ") failed its checksum");
  }
  loaded_ = index;
  return Status::OK();
}

Result<std::string_view> VerifiedReader::Read(uint64_t offset, size_t max_len) {
  if (offset >= size_ || max_len == 0) return std::string_view();
  if (!sums_) {
    buf_.resize(std::min(max_len, kUnverifiedChunk));
    auto got = PreadFull(fd_.get(), buf_.data(), buf_.size(), offset);
    if (!got.ok()) return got.status();
    if (*got == 0) return Status::IOError("blob ends before its size");
    return std::string_view(buf_.data(), *got);
  }
  const uint64_t bs = sums_->block_size();
  if (Status st = LoadBlock(offset / bs); !st.ok()) return st;
  const size_t in_block = static_cast<size_t>(offset % bs);
  return std::string_view(buf_.data() + in_block, std::min(max_len, buf_.size() - in_block));
}

}  // namespace dfs::storage
