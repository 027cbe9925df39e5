// Holds connections while they wait for a request head, on one thread, so
// that no worker thread waits for a client: a worker gets a connection only
// once a whole head (request line and headers) has arrived, and gives it
// back after the answer (keep-alive). Without it a few hundred clients that
// trickle their headers, or just keep connections open, would hold every
// worker while others queue.
//
// Per connection: the TLS handshake must be done within `head` of the
// accept (else closed); the first byte of a request must come within `idle`
// of the accept or the previous answer (else closed, as an idle keep-alive
// connection); the whole head within `head` of its first byte (else 408)
// and at most ServerStream::kMaxHeadBytes (else 431).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/server_stream.h"
#include "common/unique_fd.h"

namespace dfs {

// What ends a request head (request line and headers).
inline constexpr std::string_view kHeadEnd = "\r\n\r\n";

struct Connection {
  std::unique_ptr<Transport> transport;
  std::string received;   // read from the client, not yet parsed
  size_t requests = 0;    // answered on this connection so far
};

class HeadGate {
 public:
  struct Timeouts {
    std::chrono::milliseconds head{30000};
    std::chrono::milliseconds idle{5000};
  };
  // `ready` is called on the gate's thread with each connection whose head
  // has arrived: it must only hand it on. Once `open` answers false (it is
  // asked about once a second), the gate stops.
  using Ready = std::function<void(std::shared_ptr<Connection>)>;
  HeadGate(Timeouts timeouts, Ready ready, std::function<bool()> open);
  ~HeadGate();  // Stop()
  HeadGate(const HeadGate&) = delete;
  HeadGate& operator=(const HeadGate&) = delete;

  // A connection just accepted (its TLS handshake still to do).
  void Accepted(std::shared_ptr<Connection> connection);
  // A connection kept open after an answer.
  void KeepAlive(std::shared_ptr<Connection> connection);
  // Closes every held connection, and from now on every one handed in;
  // returns once `ready` is no longer called.
  void Stop();
  size_t held() const;
  // Whether the gate stopped (Stop(), or `open` answered false).
  bool stopped() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::shared_ptr<Connection> connection;
    bool handshaking = false;
    Transport::Wait wait = Transport::Wait::kReadable;
    Clock::time_point deadline;  // of the handshake, the first byte, or the head
    bool head_started = false;   // a byte of the head arrived: `deadline` is the head's
    bool try_now = true;         // progress without waiting for poll (new, or TLS bytes pending)
  };
  enum class Outcome { kWaiting, kReady, kClosed };

  void Add(Entry entry);
  void Run();
  Outcome Progress(Entry& entry);
  void Refuse(Entry& entry, int status, const std::string& message);

  const Timeouts timeouts_;
  const Ready ready_;
  const std::function<bool()> open_;
  UniqueFd wake_;  // eventfd: new entries or Stop()

  mutable std::mutex mu_;
  std::vector<Entry> incoming_;
  size_t held_ = 0;
  bool stopped_ = false;

  std::mutex join_mu_;
  std::thread thread_;
};

}  // namespace dfs
