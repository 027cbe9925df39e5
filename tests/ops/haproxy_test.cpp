// haproxy in front of masters, with the configuration scripts/dfs-haproxy-config
// writes: requests (a big upload and its download, streamed) go through it,
// its /healthz checks mark a dead master DOWN and a live one UP, and a
// master that dies is taken out. Real haproxy (Debian's), dfs-master and
// dfs-storage on 127.0.0.1, stopped by pid in destructors. Skipped when
// haproxy is not installed.
#include <gtest/gtest.h>

#include "common/client/dfs_client.h"
#include "common/md5.h"
#include "tests/support/cluster.h"
#include "tests/support/haproxy.h"
#include "tests/support/http_helpers.h"
#include "tests/support/process.h"

namespace dfs::testing {
namespace {

using std::chrono::milliseconds;

class HaproxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Haproxy::Installed()) GTEST_SKIP() << "haproxy is not installed (apt-get install haproxy)";
    ClusterOptions options;
    options.nodes = 1;
    options.replicas = 0;
    cluster_ = std::make_unique<TestCluster>(options);
    const std::string dead = "127.0.0.1:" + std::to_string(FreePort());
    haproxy_ = std::make_unique<Haproxy>(std::vector<std::string>{dead, cluster_->master_url()}, tmp_.path());
    ASSERT_TRUE(WaitHttpOk(lb_url(), milliseconds(15000))) << ReadFile(tmp_.path() + "/haproxy.log");
  }
  std::string lb_url() const { return haproxy_->url(); }
  std::string ServerStatus(const std::string& server) const { return haproxy_->ServerStatus(server); }

  std::unique_ptr<TestCluster> cluster_;
  TempDir tmp_;
  std::unique_ptr<Haproxy> haproxy_;
};

TEST_F(HaproxyTest, HealthChecksMarkTheDeadMasterDownAndRequestsGoToTheLiveOne) {
  EXPECT_TRUE(WaitUntil([&] { return ServerStatus("master1").rfind("DOWN", 0) == 0; }, milliseconds(15000)))
      << ServerStatus("master1");
  EXPECT_TRUE(WaitUntil([&] { return ServerStatus("master2") == "UP"; }, milliseconds(15000)))
      << ServerStatus("master2");

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
  ASSERT_TRUE(WaitUntil([&] { return ServerStatus("master2") == "UP"; }, milliseconds(15000)));
  cluster_->KillMaster();
  EXPECT_TRUE(WaitUntil([&] { return ServerStatus("master2").rfind("DOWN", 0) == 0; }, milliseconds(15000)))
      << ServerStatus("master2");
  EXPECT_EQ(Get(lb_url(), "/healthz").status, 503) << "no master left: haproxy's own 503, which clients fail over on";
  cluster_->StartMaster();
  EXPECT_TRUE(WaitUntil([&] { return ServerStatus("master2") == "UP"; }, milliseconds(15000)));
  EXPECT_EQ(Get(lb_url(), "/healthz").status, 200);
}

}  // namespace
}  // namespace dfs::testing
