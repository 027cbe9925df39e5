#include "common/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <deque>
#include <mutex>

namespace dfs {

namespace {
std::atomic<LogLevel> g_level{LogLevel::INFO};

constexpr size_t kRecentProblems = 100;
std::mutex g_recent_mu;
std::deque<std::string> g_recent;  // the last WARN/ERROR lines, oldest first

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::DEBUG: return "DEBUG";
    case LogLevel::INFO: return "INFO";
    case LogLevel::WARN: return "WARN";
    case LogLevel::ERROR: return "ERROR";
  }
  return "INFO";
}
}  // namespace

void SetLogLevel(LogLevel level) { g_level = level; }
LogLevel GetLogLevel() { return g_level; }

bool ParseLogLevel(std::string_view name, LogLevel* out) {
  if (name == "debug") *out = LogLevel::DEBUG;
  else if (name == "info") *out = LogLevel::INFO;
  else if (name == "warn") *out = LogLevel::WARN;
  else if (name == "error") *out = LogLevel::ERROR;
  else return false;
  return true;
}

LogLine::LogLine(LogLevel level, std::string_view component) : level_(level) {
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  char millis[8];
  std::snprintf(millis, sizeof(millis), ".%03dZ", static_cast<int>(ms));
  stream_ << stamp << millis << ' ' << LevelName(level) << ' ' << component << ' ';
}

// Control characters in logged values (a decoded request path may hold
// "%0A") become \xNN, so an event is always exactly one line.
std::string EscapeControls(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      char hex[5];
      std::snprintf(hex, sizeof(hex), "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

LogLine::~LogLine() {
  std::string line = EscapeControls(stream_.str());
  line += '\n';
  // A single write() keeps lines from different threads whole.
  ssize_t rc = ::write(STDERR_FILENO, line.data(), line.size());
  (void)rc;
  if (level_ >= LogLevel::WARN) {
    line.pop_back();
    std::lock_guard lock(g_recent_mu);
    g_recent.push_back(std::move(line));
    if (g_recent.size() > kRecentProblems) g_recent.pop_front();
  }
}

std::vector<std::string> RecentProblems(size_t max) {
  std::lock_guard lock(g_recent_mu);
  size_t n = std::min(max, g_recent.size());
  return std::vector<std::string>(g_recent.end() - static_cast<std::ptrdiff_t>(n), g_recent.end());
}

}  // namespace dfs
