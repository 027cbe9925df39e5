// StorageNode: one dfs-storage process on a free loopback port, for tests
// that talk to nodes without a master. Stopped (by pid) when destroyed.
#pragma once

#include <sys/xattr.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/http_helpers.h"
#include "tests/support/process.h"

namespace dfs::testing {

// A blob's block sums as its node keeps them (storage/blob_store.h): the
// file's user.dfs.blocks attribute, else its .blocks sidecar; "" if neither.
inline std::string BlockSumsOf(const std::string& blob_path) {
  char buf[65536];
  ssize_t n = ::getxattr(blob_path.c_str(), "user.dfs.blocks", buf, sizeof buf);
  if (n >= 0) return std::string(buf, static_cast<size_t>(n));
  std::error_code ec;
  return std::filesystem::exists(blob_path + ".blocks", ec) ? ReadFile(blob_path + ".blocks") : "";
}

// As if the blob had been written before block sums existed: true if it had some.
inline bool RemoveBlockSums(const std::string& blob_path) {
  const bool attribute = ::removexattr(blob_path.c_str(), "user.dfs.blocks") == 0;
  std::error_code ec;
  return std::filesystem::remove(blob_path + ".blocks", ec) || attribute;
}

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
