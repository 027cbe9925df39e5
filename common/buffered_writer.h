// Gathers the small appends of a streamed body (cpp-httplib hands bodies
// over in 4 KiB pieces) into writes of up to kCapacity bytes: one write(2)
// per 256 KiB instead of one per piece. Invariant: the file holds every byte
// appended except the last pending() ones, which Flush() writes; a write
// error (ENOSPC is NoSpace, anything else IOError) may thus surface at a
// later Append or at Flush.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/status.h"

namespace dfs {

class BufferedWriter {
 public:
  static constexpr size_t kCapacity = 256 * 1024;
  // `what` names the file in error messages.
  explicit BufferedWriter(std::string what) : what_(std::move(what)) {}

  [[nodiscard]] Status Append(int fd, const char* data, size_t len);
  [[nodiscard]] Status Flush(int fd);
  size_t pending() const { return buffer_.size(); }

 private:
  std::string what_;
  std::vector<char> buffer_;
};

// Writes all of [data, data+len) to fd, retrying short writes and EINTR.
[[nodiscard]] Status WriteFully(int fd, const char* data, size_t len, const std::string& what);

}  // namespace dfs
