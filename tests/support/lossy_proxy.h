// LossyProxy: a TCP proxy on 127.0.0.1 in front of a server that loses the
// answer to the first `lose` connections: it forwards the whole request,
// waits until the server starts answering, then closes the client's
// connection without passing a byte of the answer on. The client sees a
// dropped connection after the server did the work: the case retries with
// an idempotency key exist for. Later connections are passed through.
#pragma once

#include <atomic>
#include <thread>
#include <vector>

#include "common/unique_fd.h"

namespace dfs::testing {

class LossyProxy {
 public:
  LossyProxy(int upstream_port, int lose);
  ~LossyProxy();  // stops accepting and joins every connection
  LossyProxy(const LossyProxy&) = delete;
  LossyProxy& operator=(const LossyProxy&) = delete;

  int port() const { return port_; }
  int connections() const { return connections_.load(); }
  int answers_lost() const { return lost_.load(); }

 private:
  void AcceptLoop();
  void Serve(UniqueFd client, bool lose_answer);

  int upstream_port_;
  int lose_;
  int port_ = 0;
  UniqueFd listener_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> lost_{0};
  std::vector<std::thread> workers_;  // touched by the accept thread only, joined after it
  std::thread acceptor_;
};

}  // namespace dfs::testing
