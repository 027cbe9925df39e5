// Many masters, as the CLI (and DfsClient, which the mount shares) sees
// them: a list "dead,live" works with one attempt (the dead master costs a
// retry on the next, not an error); an answer such as 404 is returned and
// never sent to another master; a request whose answer was lost is sent
// again only when it carries an Idempotency-Key (a PUT), never a range write.
// Real processes on 127.0.0.1, stopped by pid in destructors.
#include <gtest/gtest.h>

#include "common/client/dfs_client.h"
#include "common/md5.h"
#include "tests/support/cluster.h"
#include "tests/support/lossy_proxy.h"
#include "tests/support/probe_server.h"
#include "tests/support/process.h"

namespace dfs::testing {
namespace {

std::string DeadUrl() { return "http://127.0.0.1:" + std::to_string(FreePort()); }

class CliFailoverTest : public ::testing::Test {
 protected:
  CliFailoverTest() : cluster_(Options()) {}
  static ClusterOptions Options() {
    ClusterOptions o;
    o.nodes = 1;
    o.replicas = 0;
    return o;
  }
  // The CLI with one attempt per request, so a dead master cannot be hidden by a retry of the same.
  int Cli(const std::string& masters, const std::string& args, std::string* out = nullptr) {
    return RunCommand(BinaryPath("dfs") + " --attempts 1 --timeout 10 --master '" + masters + "' " + args + " 2>&1",
                      out);
  }
  DfsClient Client(const std::string& masters) {
    ClientOptions options;
    options.master_url = masters;
    options.max_attempts = 3;
    options.base_backoff = std::chrono::milliseconds(10);
    return *DfsClient::Create(options);
  }
  std::string T(const std::string& name) { return tmp_.path() + "/" + name; }

  TestCluster cluster_;
  TempDir tmp_;
};

TEST_F(CliFailoverTest, ADeadMasterFirstCostsARetryNotAnError) {
  const std::string masters = DeadUrl() + "," + cluster_.master_url();
  const std::string md5 = WriteRandomFile(T("a.bin"), 300000, 3);
  std::string out;
  ASSERT_EQ(Cli(masters, "put " + T("a.bin") + " d/a.bin", &out), 0) << out;
  ASSERT_EQ(Cli(masters, "get d/a.bin " + T("a.back"), &out), 0) << out;
  EXPECT_EQ(*Md5::OfFile(T("a.back")), md5);
  ASSERT_EQ(Cli(masters, "ls d/", &out), 0) << out;
  EXPECT_NE(out.find("a.bin"), std::string::npos) << out;
  ASSERT_EQ(Cli(masters, "stat d/a.bin", &out), 0) << out;
  ASSERT_EQ(Cli(masters, "nodes", &out), 0) << out;
  // The same through $DFS_MASTER.
  ASSERT_EQ(RunCommand("DFS_MASTER='" + masters + "' " + BinaryPath("dfs") + " --attempts 1 ls d/ 2>&1", &out), 0)
      << out;
  // Every master dead: the usual "cluster unavailable".
  EXPECT_EQ(Cli(DeadUrl() + "," + DeadUrl(), "ls", &out), 5) << out;
}

TEST_F(CliFailoverTest, AnAnswerLike404IsFinalAndNeverSentToTheNextMaster) {
  ProbeServer other(200);
  const std::string masters = cluster_.master_url() + "," + other.url();
  std::string out;
  EXPECT_EQ(Cli(masters, "get missing.bin " + T("x"), &out), 3) << out;
  EXPECT_EQ(Cli(masters, "stat missing.bin", &out), 3) << out;
  EXPECT_EQ(Cli(masters, "rmdir no-such-folder", &out), 3) << out;
  EXPECT_EQ(other.hits(), 0);
  // A 503 is not an answer about the request: the next master gets it.
  ProbeServer busy(503);
  EXPECT_EQ(Cli(busy.url() + "," + cluster_.master_url(), "ls", &out), 0) << out;
  EXPECT_EQ(busy.hits(), 1);
}

TEST_F(CliFailoverTest, APutWhoseAnswerWasLostIsStoredOnceThroughTheNextMaster) {
  // The proxy forwards the PUT to the master and drops its answer; the
  // client sends it again, with the same Idempotency-Key, to the next
  // master (here the same one, as masters sharing a database would be).
  LossyProxy lossy(cluster_.master_port(), /*lose=*/1);
  const std::string masters = "http://127.0.0.1:" + std::to_string(lossy.port()) + "," + cluster_.master_url();
  const std::string md5 = WriteRandomFile(T("p.bin"), 100000, 4);
  auto put = Client(masters).Put(T("p.bin"), "p.bin");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->name, "p.bin");
  EXPECT_FALSE(put->renamed);
  EXPECT_EQ(lossy.answers_lost(), 1);
  auto listed = Client(cluster_.master_url()).ListDir("");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u) << "stored once, not as p.bin and p_XXXX.bin";
  EXPECT_EQ((*listed)[0].md5, md5);
}

TEST_F(CliFailoverTest, ARangeWriteWhoseAnswerWasLostIsNotSentAgain) {
  WriteFile(T("r.bin"), "0123456789");
  DfsClient direct = Client(cluster_.master_url());
  ASSERT_TRUE(direct.Put(T("r.bin"), "r.bin").ok());
  auto before = direct.StatPath("r.bin");
  ASSERT_TRUE(before.ok());

  LossyProxy lossy(cluster_.master_port(), /*lose=*/1);
  DfsClient through = Client("http://127.0.0.1:" + std::to_string(lossy.port()) + "," + cluster_.master_url());
  Status st = through.WriteRange("r.bin", "", 2, "ab");
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("not sent again"), std::string::npos) << st.message();
  EXPECT_EQ(lossy.connections(), 1);

  auto after = direct.StatPath("r.bin");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->version, before->version + 1) << "the write was carried out once";
  std::string content;
  ASSERT_TRUE(direct.GetStream("r.bin", [&](const char* d, size_t n) { content.append(d, n); return true; }).ok());
  EXPECT_EQ(content, "01ab456789");
}

}  // namespace
}  // namespace dfs::testing
