// StorageNode: one dfs-storage process on a free loopback port, for tests
// that talk to nodes without a master. Stopped (by pid) when destroyed.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/http_helpers.h"
#include "tests/support/process.h"

namespace dfs::testing {

class StorageNode {
 public:
  explicit StorageNode(const std::string& dir, std::vector<std::string> extra = {}) : dir_(dir), port_(FreePort()) {
    Start(std::move(extra));
  }
  void Start(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {BinaryPath("dfs-storage"), "--data", dir_, "--listen",
                                     "127.0.0.1:" + std::to_string(port_)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc_ = Subprocess(argv, dir_ + ".log");
    if (!WaitHttpOk(url(), std::chrono::seconds(10))) throw std::runtime_error(ReadFile(dir_ + ".log"));
  }
  void Stop() { proc_.Stop(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  Subprocess& proc() { return proc_; }

 private:
  std::string dir_;
  int port_;
  Subprocess proc_;
};

}  // namespace dfs::testing
