// Control traffic never waits behind data transfers (docs/protocol.md,
// "Admission"): against real dfs-master and dfs-storage processes, 200
// clients download a file slowly (a 4 KiB receive buffer read about 5 KiB/s),
// most through the master and some straight from the node that holds it,
// holding every data worker of both. While they do, over several
// heartbeat timeouts, no node is marked down, /api/v1/nodes and the node's
// /stats answer, and a small PUT and GET through the master either succeed
// or get a clean 503 with Retry-After. Nothing here asserts a time: each wait
// is for a condition, with a deadline.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/http_util.h"
#include "common/unique_fd.h"
#include "tests/support/cluster.h"
#include "tests/support/http_helpers.h"
#include "tests/support/process.h"

namespace dfs::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Clients that each send one GET and then read its answer a few hundred
// bytes at a time, all on one thread. Each keeps the status of its answer's
// first line (0 until it arrives).
class SlowReaders {
 public:
  ~SlowReaders() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  // Connects with a small receive buffer (set before connect, so the window
  // stays small) and sends the request.
  void Add(int port, const std::string& target) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
    ASSERT_TRUE(fd);
    int small = 4096;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    ASSERT_EQ(::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
    std::lock_guard lock(mu_);
    readers_.push_back({std::move(fd), {}, 0, false});
  }

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }

  struct Counts {
    int ok = 0;
    int busy = 0;     // 503 with Retry-After
    int other = 0;    // any other status, or a 503 without Retry-After
    int waiting = 0;  // no status line yet
  };
  Counts Count() {
    std::lock_guard lock(mu_);
    Counts c;
    for (const auto& r : readers_) {
      if (r.status == 0) ++c.waiting;
      else if (r.status == 200) ++c.ok;
      else if (r.status == 503 && r.retry_after) ++c.busy;
      else ++c.other;
    }
    return c;
  }

 private:
  struct Reader {
    UniqueFd fd;
    std::string head;  // bytes until the end of the answer's head
    int status = 0;
    bool retry_after = false;
  };

  void Run() {
    char buf[512];
    while (!stop_) {
      {
        std::lock_guard lock(mu_);
        for (auto& r : readers_) {
          if (!r.fd) continue;
          ssize_t n = ::recv(r.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
          if (n == 0) r.fd.Reset();  // the server closed (after a 503)
          if (n > 0 && r.status == 0) Parse(r, std::string_view(buf, static_cast<size_t>(n)));
        }
      }
      std::this_thread::sleep_for(milliseconds(100));  // the pace: ~5 KiB/s per client
    }
  }

  static void Parse(Reader& r, std::string_view bytes) {
    r.head.append(bytes);
    const size_t end = r.head.find("\r\n\r\n");
    if (end == std::string::npos) return;
    const std::string head = r.head.substr(0, end);
    if (head.rfind("HTTP/1.1 ", 0) == 0) r.status = std::atoi(head.c_str() + 9);
    std::string lower = head;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.retry_after = lower.find("\r\nretry-after: ") != std::string::npos;
  }

  std::mutex mu_;
  std::vector<Reader> readers_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The value of a counter with these labels in a Prometheus text page (0 when absent).
double MetricValue(const std::string& page, const std::string& series) {
  const size_t at = page.find("\n" + series + " ");
  return at == std::string::npos ? 0 : std::atof(page.c_str() + at + series.size() + 2);
}

// Polls `done` until it holds or `timeout` passes.
template <typename Pred>
bool WaitFor(Pred done, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return done();
}

bool AllNodesUp(const HttpAnswer& nodes, int expected) {
  auto json = nodes.json();
  if (nodes.status != 200 || !json.contains("nodes")) return false;
  int up = 0;
  for (const auto& n : json["nodes"]) up += n.value("state", "") == "up";
  return up == expected;
}

// A small request through a full data lane: answered, or refused cleanly.
void ExpectAnsweredOrCleanlyRefused(const HttpAnswer& a, int ok_status, const std::string& what) {
  if (a.status == ok_status) return;
  EXPECT_EQ(a.status, 503) << what << ": " << a.body;
  EXPECT_FALSE(a.header("Retry-After").empty()) << what << ": a 503 without Retry-After";
}

TEST(SlowClientsTest, TwoHundredSlowDownloadsStarveNoHeartbeatNorMetadataCall) {
  constexpr int kNodes = 3, kThroughMaster = 160, kDirect = 40;
  ClusterOptions options;
  options.nodes = kNodes;
  options.replicas = 0;
  auto cluster = std::make_unique<TestCluster>(options);
  const std::string master = cluster->master_url();
  // 16 MiB: far more than loopback's socket buffers hold (a sender's grows to
  // MiBs with a 64 KiB MSS), so each download holds its worker; at ~5 KiB/s
  // it would last an hour.
  auto put = PutString(master, "/api/v1/files/big", std::string(16 << 20, 'b'));
  ASSERT_EQ(put.status, 201) << put.body;
  auto meta = Get(master, "/api/v1/meta/big").json();
  const std::string blob_id = meta["blob_id"];
  int holder = -1;
  for (int i = 0; i < kNodes; ++i) {
    if (cluster->node_id(i) == meta["primary"]["node_id"]) holder = i;
  }
  ASSERT_GE(holder, 0) << meta.dump();
  const std::string node = cluster->node_url(holder);
  const int node_port = std::stoi(node.substr(node.rfind(':') + 1));

  SlowReaders readers;
  for (int i = 0; i < kThroughMaster; ++i) readers.Add(cluster->master_port(), "/api/v1/files/big");
  for (int i = 0; i < kDirect; ++i) readers.Add(node_port, "/blobs/" + blob_id);
  readers.Start();

  // Both data lanes are full once each has refused a request.
  auto busy = [](const std::string& url) {
    return MetricValue(Get(url, "/metrics").body, "dfs_http_busy_total{class=\"data\"}");
  };
  ASSERT_TRUE(WaitFor([&] { return busy(master) > 0 && busy(node) > 0; }, milliseconds(30000)))
      << "the data lanes never filled: master " << busy(master) << ", node " << busy(node);
  ASSERT_TRUE(WaitFor([&] { return readers.Count().ok > 0; }, milliseconds(30000))) << "no download started";

  // Several heartbeat timeouts (--node-timeout-ms 1500) under that load.
  const auto until = Clock::now() + milliseconds(3 * 1500 + 500);
  int rounds = 0;
  while (Clock::now() < until) {
    auto nodes = Get(master, "/api/v1/nodes");
    ASSERT_EQ(nodes.status, 200) << "/api/v1/nodes did not answer: " << nodes.body;
    ASSERT_TRUE(AllNodesUp(nodes, kNodes)) << "a node was marked down: " << nodes.body;
    ASSERT_EQ(Get(node, "/stats").status, 200) << "the busy node's /stats did not answer";
    ExpectAnsweredOrCleanlyRefused(PutString(master, "/api/v1/files/small" + std::to_string(rounds), "tiny"), 201,
                                   "small PUT");
    auto small = Get(master, "/api/v1/files/small" + std::to_string(rounds));
    ExpectAnsweredOrCleanlyRefused(small, 200, "small GET");
    if (small.status == 200) {
      EXPECT_EQ(small.body, "tiny");
    }
    ++rounds;
    std::this_thread::sleep_for(milliseconds(200));  // the polling pace, not a wait for anything
  }
  const auto counts = readers.Count();
  EXPECT_EQ(counts.other, 0) << "a download got something other than 200 or 503 + Retry-After";
  EXPECT_GT(counts.busy, 0);
  RecordProperty("rounds", rounds);
  RecordProperty("downloading", counts.ok);
  RecordProperty("refused", counts.busy);
  RecordProperty("queued", counts.waiting);
}

}  // namespace
}  // namespace dfs::testing
