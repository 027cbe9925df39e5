#include "common/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace dfs {
namespace {

// Runs fn with stderr sent to a temp file; returns what was written.
template <typename Fn>
std::string CaptureStderr(Fn fn) {
  char path[] = "/tmp/dfs-log-test-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  int saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  fn();
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fd);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  unlink(path);
  return text.str();
}

TEST(LogTest, AnEventIsOneLineWhateverItsValuesHold) {
  std::string out = CaptureStderr([] {
    DFS_LOG(WARN, "master") << "bad request path=/x\nINFO master forged line\r\x1b[31m";
  });
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.find('\n'), out.size() - 1) << out;
  EXPECT_NE(out.find(" WARN master bad request path=/x\\x0aINFO master forged line\\x0d\\x1b[31m"), std::string::npos)
      << out;
  EXPECT_NE(RecentProblems(1).back().find("\\x0a"), std::string::npos);
}

TEST(LogTest, PrintableTextIsKeptAsItIs) {
  EXPECT_EQ(EscapeControls("put name=a b.txt ünïcode"), "put name=a b.txt ünïcode");
  EXPECT_EQ(EscapeControls(std::string("a\0b\x7f", 4)), "a\\x00b\\x7f");
}

}  // namespace
}  // namespace dfs
