// Raw HTTP over a TCP socket for tests that must send malformed requests:
// the exact bytes go out, the first answer is parsed by hand.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "common/unique_fd.h"

namespace dfs::testing {

struct RawAnswer {
  bool answered = false;  // a complete status line + headers (+ Content-Length body) arrived
  bool closed = false;    // the server closed the connection (EOF or reset)
  bool timed_out = false;
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names, first value
  std::string body;
  std::string raw;  // everything read (for failure messages, cut at 2 KiB)
};

// A TCP connection to 127.0.0.1:port.
class RawConnection {
 public:
  explicit RawConnection(int port);
  bool ok() const { return static_cast<bool>(fd_); }
  // Writes all of `bytes` (false if the server closed or reset).
  bool Send(const std::string& bytes);
  void ShutdownWrite();
  // Reads the next answer: until its body is complete, the server closes
  // or `timeout` passes.
  RawAnswer ReadAnswer(std::chrono::milliseconds timeout);
  // Reads (and drops) until the server closes; false if `timeout` passes first.
  bool WaitClosed(std::chrono::milliseconds timeout);

 private:
  UniqueFd fd_;
  std::string buffered_;
};

// Sends `start` on a new connection, then one byte of `trickle` every 100 ms
// (repeating it) until the server answers or closes, for at most 30 s.
RawAnswer Trickle(int port, const std::string& start, const std::string& trickle);

// Sends `bytes` on a new connection and reads the first answer.
RawAnswer SendRaw(int port, const std::string& bytes, std::chrono::milliseconds timeout = std::chrono::seconds(15));

}  // namespace dfs::testing
