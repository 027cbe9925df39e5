// One line per event: "2026-11-24T10:00:00.123Z INFO master put a.txt ...".
//   DFS_LOG(INFO, "master") << "put " << path << " node=" << node;
#pragma once

#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace dfs {

enum class LogLevel { DEBUG = 0, INFO = 1, WARN = 2, ERROR = 3 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// "debug", "info", "warn", "error"; false when unknown.
bool ParseLogLevel(std::string_view name, LogLevel* out);
// This process's last `max` WARN and ERROR lines, oldest first (status page).
std::vector<std::string> RecentProblems(size_t max = 20);

// "\x0a" for each control character: what LogLine does to a whole line.
std::string EscapeControls(const std::string& text);

class LogLine {
 public:
  LogLine(LogLevel level, std::string_view component);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  template <typename T>
  LogLine& operator<<(const T& v) {
    stream_ << v;
    return *this;
  }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

// Turns the whole streaming expression into void so the macro is one
// expression: safe inside an unbraced if/else (glog's trick).
struct LogVoidify {
  void operator&(const LogLine&) {}
};

}  // namespace dfs

#define DFS_LOG(level, component)                                  \
  (::dfs::LogLevel::level < ::dfs::GetLogLevel())                  \
      ? (void)0                                                    \
      : ::dfs::LogVoidify() & ::dfs::LogLine(::dfs::LogLevel::level, component)
