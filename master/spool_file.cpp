#include "master/spool_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

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
  std::string tmpl = dir + "/put-XXXXXX";
  int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOSPC) return Status::NoSpace("master spool " + dir + " is full");
    return Status::IOError("create spool file in " + dir + ": " + std::strerror(errno));
  }
  return std::unique_ptr<SpoolFile>(new SpoolFile(tmpl, UniqueFd(fd), digest));
}

SpoolFile::~SpoolFile() { ::unlink(path_.c_str()); }

std::optional<uint32_t> SpoolFile::crc32() const {
  if (digest_ != SpoolDigest::kCrc32) return std::nullopt;
  return crc_.value();
}

Status SpoolFile::Append(const char* data, size_t len) {
  if (digest_ == SpoolDigest::kMd5) {
    md5_.Update(data, len);
  } else {
    crc_.Update(data, len);
  }
  size_ += len;
  Status st = out_.Append(fd_.get(), data, len);
  if (st.code() == Code::kNoSpace) return Status::NoSpace("master spool is full");
  return st;
}

Status SpoolFile::Finish() {
  if (digest_ == SpoolDigest::kMd5) md5_hex_ = md5_.HexDigest();
  if (Status st = out_.Flush(fd_.get()); !st.ok()) {
    return st.code() == Code::kNoSpace ? Status::NoSpace("master spool is full") : st;
  }
  if (fd_.Close() != 0) return Status::IOError(std::string("close spool: ") + std::strerror(errno));
  return Status::OK();
}

}  // namespace dfs::master
