#include "master/spool_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace dfs::master {

Result<UniqueFd> LockSpoolDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError("create spool folder " + dir + ": " + ec.message());
  // The folder itself is locked (flock works on a directory's fd): no lock
  // file among the uploads.
  const std::string& path = dir;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Status::IOError("open " + path + ": " + std::strerror(errno));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Status::AlreadyExists("spool folder " + dir +
                                   " is in use by another dfs-master: give each master its own --spool");
    }
    return Status::IOError("lock " + path + ": " + std::strerror(errno));
  }
  return fd;
}

Result<std::unique_ptr<SpoolFile>> SpoolFile::Create(const std::string& dir, SpoolDigest digest) {
  return std::unique_ptr<SpoolFile>(new SpoolFile(dir, digest));
}

SpoolFile::~SpoolFile() {
  if (!path_.empty()) ::unlink(path_.c_str());
}

std::optional<uint32_t> SpoolFile::crc32() const {
  if (digest_ != SpoolDigest::kCrc32) return std::nullopt;
  return crc_.value();
}

Status SpoolFile::MoveToDisk() {
  std::string tmpl = dir_ + "/put-XXXXXX";
  int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOSPC) return Status::NoSpace("master spool " + dir_ + " is full");
    return Status::IOError("create spool file in " + dir_ + ": " + std::strerror(errno));
  }
  fd_.Reset(fd);
  path_ = std::move(tmpl);
  Status st = out_.Append(fd_.get(), memory_.data(), memory_.size());
  std::string().swap(memory_);
  return st;
}

Status SpoolFile::Append(const char* data, size_t len) {
  if (digest_ == SpoolDigest::kMd5) {
    md5_.Update(data, len);
  } else {
    crc_.Update(data, len);
  }
  size_ += len;
  if (in_memory() && size_ <= kInMemory) {
    memory_.append(data, len);
    return Status::OK();
  }
  Status st = in_memory() ? MoveToDisk() : Status::OK();
  if (st.ok()) st = out_.Append(fd_.get(), data, len);
  if (st.code() == Code::kNoSpace) return Status::NoSpace("master spool is full");
  return st;
}

Status SpoolFile::Finish() {
  if (digest_ == SpoolDigest::kMd5) md5_hex_ = md5_.HexDigest();
  if (in_memory()) return Status::OK();
  if (Status st = out_.Flush(fd_.get()); !st.ok()) {
    return st.code() == Code::kNoSpace ? Status::NoSpace("master spool is full") : st;
  }
  if (fd_.Close() != 0) return Status::IOError(std::string("close spool: ") + std::strerror(errno));
  return Status::OK();
}

Result<SpoolReader> SpoolReader::Open(const SpoolFile& spool) {
  if (spool.path_.empty()) return SpoolReader(&spool.memory_, UniqueFd());
  UniqueFd fd(::open(spool.path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Status::IOError("open spool " + spool.path_ + ": " + std::strerror(errno));
  return SpoolReader(nullptr, std::move(fd));
}

Result<size_t> SpoolReader::ReadAt(uint64_t offset, char* buf, size_t len) const {
  if (memory_) {
    if (offset >= memory_->size()) return size_t{0};
    const size_t n = std::min<size_t>(len, memory_->size() - offset);
    std::memcpy(buf, memory_->data() + offset, n);
    return n;
  }
  for (;;) {
    ssize_t n = ::pread(fd_.get(), buf, len, static_cast<off_t>(offset));
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return Status::IOError(std::string("read spool: ") + std::strerror(errno));
  }
}

}  // namespace dfs::master
