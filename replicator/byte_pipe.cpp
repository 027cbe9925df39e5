#include "replicator/byte_pipe.h"

#include <algorithm>

namespace dfs::replication {

bool BytePipe::Write(const char* data, size_t len) {
  std::unique_lock lock(mu_);
  while (len > 0) {
    cv_.wait(lock, [&] { return read_closed_ || buffer_.size() < capacity_; });
    if (read_closed_) return false;
    size_t n = std::min(len, capacity_ - buffer_.size());
    buffer_.insert(buffer_.end(), data, data + n);
    data += n;
    len -= n;
    cv_.notify_all();
  }
  return true;
}

void BytePipe::CloseWrite(bool ok) {
  std::lock_guard lock(mu_);
  write_closed_ = true;
  write_ok_ = ok;
  cv_.notify_all();
}

long BytePipe::Read(char* buf, size_t max) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !buffer_.empty() || write_closed_; });
  if (buffer_.empty()) return write_ok_ ? 0 : -1;
  size_t n = std::min(max, buffer_.size());
  std::copy_n(buffer_.begin(), n, buf);
  buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<long>(n));
  cv_.notify_all();
  return static_cast<long>(n);
}

void BytePipe::CloseRead() {
  std::lock_guard lock(mu_);
  read_closed_ = true;
  buffer_.clear();
  cv_.notify_all();
}

}  // namespace dfs::replication
