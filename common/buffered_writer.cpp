#include "common/buffered_writer.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dfs {

Status WriteFully(int fd, const char* data, size_t len, const std::string& what) {
  while (len > 0) {
    ssize_t n = ::write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string message = "write " + what + ": " + std::strerror(errno);
      return errno == ENOSPC || errno == EDQUOT ? Status::NoSpace(message) : Status::IOError(message);
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return Status::OK();
}

Status BufferedWriter::Append(int fd, const char* data, size_t len) {
  if (buffer_.size() + len > kCapacity) {
    if (Status st = Flush(fd); !st.ok()) return st;
    if (len >= kCapacity) return WriteFully(fd, data, len, what_);  // a big piece goes as it is
  }
  if (buffer_.capacity() < kCapacity) buffer_.reserve(kCapacity);
  buffer_.insert(buffer_.end(), data, data + len);
  return Status::OK();
}

Status BufferedWriter::Flush(int fd) {
  if (buffer_.empty()) return Status::OK();
  Status st = WriteFully(fd, buffer_.data(), buffer_.size(), what_);
  buffer_.clear();
  return st;
}

}  // namespace dfs
