// ProbeServer: an HTTP server on 127.0.0.1 that answers every request with
// one fixed status and counts what it got: the "other master" of failover
// tests, which must see a request exactly when the rules send it there.
// Stopped and joined in the destructor.
#pragma once

#include <atomic>
#include <string>
#include <thread>

#include <httplib.h>

namespace dfs::testing {

class ProbeServer {
 public:
  explicit ProbeServer(int status);
  ~ProbeServer();
  ProbeServer(const ProbeServer&) = delete;
  ProbeServer& operator=(const ProbeServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  int hits() const { return hits_.load(); }

 private:
  int status_;
  httplib::Server server_;
  int port_ = 0;
  std::atomic<int> hits_{0};
  std::thread thread_;
};

}  // namespace dfs::testing
