// A storage node given several masters (--master A,B): it registers with
// whichever answers (a dead first master costs a retry), and when its master
// dies it keeps heartbeating to the next. Here A and B are two separate
// masters (each its own SQLite database), so "B lists the node up" can only
// come from the node's own heartbeats reaching B. Real processes on
// 127.0.0.1, stopped by pid in destructors.
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/cluster.h"
#include "tests/support/http_helpers.h"
#include "tests/support/process.h"

namespace dfs::testing {
namespace {

using std::chrono::milliseconds;

ClusterOptions JustAMaster() {
  ClusterOptions o;
  o.nodes = 0;
  o.replicas = 0;
  return o;
}

// The node's last heartbeat as `master_url` has it (0: not listed as up).
double LastBeatWhileUp(const std::string& master_url, const std::string& node_id) {
  auto answer = Get(master_url, "/api/v1/nodes");
  auto json = answer.json();
  if (answer.status != 200 || !json.is_object()) return 0;
  for (const auto& n : json["nodes"]) {
    if (n.value("node_id", "") == node_id && n.value("state", "") == "up") return n.value("last_heartbeat", 0.0);
  }
  return 0;
}

class StorageFailoverTest : public ::testing::Test {
 protected:
  void StartNode(const std::string& masters) {
    port_ = FreePort();
    std::filesystem::create_directories(tmp_.path() + "/data");
    node_ = Subprocess({BinaryPath("dfs-storage"), "--data", tmp_.path() + "/data", "--listen",
                        "127.0.0.1:" + std::to_string(port_), "--master", masters, "--heartbeat-ms", "100",
                        "--log-level", "debug"},
                       tmp_.path() + "/node.log");
    ASSERT_TRUE(WaitHttpOk("http://127.0.0.1:" + std::to_string(port_), milliseconds(15000)))
        << ReadFile(tmp_.path() + "/node.log");
    node_id_ = ReadFile(tmp_.path() + "/data/node_id");
    while (!node_id_.empty() && (node_id_.back() == '\n' || node_id_.back() == ' ')) node_id_.pop_back();
  }
  bool UpAt(const std::string& master_url) {
    return WaitUntil([&] { return LastBeatWhileUp(master_url, node_id_) > 0; }, milliseconds(15000));
  }

  TempDir tmp_;
  int port_ = 0;
  Subprocess node_;
  std::string node_id_;
};

TEST_F(StorageFailoverTest, ADeadFirstMasterCostsARetryAndTheNodeRegistersWithTheNext) {
  TestCluster live(JustAMaster());
  StartNode("http://127.0.0.1:" + std::to_string(FreePort()) + "," + live.master_url());
  ASSERT_FALSE(node_id_.empty());
  EXPECT_TRUE(UpAt(live.master_url())) << ReadFile(tmp_.path() + "/node.log");
}

TEST_F(StorageFailoverTest, WhenItsMasterDiesTheNodeKeepsHeartbeatingToTheNext) {
  TestCluster a(JustAMaster());
  TestCluster b(JustAMaster());
  StartNode(a.master_url() + "," + b.master_url());
  ASSERT_TRUE(UpAt(a.master_url())) << ReadFile(tmp_.path() + "/node.log");
  EXPECT_EQ(LastBeatWhileUp(b.master_url(), node_id_), 0) << "sticky: heartbeats go to A while it answers";

  a.KillMaster();
  ASSERT_TRUE(UpAt(b.master_url())) << ReadFile(tmp_.path() + "/node.log");
  // And it goes on beating there, not once.
  const double first = LastBeatWhileUp(b.master_url(), node_id_);
  EXPECT_TRUE(WaitUntil([&] { return LastBeatWhileUp(b.master_url(), node_id_) > first; }, milliseconds(15000)));
  EXPECT_TRUE(node_.running());
}

}  // namespace
}  // namespace dfs::testing
