// A real redis-server on a free loopback port for queue tests.
#pragma once

#include <string>
#include <thread>

#include "replicator/redis_connection.h"
#include "tests/support/process.h"

namespace dfs::testing {

class RedisServer {
 public:
  explicit RedisServer(bool persistent = true) : persistent_(persistent), port_(FreePort()) { Start(); }
  ~RedisServer() { process_.Stop(); }

  void Start() {
    process_ = Subprocess({"redis-server", "--bind", "127.0.0.1", "--port", std::to_string(port_), "--dir",
                           dir_.path(), "--save", "", "--appendonly", persistent_ ? "yes" : "no",
                           "--daemonize", "no"},
                          dir_.path() + "/redis.log");
    for (int i = 0; i < 200; ++i) {
      std::string out;
      if (RunCommand("redis-cli -h 127.0.0.1 -p " + std::to_string(port_) + " ping", &out) == 0 &&
          out.find("PONG") != std::string::npos) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("redis-server did not start: " + ReadFile(dir_.path() + "/redis.log"));
  }
  void Stop() { process_.Stop(); }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  replication::RedisAddress redis_address() const { return {"127.0.0.1", port_, ""}; }
  const std::string& dir() const { return dir_.path(); }

 private:
  bool persistent_;
  TempDir dir_;
  int port_;
  Subprocess process_;
};

}  // namespace dfs::testing
