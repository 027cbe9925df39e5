// Test-side process control: real binaries started by the test and stopped by
// pid in destructors, so a failing test never leaves a server behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace dfs::testing {

// Directory of the built binaries (dfs-master, dfs-storage, ...).
std::string BinaryPath(const std::string& name);

class Subprocess {
 public:
  Subprocess() = default;
  // Starts argv[0] with stdout+stderr appended to log_path. Throws on failure.
  // A non-zero run_as_uid (when the test runs as root) runs it as that user
  // and group (PostgreSQL refuses to run as root).
  Subprocess(std::vector<std::string> argv, std::string log_path,
             std::vector<std::string> extra_env = {}, uid_t run_as_uid = 0, gid_t run_as_gid = 0);
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  ~Subprocess();

  pid_t pid() const { return pid_; }
  bool running();
  // SIGTERM, wait up to `grace`, then SIGKILL. Returns the exit status (waitpid).
  int Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
  void Kill();  // SIGKILL and reap
  void Signal(int sig);
  const std::string& log_path() const { return log_path_; }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  std::string log_path_;
};

// A fresh directory under $TMPDIR, removed (recursively) on destruction
// unless DFS_KEEP_TEST_DIRS is set.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

// Polls GET url until it answers 200 or the timeout passes.
bool WaitHttpOk(const std::string& url, std::chrono::milliseconds timeout);
// Polls `done` every 50 ms until it is true or `timeout` passes; its last answer.
// True when a dfs FUSE file system is mounted on `dir` (/proc/self/mountinfo).
bool IsFuseMounted(const std::string& dir);

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout);

// Writes `size` pseudo-random bytes to `path`; returns their md5.
std::string WriteRandomFile(const std::string& path, size_t size, unsigned seed);
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& data);

// Runs a shell command, returns its exit code; output captured into *out.
int RunCommand(const std::string& command, std::string* out = nullptr);

// Resident set size of a process in KiB (from /proc), or -1.
long RssKiB(pid_t pid);
// Peak RSS (VmHWM) in KiB, or -1.
long PeakRssKiB(pid_t pid);

}  // namespace dfs::testing
