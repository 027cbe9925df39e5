// A real haproxy (Debian's) in front of dfs masters, configured by
// scripts/dfs-haproxy-config exactly as `dfs-cluster up --masters N` does:
// streamed bodies, /healthz checks every second, retries only on connection
// failures. Listens on a free 127.0.0.1 port with a stats page on another;
// stopped by pid when destroyed.
#pragma once

#include <string>
#include <vector>

#include "tests/support/process.h"

namespace dfs::testing {

class Haproxy {
 public:
  // True when the haproxy program is installed (tests skip otherwise).
  static bool Installed();
  // `masters` are URLs or HOST:PORT; `dir` holds haproxy.cfg and haproxy.log.
  // Throws when the configuration is refused or haproxy does not answer.
  Haproxy(const std::vector<std::string>& masters, const std::string& dir);
  Haproxy(const Haproxy&) = delete;
  Haproxy& operator=(const Haproxy&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string stats_url() const { return "http://127.0.0.1:" + std::to_string(stats_port_); }
  // What the stats page says of server `name` ("master1", ...): "UP",
  // "DOWN ..." and so on; "" when it is not listed.
  std::string ServerStatus(const std::string& name) const;
  // Waits until every server is "UP".
  bool WaitAllUp(int servers, std::chrono::milliseconds timeout) const;
  Subprocess& process() { return process_; }

 private:
  int port_ = 0, stats_port_ = 0;
  Subprocess process_;
};

}  // namespace dfs::testing
