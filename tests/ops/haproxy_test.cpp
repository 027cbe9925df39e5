// haproxy in front of masters, with the configuration scripts/dfs-haproxy-config
// writes: requests (a big upload and its download, streamed) go through it,
// its /healthz checks mark a dead master DOWN and a live one UP, and a
// master that dies is taken out. Real haproxy (Debian's), dfs-master and
// dfs-storage on 127.0.0.1, stopped by pid in destructors. Skipped when
// haproxy is not installed.
#include <sstream>

#include <gtest/gtest.h>

#include "common/client/dfs_client.h"
#include "common/md5.h"
#include "tests/support/cluster.h"
#include "tests/support/http_helpers.h"
#include "tests/support/process.h"

namespace dfs::testing {
namespace {

using std::chrono::milliseconds;

// What haproxy's stats CSV says of server `server` ("" when not listed).
std::string ServerStatus(const std::string& stats_url, const std::string& server) {
  auto answer = Get(stats_url, "/;csv");
  if (answer.status != 200) return "";
  std::istringstream lines(answer.body);
  std::string line;
  int status_col = -1;
  while (std::getline(lines, line)) {
    std::vector<std::string> cols;
    std::istringstream fields(line);
    for (std::string f; std::getline(fields, f, ',');) cols.push_back(f);
    if (!line.empty() && line[0] == '#') {
      for (size_t i = 0; i < cols.size(); ++i) {
        if (cols[i] == "status") status_col = static_cast<int>(i);
      }
    } else if (status_col >= 0 && cols.size() > static_cast<size_t>(status_col) && cols.size() > 1 &&
               cols[0] == "masters" && cols[1] == server) {
      return cols[status_col];
    }
  }
  return "";
}

class HaproxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (RunCommand("command -v haproxy >/dev/null") != 0) GTEST_SKIP() << "haproxy is not installed (apt-get install haproxy)";
    ClusterOptions options;
    options.nodes = 1;
    options.replicas = 0;
    cluster_ = std::make_unique<TestCluster>(options);
    lb_port_ = FreePort();
    stats_port_ = FreePort();
    const std::string dead = "127.0.0.1:" + std::to_string(FreePort());
    const std::string cfg = tmp_.path() + "/haproxy.cfg";
    std::string out;
    ASSERT_EQ(RunCommand(std::string(DFS_SOURCE_DIR) + "/scripts/dfs-haproxy-config --listen 127.0.0.1:" +
                             std::to_string(lb_port_) + " --stats 127.0.0.1:" + std::to_string(stats_port_) + " " +
                             dead + " " + cluster_->master_url() + " > " + cfg + " 2>&1",
                         &out),
              0)
        << out << ReadFile(cfg);
    haproxy_ = Subprocess({"haproxy", "-db", "-f", cfg}, tmp_.path() + "/haproxy.log");
    ASSERT_TRUE(WaitHttpOk(lb_url(), milliseconds(15000))) << ReadFile(tmp_.path() + "/haproxy.log");
  }
  std::string lb_url() const { return "http://127.0.0.1:" + std::to_string(lb_port_); }
  std::string stats_url() const { return "http://127.0.0.1:" + std::to_string(stats_port_); }

  std::unique_ptr<TestCluster> cluster_;
  TempDir tmp_;
  int lb_port_ = 0, stats_port_ = 0;
  Subprocess haproxy_;
};

TEST_F(HaproxyTest, HealthChecksMarkTheDeadMasterDownAndRequestsGoToTheLiveOne) {
  EXPECT_TRUE(WaitUntil([&] { return ServerStatus(stats_url(), "master1").rfind("DOWN", 0) == 0; }, milliseconds(15000)))
      << ServerStatus(stats_url(), "master1");
  EXPECT_TRUE(WaitUntil([&] { return ServerStatus(stats_url(), "master2") == "UP"; }, milliseconds(15000)))
      << ServerStatus(stats_url(), "master2");

  // 64 MiB up and down through the balancer, with its md5 checked both ways.
  const std::string src = tmp_.path() + "/big.bin";
  const std::string md5 = WriteRandomFile(src, 64u << 20, 7);
  ClientOptions options;
  options.master_url = lb_url();
  options.max_attempts = 1;
  DfsClient client(options);
  auto put = client.Put(src, "big.bin");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->md5, md5);
  auto got = client.Get("big.bin", tmp_.path() + "/big.back");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*Md5::OfFile(tmp_.path() + "/big.back"), md5);
  // Answers are passed on as they are.
  EXPECT_EQ(client.StatPath("missing").status().code(), Code::kNotFound);
}

TEST_F(HaproxyTest, AMasterThatDiesIsTakenOutAndTheBalancerAnswers503) {
  ASSERT_TRUE(WaitUntil([&] { return ServerStatus(stats_url(), "master2") == "UP"; }, milliseconds(15000)));
  cluster_->KillMaster();
  EXPECT_TRUE(WaitUntil([&] { return ServerStatus(stats_url(), "master2").rfind("DOWN", 0) == 0; }, milliseconds(15000)))
      << ServerStatus(stats_url(), "master2");
  EXPECT_EQ(Get(lb_url(), "/healthz").status, 503) << "no master left: haproxy's own 503, which clients fail over on";
  cluster_->StartMaster();
  EXPECT_TRUE(WaitUntil([&] { return ServerStatus(stats_url(), "master2") == "UP"; }, milliseconds(15000)));
  EXPECT_EQ(Get(lb_url(), "/healthz").status, 200);
}

}  // namespace
}  // namespace dfs::testing
