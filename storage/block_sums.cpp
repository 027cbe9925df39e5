#include "storage/block_sums.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "common/crc32.h"

namespace dfs::storage {

namespace {
constexpr size_t kHeaderSize = 16;
constexpr size_t kFlushAt = 4096;
constexpr char kMd5Magic[] = "dfsblk1 ";    // version 1: md5 per block, 32 hex digits
constexpr char kCrc32Magic[] = "dfsblk2 ";  // version 2: CRC-32 per block, 8 hex digits
constexpr size_t kMd5DigestSize = 32;
constexpr size_t kCrc32DigestSize = 8;

std::string Header(uint32_t block_size) {
  char buf[kHeaderSize + 1];
  std::snprintf(buf, sizeof(buf), "%s%08x", kCrc32Magic, block_size);
  return std::string(buf, kHeaderSize);
}

Status WriteAll(int fd, const std::string& data) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == ENOSPC ? Status::NoSpace(std::string("write block sums: ") + std::strerror(errno))
                             : Status::IOError(std::string("write block sums: ") + std::strerror(errno));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return Status::OK();
}

bool PreadAll(int fd, char* buf, size_t len, uint64_t offset) {
  while (len > 0) {
    ssize_t n = ::pread(fd, buf, len, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buf += n;
    len -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return true;
}
}  // namespace

BlockSumsWriter::BlockSumsWriter(UniqueFd fd, uint32_t block_size)
    : fd_(std::move(fd)), block_size_(block_size), pending_(Header(block_size)) {}

Result<BlockSumsWriter> BlockSumsWriter::Create(const std::string& path, uint32_t block_size) {
  if (block_size == 0) return Status::InvalidArgument("block size 0");
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return Status::IOError("create " + path + ": " + std::strerror(errno));
  return BlockSumsWriter(std::move(fd), block_size);
}

BlockSumsWriter BlockSumsWriter::InMemory(uint32_t block_size) {
  return BlockSumsWriter(UniqueFd(), std::max<uint32_t>(block_size, 1));
}

Status BlockSumsWriter::Append(const char* data, size_t len) {
  while (len > 0) {
    size_t take = static_cast<size_t>(std::min<uint64_t>(len, block_size_ - in_block_));
    block_crc_.Update(data, take);
    in_block_ += take;
    data += take;
    len -= take;
    if (in_block_ == block_size_) {
      EndBlock();
      if (fd_ && pending_.size() >= kFlushAt) {
        if (Status st = Flush(); !st.ok()) return st;
      }
    }
  }
  return Status::OK();
}

void BlockSumsWriter::EndBlock() {
  pending_ += block_crc_.Hex();
  whole_crc_ = Crc32::Combine(whole_crc_, block_crc_.value(), in_block_);
  block_crc_ = Crc32();
  in_block_ = 0;
}

Status BlockSumsWriter::Flush() {
  if (!fd_) return Status::OK();  // InMemory: kept
  Status st = WriteAll(fd_.get(), pending_);
  pending_.clear();
  return st;
}

Status BlockSumsWriter::Finish() {
  if (Status st = Write(); !st.ok()) return st;
  return SyncAndClose();
}

Status BlockSumsWriter::Write() {
  if (in_block_ > 0) EndBlock();
  return Flush();
}

Status BlockSumsWriter::SyncAndClose() {
  if (!fd_) return Status::OK();
  if (::fsync(fd_.get()) != 0) return Status::IOError(std::string("fsync block sums: ") + std::strerror(errno));
  if (fd_.Close() != 0) return Status::IOError(std::string("close block sums: ") + std::strerror(errno));
  return Status::OK();
}

Status BlockSums::ParseHeader(const char* header, const std::string& what, Kind* kind, uint32_t* block_size) {
  if (std::memcmp(header, kCrc32Magic, 8) == 0) {
    *kind = Kind::kCrc32;
  } else if (std::memcmp(header, kMd5Magic, 8) == 0) {
    *kind = Kind::kMd5;
  } else {
    return Status::ChecksumMismatch("bad block sums header in " + what);
  }
  const std::string digits(header + 8, kHeaderSize - 8);
  char* end = nullptr;
  unsigned long size = std::strtoul(digits.c_str(), &end, 16);
  if (end != digits.c_str() + digits.size() || size == 0 || size > UINT32_MAX) {
    return Status::ChecksumMismatch("bad block size in " + what);
  }
  *block_size = static_cast<uint32_t>(size);
  return Status::OK();
}

Result<BlockSums> BlockSums::Open(const std::string& path, uint64_t blob_size) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return Status::NotFound("no block sums at " + path);
    return Status::IOError("open " + path + ": " + std::strerror(errno));
  }
  char header[kHeaderSize + 1] = {};
  if (!PreadAll(fd.get(), header, kHeaderSize, 0)) return Status::ChecksumMismatch("bad block sums header in " + path);
  Kind kind;
  uint32_t block_size = 0;
  if (Status st = ParseHeader(header, path, &kind, &block_size); !st.ok()) return st;
  uint64_t blocks = (blob_size + block_size - 1) / block_size;
  struct stat sb {};
  if (::fstat(fd.get(), &sb) != 0) return Status::IOError("stat " + path + ": " + std::strerror(errno));
  if (static_cast<uint64_t>(sb.st_size) != kHeaderSize + blocks * DigestSize(kind)) {
    return Status::ChecksumMismatch("block sums in " + path + " do not fit a blob of " + std::to_string(blob_size) +
                                    " bytes");
  }
  return BlockSums(std::move(fd), "", kind, block_size, blocks);
}

Result<BlockSums> BlockSums::FromBytes(std::string encoded, uint64_t blob_size, const std::string& what) {
  if (encoded.size() < kHeaderSize) return Status::ChecksumMismatch("bad block sums header in " + what);
  Kind kind;
  uint32_t block_size = 0;
  if (Status st = ParseHeader(encoded.data(), what, &kind, &block_size); !st.ok()) return st;
  uint64_t blocks = (blob_size + block_size - 1) / block_size;
  if (encoded.size() != kHeaderSize + blocks * DigestSize(kind)) {
    return Status::ChecksumMismatch("block sums in " + what + " do not fit a blob of " + std::to_string(blob_size) +
                                    " bytes");
  }
  return BlockSums(UniqueFd(), std::move(encoded), kind, block_size, blocks);
}

size_t BlockSums::DigestSize(Kind kind) { return kind == Kind::kCrc32 ? kCrc32DigestSize : kMd5DigestSize; }

Result<bool> BlockSums::Verify(uint64_t index, const char* data, size_t len) const {
  if (index >= blocks_) return false;
  const size_t digest_size = DigestSize(kind_);
  char want[kMd5DigestSize];
  const uint64_t at = kHeaderSize + index * digest_size;
  if (!fd_) {
    std::memcpy(want, encoded_.data() + at, digest_size);  // FromBytes checked the size
  } else if (!PreadAll(fd_.get(), want, digest_size, at)) {
    return Status::IOError("read block sums: " + std::string(std::strerror(errno)));
  }
  std::string got = kind_ == Kind::kCrc32 ? Crc32::ToHex(Crc32::Of(std::string_view(data, len))) : Md5::Of(std::string_view(data, len));
  return got == std::string_view(want, digest_size);
}

std::string EncodeBlockSums(const std::string& data, uint32_t block_size) {
  std::string out = Header(block_size);
  for (size_t off = 0; off < data.size(); off += block_size) {
    std::string_view block = std::string_view(data).substr(off, block_size);
    out += Crc32::ToHex(Crc32::Of(block));
  }
  return out;
}

}  // namespace dfs::storage
