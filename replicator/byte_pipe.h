// BytePipe: a bounded in-memory pipe between two threads (a download feeding
// an upload), so copying a blob node to node costs `capacity` bytes of
// memory whatever its size. Either side can give up; the other then sees it.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>

namespace dfs::replication {

class BytePipe {
 public:
  explicit BytePipe(size_t capacity = 1 << 20) : capacity_(capacity) {}

  // Blocks while full. False when the reader gave up.
  bool Write(const char* data, size_t len);
  // No more data: `ok` false means the writer failed (the reader sees an error).
  void CloseWrite(bool ok);
  // Up to `max` bytes into buf: >0 bytes read, 0 at a clean end, -1 when the writer failed.
  long Read(char* buf, size_t max);
  // The reader gives up: pending and future writes fail.
  void CloseRead();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<char> buffer_;
  size_t capacity_;
  bool write_closed_ = false;
  bool write_ok_ = true;
  bool read_closed_ = false;
};

}  // namespace dfs::replication
