// Output helpers for the CLI: human-readable sizes and times, a progress bar.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace dfs::cli {

std::string HumanBytes(uint64_t bytes);          // "0 B", "1.5 KiB", "3.0 GiB"
std::string FormatTime(double epoch_seconds);    // "2026-11-24 10:00:00"

// Draws "[#####.....]  45%  12.0 MiB/26.7 MiB" on stderr, at most ~10 times a
// second, and only when stderr is a terminal and the transfer is over 1 MiB.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  ~ProgressBar();
  void Update(uint64_t done, uint64_t total);

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace dfs::cli
