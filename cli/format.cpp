#include "cli/format.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace dfs::cli {

std::string HumanBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 5) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f %s", v, kUnits[unit]);
  return buf;
}

std::string FormatTime(double epoch_seconds) {
  if (epoch_seconds <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

ProgressBar::ProgressBar(std::string label) : label_(std::move(label)), enabled_(::isatty(STDERR_FILENO) == 1) {}

ProgressBar::~ProgressBar() {
  if (drawn_) std::fprintf(stderr, "\n");
}

void ProgressBar::Update(uint64_t done, uint64_t total) {
  if (!enabled_ || total < (1u << 20)) return;
  auto now = std::chrono::steady_clock::now();
  if (done < total && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  int pct = static_cast<int>(done * 100 / total);
  std::string bar(30, '.');
  for (int i = 0; i < pct * 30 / 100; ++i) bar[i] = '#';
  std::fprintf(stderr, "\r%s [%s] %3d%%  %s/%s", label_.c_str(), bar.c_str(), pct, HumanBytes(done).c_str(),
               HumanBytes(total).c_str());
  drawn_ = true;
}

}  // namespace dfs::cli
