// Small helpers shared by the benchmarks: wall-clock timing, percentiles,
// and shell commands (the curl / cp baselines) timed from the outside.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace dfs::bench {

inline double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Runs a shell command and returns its wall time in seconds; aborts on failure
// (a benchmark with a failed step has no meaning).
inline double TimeCommand(const std::string& command) {
  double start = Now();
  std::string out;
  int rc = dfs::testing::RunCommand(command, &out);
  double took = Now() - start;
  if (rc != 0) {
    std::fprintf(stderr, "bench: command failed (%d): %s\n%s\n", rc, command.c_str(), out.c_str());
    std::exit(1);
  }
  return took;
}

inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

inline double MiBps(double bytes, double seconds) { return bytes / (1 << 20) / seconds; }

}  // namespace dfs::bench
