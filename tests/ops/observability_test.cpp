// What an operator watches, against a real cluster: /metrics on master,
// nodes and replicator; one request id from a PUT through the master, the
// node and the replicator; the status page rendered by headless Chromium.
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "common/http_util.h"
#include "tests/support/cluster.h"
#include "tests/support/http_helpers.h"

namespace dfs::testing {
namespace {

using std::chrono::milliseconds;

// The value of one series ("name{labels}" exactly as rendered), or -1.
double Sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

std::string Scrape(const std::string& url) {
  auto res = Get(url, "/metrics");
  EXPECT_EQ(res.status, 200) << url;
  return res.body;
}

class ObservabilityTest : public ::testing::Test {
 protected:
  void StartReplicated() {
    replicator_metrics_port_ = FreePort();
    ClusterOptions o;
    o.redis = true;
    o.replicator = true;
    o.replicator_args = {"--metrics-listen", "127.0.0.1:" + std::to_string(replicator_metrics_port_)};
    cluster_ = std::make_unique<TestCluster>(o);
    ASSERT_TRUE(cluster_->WaitNodesUp(3));
    ASSERT_TRUE(WaitHttpOk(ReplicatorUrl(), milliseconds(10000)));
  }
  std::string ReplicatorUrl() const { return "http://127.0.0.1:" + std::to_string(replicator_metrics_port_); }

