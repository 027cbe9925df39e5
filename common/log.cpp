#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>

namespace dfs {

namespace {
std::atomic<LogLevel> g_level{LogLevel::INFO};

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

LogLine::~LogLine() {
  stream_ << '\n';
  std::string line = stream_.str();
  // A single write() keeps lines from different threads whole.
  ssize_t rc = ::write(STDERR_FILENO, line.data(), line.size());
  (void)rc;
  (void)level_;
}

}  // namespace dfs
