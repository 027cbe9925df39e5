// Several dfs-master processes over one PostgreSQL (a real server this test
// starts): what one master commits every master sees, races between masters
// are settled by the database, background tasks run on one master at a time
// and move when it dies, and PostgreSQL going away makes requests fail
// cleanly (503) until it is back. Nodes register with master 0; clients use
// all of them.
#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/md5.h"
#include "tests/support/cluster.h"
#include "tests/support/http_helpers.h"
#include "tests/support/postgres.h"
#include "tests/support/process.h"

namespace dfs::testing {
namespace {

ClusterOptions ThreeMasters() {
  ClusterOptions o;
  o.metadata = "postgres";
  o.masters = 3;
  o.nodes = 2;
  o.replicas = 1;
  return o;
}

HttpAnswer PostJson(const std::string& base, const std::string& path, const nlohmann::json& body) {
  auto c = Client(base);
  auto r = c->Post(path, body.dump(), "application/json");
  HttpAnswer a;
  if (r) {
    a.status = r->status;
    a.body = r->body;
  }
  return a;
}

std::set<std::string> Names(const std::string& base, const std::string& dir) {
  std::set<std::string> out;
  auto list = Get(base, "/api/v1/list" + (dir.empty() ? "" : "/" + dir)).json();
  if (!list.contains("entries")) return out;
  for (const auto& e : list["entries"]) out.insert(e["name"].get<std::string>());
  return out;
}

// Masters whose log says they took the task's lease and have not handed it on.
std::vector<int> HoldersOf(TestCluster& c, const std::string& task) {
  std::vector<int> out;
  for (int i = 0; i < c.master_count(); ++i) {
    const std::string log = ReadFile(c.master(i).log_path());
    const auto took = log.rfind("background task " + task + ": this master runs it");
    const auto gave = log.rfind("background task " + task + ": another master runs it");
    if (took != std::string::npos && (gave == std::string::npos || gave < took) && c.master(i).running()) {
      out.push_back(i);
    }
  }
  return out;
}

TEST(ManyMastersTest, ConcurrentPutsOfOneNameThroughAllMastersGetDistinctNames) {
  TestCluster cluster(ThreeMasters());
  constexpr int kClients = 20;
  std::vector<std::thread> threads;
  std::vector<HttpAnswer> answers(kClients);
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      answers[i] = PutString(cluster.master_url(i % 3), "/api/v1/files/same.txt", "content " + std::to_string(i));
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> names;
  for (int i = 0; i < kClients; ++i) {
    ASSERT_EQ(answers[i].status, 201) << answers[i].body;
    names.insert(answers[i].json()["name"].get<std::string>());
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(kClients)) << "every PUT got a name of its own";
  EXPECT_EQ(Names(cluster.master_url(1), ""), names) << "every master lists the same files";
  for (int i = 0; i < kClients; ++i) {  // each reads back through another master than it was written through
    const std::string name = answers[i].json()["name"];
    auto got = Get(cluster.master_url((i + 1) % 3), "/api/v1/files/" + name);
    ASSERT_EQ(got.status, 200) << name;
    EXPECT_EQ(got.body, "content " + std::to_string(i));
  }
}

TEST(ManyMastersTest, CrossingFolderRenamesThroughTwoMastersLeaveATree) {
  TestCluster cluster(ThreeMasters());
  for (int round = 0; round < 10; ++round) {
    const std::string a = "a" + std::to_string(round), b = "b" + std::to_string(round);
    ASSERT_EQ(PutString(cluster.master_url(), "/api/v1/files/" + a + "/f", "x").status, 201);
    ASSERT_EQ(PutString(cluster.master_url(), "/api/v1/files/" + b + "/g", "y").status, 201);
    HttpAnswer one, two;
    std::thread t1([&] { one = PostJson(cluster.master_url(1), "/api/v1/rename", {{"from", a}, {"to", b + "/" + a}}); });
    std::thread t2([&] { two = PostJson(cluster.master_url(2), "/api/v1/rename", {{"from", b}, {"to", a + "/" + b}}); });
    t1.join();
    t2.join();
    // One moves, the other finds its folder inside the one it moves into (or gone): a tree, no cycle.
    const int moved = (one.status == 200 || one.status == 204) + (two.status == 200 || two.status == 204);
    EXPECT_EQ(moved, 1) << one.status << " " << one.body << " / " << two.status << " " << two.body;
    const auto root = Names(cluster.master_url(), "");
    const bool a_top = root.count(a) == 1, b_top = root.count(b) == 1;
    EXPECT_NE(a_top, b_top) << "exactly one of the two folders stays at the top";
    const std::string top = a_top ? a : b, inner = a_top ? b : a;
    EXPECT_EQ(Names(cluster.master_url(), top + "/" + inner).size(), 1u) << "the moved folder keeps its file";
  }
}

TEST(ManyMastersTest, BackgroundTasksRunOnOneMasterAndMoveWhenItDies) {
  TestCluster cluster(ThreeMasters());
  std::vector<int> holders;
  ASSERT_TRUE(WaitUntil([&] { return (holders = HoldersOf(cluster, "node-liveness")).size() == 1; },
                        std::chrono::seconds(15)));
  for (const char* task : {"blob-deletions", "healing", "handle-expiry", "md5-settle"}) {
    EXPECT_LE(HoldersOf(cluster, task).size(), 1u) << task;
  }
  const int dead = holders[0];
  const int alive = dead == 0 ? 1 : 0;
  cluster.master(dead).Kill();
  ASSERT_TRUE(WaitUntil(
      [&] {
        holders = HoldersOf(cluster, "node-liveness");
        return holders.size() == 1 && holders[0] != dead;
      },
      std::chrono::seconds(40)))
      << "another master takes the lease once it lapses";
  // Liveness still runs: a stopped node is marked down.
  const std::string stopped = cluster.node_id(1);
  cluster.StopNode(1);
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto nodes = Get(cluster.master_url(alive), "/api/v1/nodes").json();
        if (!nodes.contains("nodes")) return false;
        for (const auto& n : nodes["nodes"]) {
          if (n["node_id"] == stopped) return n["state"] == "down";
        }
        return false;
      },
      std::chrono::seconds(20)));
}

TEST(ManyMastersTest, PostgresDownGives503AndRecovers) {
  TestCluster cluster(ThreeMasters());
  ASSERT_EQ(PutString(cluster.master_url(1), "/api/v1/files/before.txt", "kept").status, 201);
  PostgresServer::Shared().Kill();
  auto put = PutString(cluster.master_url(1), "/api/v1/files/during.txt", "refused");
  EXPECT_EQ(put.status, 503) << put.body;
  auto get = Get(cluster.master_url(2), "/api/v1/files/before.txt");
  EXPECT_EQ(get.status, 503) << get.body;
  PostgresServer::Shared().Start();
  EXPECT_TRUE(WaitUntil([&] { return Get(cluster.master_url(2), "/api/v1/files/before.txt").status == 200; },
                        std::chrono::seconds(30)));
  EXPECT_EQ(Get(cluster.master_url(2), "/api/v1/files/before.txt").body, "kept");
  EXPECT_TRUE(WaitUntil(
      [&] { return PutString(cluster.master_url(1), "/api/v1/files/after.txt", "stored").status == 201; },
      std::chrono::seconds(30)));
  EXPECT_EQ(Get(cluster.master_url(0), "/api/v1/files/after.txt").body, "stored");
  EXPECT_EQ(Names(cluster.master_url(0), "").count("during.txt"), 0u) << "the refused PUT left nothing";
}

}  // namespace
}  // namespace dfs::testing
