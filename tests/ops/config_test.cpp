// Configuration of the real programs: a config file, DFS_* environment
// variables and flags, in that order of precedence (later wins).
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/http_helpers.h"
#include "tests/support/process.h"

namespace dfs::testing {
namespace {

using std::chrono::milliseconds;

std::string Listen(int port) { return "127.0.0.1:" + std::to_string(port); }
std::string Url(int port) { return "http://" + Listen(port); }

// Which of the ports answers /healthz (0: none within the timeout).
int AnsweringPort(const std::vector<int>& ports) {
  for (int i = 0; i < 100; ++i) {
    for (int port : ports) {
      if (Get(Url(port), "/healthz").status == 200) return port;
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  return 0;
}

TEST(ConfigTest, MasterTakesTheFileThenTheEnvironmentThenFlags) {
  TempDir tmp;
  const int from_file = FreePort(), from_env = FreePort(), from_flag = FreePort();
  const std::string conf = tmp.path() + "/master.conf";
  WriteFile(conf, "# as packaging/config/master.conf\nlisten = \"" + Listen(from_file) + "\"\ndb = \"" + tmp.path() +
                      "/meta.db\"\nreplicas = 1\nlog-level = \"warn\"\n");
  const std::vector<int> all = {from_file, from_env, from_flag};
  {
    Subprocess master({BinaryPath("dfs-master"), "--config", conf}, tmp.path() + "/1.log");
    EXPECT_EQ(AnsweringPort(all), from_file) << ReadFile(tmp.path() + "/1.log");
    master.Stop();
  }
  {
    Subprocess master({BinaryPath("dfs-master"), "--config", conf}, tmp.path() + "/2.log",
                      {"DFS_MASTER_LISTEN=" + Listen(from_env)});
    EXPECT_EQ(AnsweringPort(all), from_env) << ReadFile(tmp.path() + "/2.log");
    master.Stop();
  }
  {
    Subprocess master({BinaryPath("dfs-master"), "--config", conf, "--listen", Listen(from_flag)},
                      tmp.path() + "/3.log", {"DFS_MASTER_LISTEN=" + Listen(from_env)});
    EXPECT_EQ(AnsweringPort(all), from_flag) << ReadFile(tmp.path() + "/3.log");
    master.Stop();
  }
  // log-level = "warn" from the file: no INFO lines.
  EXPECT_EQ(ReadFile(tmp.path() + "/1.log").find(" INFO "), std::string::npos) << ReadFile(tmp.path() + "/1.log");
}

TEST(ConfigTest, AConfigFileWithAnUnknownKeyOrABadValueIsAnError) {
  TempDir tmp;
  const std::string listen = "listen = \"" + Listen(FreePort()) + "\"\n";
  for (const std::string& body : {listen + "no-such-key = 3\n", listen + "replicas = \"many\"\n"}) {
    WriteFile(tmp.path() + "/bad.conf", body);
    std::string out;
    // `timeout`: a master that takes the file would run until killed.
    int rc = RunCommand("timeout 10 " + BinaryPath("dfs-master") + " --config " + tmp.path() + "/bad.conf --db " +
                            tmp.path() + "/m.db 2>&1",
                        &out);
    EXPECT_NE(rc, 124) << "the master started with a bad config file: " << body;
    EXPECT_NE(rc, 0) << body;
    EXPECT_FALSE(out.empty()) << "a message says what is wrong: " << body;
  }
}

// Two masters given one --spool: the second refuses to start (it would
// clear the first's uploads in flight) and says why; the first keeps it.
TEST(ConfigTest, ASecondMasterOnTheSameSpoolFolderRefusesToStart) {
  TempDir tmp;
  const std::string spool = tmp.path() + "/spool";
  const int port = FreePort();
  Subprocess first({BinaryPath("dfs-master"), "--listen", Listen(port), "--db", tmp.path() + "/1.db", "--spool", spool},
                   tmp.path() + "/1.log");
  ASSERT_EQ(AnsweringPort({port}), port) << ReadFile(tmp.path() + "/1.log");
  WriteFile(spool + "/put-inflight", "an upload the first master is receiving");
  std::string out;
  int rc = RunCommand("timeout 10 " + BinaryPath("dfs-master") + " --listen " + Listen(FreePort()) + " --db " +
                          tmp.path() + "/2.db --spool " + spool + " 2>&1",
                      &out);
  EXPECT_NE(rc, 124) << "the second master started";
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("in use by another dfs-master"), std::string::npos) << out;
  EXPECT_TRUE(std::filesystem::exists(spool + "/put-inflight")) << "the first master's upload was removed";
  EXPECT_EQ(Get(Url(port), "/healthz").status, 200);
}

TEST(ConfigTest, StorageNodeTakesItsSettingsFromTheEnvironment) {
  TempDir tmp;
  const int port = FreePort();
  Subprocess node({BinaryPath("dfs-storage")}, tmp.path() + "/node.log",
                  {"DFS_STORAGE_DATA=" + tmp.path() + "/data", "DFS_STORAGE_LISTEN=" + Listen(port),
                   "DFS_STORAGE_CAPACITY=1048576", "DFS_MASTER=http://127.0.0.1:1"});
  ASSERT_EQ(AnsweringPort({port}), port) << ReadFile(tmp.path() + "/node.log");
  auto stats = Get(Url(port), "/stats").json();
  EXPECT_EQ(stats.value("capacity", uint64_t{0}), 1048576u) << stats.dump();
  node.Stop();
}

}  // namespace
}  // namespace dfs::testing
