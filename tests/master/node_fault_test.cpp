// Retry by error code, against a real master and real storage nodes: one
// node registers itself (a real dfs-storage) but advertises the address of a
// FaultyFront, which answers the master's requests with a 500, a stall past
// the master's --node-io-timeout-ms, or a 4xx. 5xx and stalls must send the
// file to another node; a 4xx must reach the client as it is, untried
// elsewhere, with nothing stored.
#include <atomic>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

#include "tests/support/cluster.h"
#include "tests/support/http_helpers.h"
#include "tests/support/process.h"

namespace dfs::testing {
namespace {

using std::chrono::milliseconds;

std::string FilesPath(const std::string& name) { return "/api/v1/files/" + name; }

class FaultyFront {
 public:
  enum class Mode { kServerError, kStall, kReject };

  explicit FaultyFront(Mode mode) : mode_(mode) {
    auto handler = [this](const httplib::Request& req, httplib::Response& res) {
      if (req.method == "PUT") ++puts_;
      switch (mode_) {
        case Mode::kServerError:
          res.status = 500;
          res.set_content(R"({"error":"internal","message":"injected by the test"})", "application/json");
          break;
        case Mode::kStall:
          std::this_thread::sleep_for(milliseconds(3000));
          res.status = 500;
          break;
        case Mode::kReject:
          res.status = 422;
          res.set_content(R"({"error":"checksum_mismatch","message":"rejected by the test"})", "application/json");
          break;
      }
    };
    server_.Put(".*", handler);
    server_.Get(".*", handler);
    server_.Post(".*", handler);
    server_.Delete(".*", handler);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FaultyFront() {
    server_.stop();
    thread_.join();
  }
  FaultyFront(const FaultyFront&) = delete;
  FaultyFront& operator=(const FaultyFront&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int puts() const { return puts_.load(); }

 private:
  Mode mode_;
  int port_ = 0;
  std::atomic<int> puts_{0};
  httplib::Server server_;
  std::thread thread_;
};

// One good node, and one real node whose advertised address is the front.
std::unique_ptr<TestCluster> ClusterWith(const FaultyFront& front) {
  ClusterOptions options;
  options.nodes = 1;
  options.master_args = {"--node-io-timeout-ms", "800"};
  auto cluster = std::make_unique<TestCluster>(options);
  cluster->AddNode({"--advertise", front.url()});
  EXPECT_TRUE(cluster->WaitNodesUp(2));
  return cluster;
}

void ExpectEveryPutLandsOnTheGoodNode(TestCluster& cluster, const FaultyFront& front) {
  for (int i = 0; i < 12 && front.puts() < 2; ++i) {
    const std::string name = "f" + std::to_string(i);
    auto put = PutString(cluster.master_url(), FilesPath(name), name);
    ASSERT_EQ(put.status, 201) << put.body;
    EXPECT_EQ(put.json()["node"], cluster.node_id(0));
    EXPECT_EQ(Get(cluster.master_url(), FilesPath(name)).body, name);
  }
  EXPECT_GE(front.puts(), 1) << "random placement never chose the faulty node in 12 PUTs";
}

TEST(NodeFaultTest, ANode500IsRetriedOnAnotherNode) {
  FaultyFront front(FaultyFront::Mode::kServerError);
  auto cluster = ClusterWith(front);
  ExpectEveryPutLandsOnTheGoodNode(*cluster, front);
}

TEST(NodeFaultTest, ANodeThatStallsIsGivenUpOnAndTheFileGoesElsewhere) {
  FaultyFront front(FaultyFront::Mode::kStall);
  auto cluster = ClusterWith(front);
  ExpectEveryPutLandsOnTheGoodNode(*cluster, front);
}

TEST(NodeFaultTest, ANode4xxReachesTheClientAndIsNotRetried) {
  FaultyFront front(FaultyFront::Mode::kReject);
  auto cluster = ClusterWith(front);
  int rejected = 0;
  for (int i = 0; i < 12 && rejected < 2; ++i) {
    const std::string name = "g" + std::to_string(i);
    auto put = PutString(cluster->master_url(), FilesPath(name), name);
    if (put.status == 201) {
      EXPECT_EQ(put.json()["node"], cluster->node_id(0));
      continue;
    }
    ++rejected;
    EXPECT_EQ(put.status, 422) << put.body;
    EXPECT_EQ(put.json()["error"], "checksum_mismatch") << put.body;
    EXPECT_EQ(Get(cluster->master_url(), FilesPath(name)).status, 404) << "nothing listed for a refused PUT";
  }
  EXPECT_GE(rejected, 1) << "random placement never chose the faulty node in 12 PUTs";
  EXPECT_EQ(front.puts(), rejected) << "each refused PUT went to the faulty node once, and nowhere else";
}

}  // namespace
}  // namespace dfs::testing