  std::unique_ptr<TestCluster> cluster_;
  int replicator_metrics_port_ = 0;
};

TEST_F(ObservabilityTest, EveryProcessServesPrometheusMetrics) {
  ASSERT_NO_FATAL_FAILURE(StartReplicated());
  const std::string master = cluster_->master_url();
  for (int i = 0; i < 5; ++i) {
    auto put = PutString(master, "/api/v1/files/m/f" + std::to_string(i), std::string(1000 + i, 'x'));
    ASSERT_EQ(put.status, 201) << put.body;
  }
  ASSERT_EQ(Get(master, "/api/v1/files/m/f0").status, 200);
  ASSERT_EQ(Get(master, "/api/v1/files/no-such-file").status, 404);

  // 5 files x 2 extra copies; each job's lag observed by the replicator.
  ASSERT_TRUE(WaitUntil(
      [&] { return Sample(Scrape(ReplicatorUrl()), "dfs_replication_copies_total") >= 10; },
      milliseconds(30000)))
      << Scrape(ReplicatorUrl());
  std::string r = Scrape(ReplicatorUrl());
  EXPECT_GE(Sample(r, "dfs_replication_jobs_total{result=\"done\"}"), 5) << r;
  EXPECT_EQ(Sample(r, "dfs_replication_copies_total"), 10) << r;
  EXPECT_GE(Sample(r, "dfs_replication_lag_seconds_count"), 5) << r;
  EXPECT_EQ(Sample(r, "dfs_replication_copied_bytes_total"), 2 * 5010) << r;
  EXPECT_EQ(Sample(r, "dfs_redis_up"), 1) << r;
  EXPECT_GE(Sample(r, "dfs_replication_dead_jobs"), 0) << r;
  EXPECT_GE(Sample(r, "dfs_replication_pending_jobs"), 0) << r;

  std::string m = Scrape(master);
  EXPECT_EQ(Sample(m, "dfs_http_requests_total{route=\"/api/v1/files\",method=\"PUT\",status=\"201\"}"), 5) << m;
  EXPECT_EQ(Sample(m, "dfs_http_requests_total{route=\"/api/v1/files\",method=\"GET\",status=\"404\"}"), 1) << m;
  EXPECT_EQ(Sample(m, "dfs_http_request_duration_seconds_count{route=\"/api/v1/files\",method=\"PUT\"}"), 5) << m;
  EXPECT_GE(Sample(m, "dfs_http_received_bytes_total{route=\"/api/v1/files\"}"), 5010) << m;
  EXPECT_GE(Sample(m, "dfs_http_sent_bytes_total{route=\"/api/v1/files\"}"), 1000) << m;
  EXPECT_EQ(Sample(m, "dfs_files"), 5) << m;
  EXPECT_EQ(Sample(m, "dfs_file_bytes"), 5010) << m;
  EXPECT_EQ(Sample(m, "dfs_nodes{state=\"up\"}"), 3) << m;
  EXPECT_EQ(Sample(m, "dfs_redis_up"), 1) << m;
  EXPECT_TRUE(WaitUntil([&] { return Sample(Scrape(master), "dfs_files_under_replicated") == 0; },
                        milliseconds(10000)));
  EXPECT_EQ(m.find("m/f0"), std::string::npos) << "a file name leaked into a label";

  for (int i = 0; i < cluster_->node_count(); ++i) {
    std::string n = Scrape(cluster_->node_url(i));
    std::string node = "{node=\"" + cluster_->node_id(i) + "\"}";
    EXPECT_EQ(Sample(n, "dfs_storage_blobs" + node), 5) << n;
    EXPECT_GE(Sample(n, "dfs_storage_used_bytes" + node), 5010) << n;
    EXPECT_GT(Sample(n, "dfs_storage_free_bytes" + node), 0) << n;
    EXPECT_GE(Sample(n, "dfs_http_requests_total{route=\"/blobs\",method=\"PUT\",status=\"201\"}"), 1) << n;
  }

  // A node going down shows in the master's gauges.
  cluster_->KillNode(1);
  const std::string down = "dfs_node_up{node=\"" + cluster_->node_id(1) + "\"}";
  EXPECT_TRUE(WaitUntil([&] { return Sample(Scrape(master), down) == 0; }, milliseconds(15000)));
  m = Scrape(master);
  EXPECT_EQ(Sample(m, "dfs_nodes{state=\"down\"}"), 1) << m;
  EXPECT_EQ(Sample(m, "dfs_nodes{state=\"up\"}"), 2) << m;

  // Redis down shows too, and /metrics still answers.
  cluster_->StopRedis();
  EXPECT_EQ(Sample(Scrape(master), "dfs_redis_up"), 0);
  EXPECT_EQ(Sample(Scrape(ReplicatorUrl()), "dfs_redis_up"), 0);
}

TEST_F(ObservabilityTest, OneRequestIdFollowsAPutToNodesAndReplicator) {
  ASSERT_NO_FATAL_FAILURE(StartReplicated());
  const std::string id = "trace-4f2a9c";
  auto put = PutString(cluster_->master_url(), "/api/v1/files/traced.txt", "follow me", {{kRequestIdHeader, id}});
  ASSERT_EQ(put.status, 201) << put.body;
  auto it = put.headers.find(kRequestIdHeader);
  ASSERT_NE(it, put.headers.end());
  EXPECT_EQ(it->second, id);
  // The primary write and both replica writes carry the id.
  ASSERT_TRUE(WaitUntil(
      [&] {
        int nodes_with_id = 0;
        for (int i = 0; i < cluster_->node_count(); ++i) {
          nodes_with_id += ReadFile(cluster_->node_dir(i) + ".log").find("req=" + id) != std::string::npos;
        }
        return nodes_with_id == 3;
      },
      milliseconds(20000)));
  std::string master_log = ReadFile(cluster_->dir() + "/master.log");
  EXPECT_NE(master_log.find("put name=traced.txt"), std::string::npos);
  EXPECT_NE(master_log.find("req=" + id), std::string::npos);
  EXPECT_NE(ReadFile(cluster_->dir() + "/replicator.log").find("job=" + id), std::string::npos);

  // An id that is not a plain token is replaced, never echoed into logs.
  auto odd = PutString(cluster_->master_url(), "/api/v1/files/odd.txt", "x", {{kRequestIdHeader, "a b\"c"}});
  ASSERT_EQ(odd.status, 201);
  std::string new_id = odd.headers.find(kRequestIdHeader)->second;
  EXPECT_TRUE(std::regex_match(new_id, std::regex("[0-9a-f]{16}"))) << new_id;
}

// Headless Chromium loads the page, runs its script and dumps the DOM.
std::string BrowserDom(const std::string& url, const std::string& profile, const std::string& screenshot = "") {
  std::string flags = "--headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run "
                      "--disable-component-update --disable-sync --disable-default-apps --user-data-dir=" +
                      profile + " --virtual-time-budget=5000 --window-size=1200,800 ";
  std::string out;
  int rc = RunCommand("timeout 90 chromium " + flags + "--dump-dom '" + url + "' 2>/dev/null", &out);
  EXPECT_EQ(rc, 0) << "chromium failed (scripts/install-deps.sh installs it)";
  if (!screenshot.empty()) {
    int src = RunCommand("cd " + profile + " && timeout 90 chromium " + flags + "--screenshot=" + screenshot + " " +
                         url + " >/dev/null 2>&1");
    EXPECT_EQ(src, 0);
  }
  return out;
}

std::string NodeState(const std::string& dom, const std::string& node_id) {
  std::smatch m;
  std::regex re("data-node=\"" + node_id + "\" data-state=\"([a-z]+)\"");
  return std::regex_search(dom, m, re) ? m[1].str() : "";
}

std::string NodeRow(const std::string& dom, const std::string& node_id) {
  std::smatch m;
  std::regex re("<tr data-node=\"" + node_id + "\"[^>]*>(.*?)</tr>");
  return std::regex_search(dom, m, re) ? m[1].str() : "";
}

TEST(StatusPageTest, ChromiumShowsNodesAndANodeGoingDown) {
  // Redis but no replicator: the file's job waits in the queue and the file
  // stays under-replicated, so both show on the page.
  ClusterOptions options;
  options.redis = true;
  TestCluster cluster(options);
  ASSERT_TRUE(cluster.WaitNodesUp(3));
  const std::string url = cluster.master_url() + "/";
  auto put = PutString(cluster.master_url(), "/api/v1/files/page.txt", "hello");
  ASSERT_EQ(put.status, 201);
  const std::string primary = put.json()["node"];
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto r = Get(cluster.master_url(), "/api/v1/replication").json();
        const nlohmann::json nodes = Get(cluster.master_url(), "/api/v1/nodes").json()["nodes"];
        bool counted = false;
        for (const auto& n : nodes) counted |= n["node_id"] == primary && n["blobs"] == 1;
        return counted && r.value("queue_length", 0) == 1;
      },
      milliseconds(15000)));
  auto page = Get(cluster.master_url(), "/");
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<title>dfs cluster</title>"), std::string::npos);

  const std::string profile = cluster.dir() + "/chromium";
  const std::string shot = cluster.dir() + "/status.png";
  std::string dom = BrowserDom(url, profile, shot);
  EXPECT_NE(dom.find("data-loaded=\"true\""), std::string::npos) << dom;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(NodeState(dom, cluster.node_id(i)), "up") << dom;
  EXPECT_NE(dom.find("id=\"files\">1<"), std::string::npos) << dom;
  EXPECT_NE(dom.find("id=\"nodes-up\">3 / 3<"), std::string::npos) << dom;
  EXPECT_NE(dom.find("id=\"under\">1<"), std::string::npos) << dom;
  EXPECT_NE(dom.find("id=\"queue\">1 (0)<"), std::string::npos) << dom;
  EXPECT_NE(dom.find("id=\"dead\">0<"), std::string::npos) << dom;
  for (int i = 0; i < 3; ++i) {
    std::string row = NodeRow(dom, cluster.node_id(i));
    EXPECT_TRUE(std::regex_search(row, std::regex("class=\"bar\" title=\"[0-9.]+% of [^\"]+\"><span (class=\"high\" )?"
                                                  "style=\"width: [0-9.]+%;\"")))
        << "capacity bar of node " << i << ": " << row;
    EXPECT_NE(row.find("% full"), std::string::npos) << row;
    const bool holds = cluster.node_id(i) == primary;
    EXPECT_NE(row.find(holds ? "<td>1</td>" : "<td>0</td>"), std::string::npos) << "blob count: " << row;
  }
  std::string png = ReadFile(shot);
  ASSERT_GT(png.size(), 10000u) << "screenshot " << shot;
  EXPECT_EQ(png.substr(1, 3), "PNG");

  cluster.KillNode(2);
  ASSERT_TRUE(WaitUntil(
      [&] { return Get(cluster.master_url(), "/api/v1/nodes").body.find("\"down\"") != std::string::npos; },
      milliseconds(15000)));
  dom = BrowserDom(url, profile);
  EXPECT_EQ(NodeState(dom, cluster.node_id(2)), "down") << dom;
  EXPECT_EQ(NodeState(dom, cluster.node_id(0)), "up") << dom;
  EXPECT_NE(dom.find("id=\"nodes-up\">2 / 3<"), std::string::npos) << dom;
  // The master's warning about the node is among the recent problems.
  EXPECT_NE(dom.find("node down node=" + cluster.node_id(2)), std::string::npos) << dom;
}

// With a cluster token, the page takes it from the URL's fragment (which
// never reaches the server) and says so when it is missing.
TEST(StatusPageTest, TokenFromTheFragment) {
  ClusterOptions o;
  o.token = "page-token-29af";
  TestCluster cluster(o);
  const std::string profile = cluster.dir() + "/chromium";
  std::string dom = BrowserDom(cluster.master_url() + "/", profile);
  EXPECT_EQ(dom.find("data-loaded=\"true\""), std::string::npos) << dom;
  EXPECT_NE(dom.find("wants a token"), std::string::npos) << dom;
  dom = BrowserDom(cluster.master_url() + "/#token=page-token-29af", profile);
  EXPECT_NE(dom.find("data-loaded=\"true\""), std::string::npos) << dom;
  EXPECT_EQ(NodeState(dom, cluster.node_id(0)), "up") << dom;
  EXPECT_EQ(ReadFile(cluster.dir() + "/master.log").find("page-token-29af"), std::string::npos);
}

}  // namespace
}  // namespace dfs::testing
