// Crash safety against a real cluster: kill -9 of the master, storage nodes
// and the replicator at random moments under a mixed workload (and of any of
// three masters over PostgreSQL behind haproxy); orphaned
// blobs collected without touching referenced ones; the scrubber finding
// and repairing a corrupt copy by itself.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "common/http_util.h"
#include "common/md5.h"
#include "tests/support/cluster.h"
#include "tests/support/haproxy.h"
#include "tests/support/http_helpers.h"
#include "tests/support/postgres.h"

namespace dfs::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

std::string FilesPath(const std::string& name) { return "/api/v1/files/" + EncodePathForUrl(name); }

// Blob files on a node's disk (ids only).
std::set<std::string> BlobsOnDisk(const std::string& node_dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(node_dir + "/blobs", ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    std::string name = it->path().filename();
    if (it->is_regular_file() && name.size() == 32 && name.find('.') == std::string::npos) out.insert(name);
  }
  return out;
}

nlohmann::json ReplicationState(const std::string& master) {
  auto res = Get(master, "/api/v1/replication");
  return res.status == 200 ? res.json() : nlohmann::json::object();
}

TEST(GarbageCollectorTest, RemovesOrphansAndNothingElse) {
  TestCluster cluster;
  const std::string master = cluster.master_url();
  std::map<std::string, std::string> files;  // name -> md5
  for (int i = 0; i < 5; ++i) {
    std::string data(3000 + i, static_cast<char>('a' + i));
    ASSERT_EQ(PutString(master, FilesPath("keep" + std::to_string(i)), data).status, 201);
    files["keep" + std::to_string(i)] = Md5::Of(data);
  }
  // Orphans as a master that died between the node's write and the commit leaves them.
  std::set<std::string> orphans;
  for (int i = 0; i < cluster.node_count(); ++i) {
    for (int k = 0; k < 2; ++k) {
      std::string id = RandomHex(16), data = "orphan " + id;
      auto put = PutString(cluster.node_url(i), "/blobs/" + id, data, {{kMd5Header, Md5::Of(data)}});
      ASSERT_EQ(put.status, 201) << put.body;
      orphans.insert(id);
    }
  }
  // Young orphans are left alone (an upload may be about to commit them).
  auto young = Client(master)->Post("/api/v1/gc", "", "application/json");
  ASSERT_TRUE(young && young->status == 200);
  EXPECT_EQ(nlohmann::json::parse(young->body)["deleted"], 0) << young->body;

  auto gc = Client(master)->Post("/api/v1/gc?grace_ms=0", "", "application/json");
  ASSERT_TRUE(gc && gc->status == 200);
  auto result = nlohmann::json::parse(gc->body);
  EXPECT_EQ(result["deleted"], orphans.size()) << gc->body;
  EXPECT_EQ(result["nodes"], 3);
  for (int i = 0; i < cluster.node_count(); ++i) {
    for (const auto& id : BlobsOnDisk(cluster.node_dir(i))) EXPECT_EQ(orphans.count(id), 0u) << "orphan left: " << id;
  }
  for (const auto& [name, md5] : files) {
    auto get = Get(master, FilesPath(name));
    EXPECT_EQ(get.status, 200);
    EXPECT_EQ(Md5::Of(get.body), md5) << name;
  }
  auto bad = Client(master)->Post("/api/v1/gc?grace_ms=soon", "", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(Get(master, "/metrics").body.find("dfs_gc_deleted_blobs_total 6"), std::string::npos);
}

TEST(ScrubberTest, FindsACorruptCopyByItselfAndItIsRepaired) {
  ClusterOptions o;
  o.redis = o.replicator = true;
  o.storage_args = {"--scrub-rate", "100000000", "--scrub-pause-ms", "300"};
  TestCluster cluster(o);
  const std::string master = cluster.master_url();
  std::string data(200000, 'x');
  for (size_t i = 0; i < data.size(); i += 7) data[i] = static_cast<char>('a' + i % 26);
  ASSERT_EQ(PutString(master, FilesPath("scrubbed.bin"), data).status, 201);
  const std::string md5 = Md5::Of(data);
  std::string blob;
  ASSERT_TRUE(WaitUntil(
      [&] {
        // Recorded by the master, so the replicator is done with every copy
        // (a copy on disk may still be being verified: flipping a byte then
        // makes the replicator rewrite it, and the scrubber never sees it).
        auto meta = Get(master, FilesPath("scrubbed.bin") + "/locations").json();
        blob = meta.value("blob_id", "");
        int copies = 0;
        for (int i = 0; i < cluster.node_count(); ++i) copies += fs::exists(cluster.blob_path(i, blob));
        return copies == 3 && meta.value("good_copies", 0) == 3;
      },
      milliseconds(20000)));
  // Flip one byte of node 1's copy (same size, so only the md5 can tell).
  const std::string victim = cluster.blob_path(1, blob);
  std::string bytes = ReadFile(victim);
  bytes[1000] ^= 0x20;
  WriteFile(victim, bytes);
  ASSERT_NE(Md5::OfFile(victim).value(), md5);
  // No read touches it: the scrubber finds it, the master has it rewritten.
  EXPECT_TRUE(WaitUntil([&] { auto now = Md5::OfFile(victim);
    return now.ok() && *now == md5; }, milliseconds(20000)))
      << ReadFile(cluster.node_dir(1) + ".log");
  std::string metrics = Get(cluster.node_url(1), "/metrics").body;
  EXPECT_NE(metrics.find("dfs_scrub_corrupt_total 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("dfs_scrub_passes_total"), std::string::npos);
  EXPECT_NE(metrics.find("dfs_scrub_bytes_total"), std::string::npos);
}

// What a name may hold, as far as the clients know: md5s, "" = absent.
using Allowed = std::set<std::string>;

class Workload {
 public:
  Workload(std::string master, int thread) : master_(std::move(master)), thread_(thread), rng_(1000 + thread) {}

  // At least `ops` operations, and on until `more` says enough.
  void Run(int ops, const std::function<bool()>& more) {
    for (int i = 0; i < ops || more(); ++i) {
      int dice = static_cast<int>(rng_() % 100);
      if (names_.empty() || dice < 35) PutNew();
      else if (dice < 50) Overwrite(Pick());
      else if (dice < 60) Rename(Pick());
      else if (dice < 70) Remove(Pick());
      else Read(Pick());
    }
  }

  const std::map<std::string, Allowed>& model() const { return model_; }
  const std::vector<std::string>& violations() const { return violations_; }
  int acknowledged() const { return acknowledged_; }

 private:
  std::string Fresh() { return "t" + std::to_string(thread_) + "/f" + std::to_string(next_++); }
  std::string Pick() { return names_[rng_() % names_.size()]; }
  std::string Content() {
    std::string s(100 + rng_() % 20000, '\0');
    for (auto& c : s) c = static_cast<char>(rng_());
    return s;
  }
  // A transport failure or 5xx: the operation may or may not have happened.
  static bool Unknown(int status) { return status == 0 || status >= 500; }
  void Pause(int status) {
    if (Unknown(status)) std::this_thread::sleep_for(milliseconds(40));
  }
  void Check(const std::string& name, const std::string& seen, const std::string& what) {
    if (!model_[name].count(seen)) {
      violations_.push_back(what + " " + name + ": saw '" + seen + "', allowed " + std::to_string(model_[name].size()) +
                            " state(s)");
    }
  }

  void PutNew() {
    std::string name = Fresh(), data = Content(), md5 = Md5::Of(data);
    names_.push_back(name);
    auto put = PutString(master_, FilesPath(name) + "?conflict=fail", data, {{kMd5Header, md5}});
    if (put.status == 201) {
      model_[name] = {md5};
      ++acknowledged_;
    } else {
      model_[name] = {md5, ""};
      if (!Unknown(put.status)) violations_.push_back("put " + name + " answered " + std::to_string(put.status));
    }
    Pause(put.status);
  }

  void Overwrite(const std::string& name) {
    std::string data = Content(), md5 = Md5::Of(data);
    auto put = PutString(master_, FilesPath(name) + "?conflict=overwrite", data, {{kMd5Header, md5}});
    if (put.status == 201 || put.status == 200) {
      model_[name] = {md5};
      ++acknowledged_;
    } else {
      model_[name].insert(md5);
      if (!Unknown(put.status)) violations_.push_back("overwrite " + name + " answered " + std::to_string(put.status));
    }
    Pause(put.status);
  }

  void Rename(const std::string& name) {
    std::string to = Fresh();
    names_.push_back(to);
    auto cli = Client(master_);
    auto res = cli->Post("/api/v1/rename", nlohmann::json{{"from", name}, {"to", to}}.dump(), "application/json");
    int status = res ? res->status : 0;
    Allowed before = model_[name];
    if (status == 200) {
      before.erase("");
      if (before.empty()) violations_.push_back("rename of absent " + name + " succeeded");
      model_[to] = before;
      model_[name] = {""};
      ++acknowledged_;
    } else if (status == 404) {
      Check(name, "", "rename 404");
      model_[name] = {""};
      model_[to] = {""};
    } else {
      before.insert("");
      model_[to] = before;
      model_[name] = before;
      if (!Unknown(status)) violations_.push_back("rename " + name + " answered " + std::to_string(status));
    }
    Pause(status);
  }

  void Remove(const std::string& name) {
    auto del = Delete(master_, FilesPath(name));
    if (del.status == 200 || del.status == 204) {
      model_[name] = {""};
      ++acknowledged_;
    } else if (del.status == 404) {
      Check(name, "", "delete 404");
      model_[name] = {""};
    } else {
      model_[name].insert("");
      if (!Unknown(del.status)) violations_.push_back("delete " + name + " answered " + std::to_string(del.status));
    }
    Pause(del.status);
  }

  void Read(const std::string& name) {
    auto get = Get(master_, FilesPath(name));
    if (get.status == 200) {
      std::string md5 = Md5::Of(get.body);
      Check(name, md5, "get");
      model_[name] = {md5};
      ++acknowledged_;
    } else if (get.status == 404) {
      Check(name, "", "get 404");
      model_[name] = {""};
    } else if (!Unknown(get.status)) {
      violations_.push_back("get " + name + " answered " + std::to_string(get.status));
    }
    Pause(get.status);
  }

  std::string master_;
  int thread_;
  std::mt19937_64 rng_;
  int next_ = 0;
  std::vector<std::string> names_;
  std::map<std::string, Allowed> model_;
  std::vector<std::string> violations_;
  int acknowledged_ = 0;
};

using Workloads = std::vector<std::unique_ptr<Workload>>;

// A new schedule each run; DFS_CRASH_SEED=N replays one.
unsigned ChaosSeed() {
  const char* env = std::getenv("DFS_CRASH_SEED");
  const unsigned seed = env ? static_cast<unsigned>(std::atoi(env)) : std::random_device{}();
  std::cout << "chaos seed " << seed << " (DFS_CRASH_SEED to replay)\n";
  return seed;
}

// Runs `clients` workloads of `ops` operations each against `url`, calling
// `strike(round)` every 250..750 ms until they finish; returns them finished.
// The clients go on past `ops` until `min_rounds` strikes have hit them
// (a fast machine would otherwise finish before every kind was killed).
Workloads RunUnderChaos(const std::string& url, int clients, int ops, std::mt19937& rng,
                        const std::function<void(int round)>& strike, int min_rounds = 3) {
  Workloads workloads;
  std::vector<std::thread> threads;
  std::atomic<int> running{clients};
  std::atomic<int> struck{0};
  for (int t = 0; t < clients; ++t) workloads.push_back(std::make_unique<Workload>(url, t));
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      workloads[t]->Run(ops, [&] { return struck.load() < min_rounds; });
      --running;
    });
  }
  try {
    for (int round = 0; running.load() > 0; ++round) {
      std::this_thread::sleep_for(milliseconds(250 + rng() % 500));
      if (running.load() == 0) break;
      strike(round);
      ++struck;
    }
  } catch (const std::exception& e) {  // a process that did not come back: let the clients finish first
    ADD_FAILURE() << "chaos stopped: " << e.what();
    struck = min_rounds;
  }
  for (auto& t : threads) t.join();
  return workloads;
}

// No client saw a state it should not have; returns the acknowledged count.
int ExpectNoViolations(const Workloads& workloads) {
  int acknowledged = 0;
  for (const auto& w : workloads) {
    acknowledged += w->acknowledged();
    for (const auto& v : w->violations()) ADD_FAILURE() << v;
  }
  return acknowledged;
}

// Afterwards, through `url`: every acknowledged state reads back byte for
// byte, no listed file points at a missing or torn blob, replication catches
// up, orphans go and every blob left on a disk belongs to a file (3 copies
// each), no spool file is left on any master.
void ExpectCleanCluster(TestCluster& cluster, const std::string& url, const Workloads& workloads) {
  ASSERT_TRUE(cluster.WaitNodesUp(3));
  for (const auto& w : workloads) {
    for (const auto& [name, allowed] : w->model()) {
      HttpAnswer get;
      for (int attempt = 0; attempt < 20; ++attempt) {
        get = Get(url, FilesPath(name));
        if (get.status == 200 || get.status == 404) break;
        std::this_thread::sleep_for(milliseconds(250));
      }
      std::string seen = get.status == 200 ? Md5::Of(get.body) : get.status == 404 ? "" : "error";
      EXPECT_TRUE(allowed.count(seen)) << name << " reads as '" << seen << "' (HTTP " << get.status << ")";
    }
  }
  auto list = Get(url, "/api/v1/files?prefix=");
  ASSERT_EQ(list.status, 200);
  auto listed = list.json()["files"];
  for (const auto& f : listed) {
    std::string name = f["name"];
    auto get = Get(url, FilesPath(name));
    EXPECT_EQ(get.status, 200) << name;
    EXPECT_EQ(Md5::Of(get.body), f["md5"].get<std::string>()) << name;
  }
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto r = ReplicationState(url);
        return r.value("under_replicated", -1) == 0 && r.value("unpublished_jobs", -1) == 0;
      },
      milliseconds(90000)))
      << ReplicationState(url).dump();
  // Orphans: uploads cut by a kill, copies for files deleted meanwhile.
  auto gc = Client(url)->Post("/api/v1/gc?grace_ms=0", "", "application/json");
  ASSERT_TRUE(gc && gc->status == 200);
  std::set<std::string> referenced;
  for (const auto& f : listed) {
    auto meta = Get(url, FilesPath(f["name"].get<std::string>()) + "/locations").json();
    referenced.insert(meta.value("blob_id", ""));
  }
  EXPECT_TRUE(WaitUntil(
      [&] {
        size_t on_disk = 0;
        for (int i = 0; i < cluster.node_count(); ++i) {
          for (const auto& id : BlobsOnDisk(cluster.node_dir(i))) on_disk += referenced.count(id) ? 1 : 1000000;
        }
        return on_disk == 3 * referenced.size();
      },
      milliseconds(30000)))
      << "blobs on disk do not match 3 copies of " << referenced.size() << " files";
  std::error_code ec;
  for (int i = 0; i < cluster.master_count(); ++i) {
    for (const auto& e : fs::directory_iterator(cluster.spool_dir(i), ec)) ADD_FAILURE() << "left: " << e.path();
  }
}

TEST(CrashTest, KillNineAnythingAnytimeLosesNoAcknowledgedFile) {
  ClusterOptions o;
  o.redis = o.replicator = true;
  o.master_args = {"--heal-interval-ms", "500", "--heal-retry-ms", "2000"};
  o.replicator_args = {"--claim-idle-ms", "1500"};
  TestCluster cluster(o);
  const std::string master = cluster.master_url();

  constexpr int kClients = 4, kOpsEach = 260;
  std::mt19937 rng(ChaosSeed());
  std::map<std::string, int> kills;
  // The first three kills hit each process kind once, in a random order.
  std::vector<int> first_kinds = {0, 1, 2};
  std::shuffle(first_kinds.begin(), first_kinds.end(), rng);
  Workloads workloads = RunUnderChaos(master, kClients, kOpsEach, rng, [&](int round) {
    const int kind = round < 3 ? first_kinds[round] : static_cast<int>(rng() % 3);
    switch (kind) {
      case 0:
        cluster.KillMaster();
        std::this_thread::sleep_for(milliseconds(rng() % 300));
        cluster.StartMaster();
        ++kills["master"];
        break;
      case 1: {
        int node = static_cast<int>(rng() % cluster.node_count());
        cluster.KillNode(node);
        std::this_thread::sleep_for(milliseconds(rng() % 500));
        cluster.StartNode(node);
        ++kills["node"];
        break;
      }
      default:
        cluster.replicator().Kill();
        std::this_thread::sleep_for(milliseconds(rng() % 500));
        cluster.StartReplicator();
        ++kills["replicator"];
    }
  });
  const int acknowledged = ExpectNoViolations(workloads);
  std::cout << "ops>=" << kClients * kOpsEach << " acknowledged=" << acknowledged << " kills: master=" << kills["master"]
            << " node=" << kills["node"] << " replicator=" << kills["replicator"] << "\n";
  EXPECT_GE(kills["master"], 1);
  EXPECT_GE(kills["node"], 1);
  EXPECT_GE(kills["replicator"], 1);
  EXPECT_GE(acknowledged, 300);
  ExpectCleanCluster(cluster, master, workloads);
}

// Three masters over one PostgreSQL behind haproxy, as `dfs-cluster up
// --masters 3` runs them; nodes and the replicator know all three. Any master
// is kill -9'd at random (and restarted) while 4 clients run 1,000 mixed
// operations through the balancer: the same checks as above.
TEST(CrashTest, ManyMastersKillNineOfAnyMasterThroughTheBalancerLosesNothing) {
  if (!Haproxy::Installed()) GTEST_SKIP() << "haproxy is not installed (apt-get install haproxy)";
  if (!PostgresServer::Available()) GTEST_SKIP() << "PostgreSQL 15 is not installed";
  ClusterOptions o;
  o.metadata = "postgres";
  o.masters = 3;
  o.master_list = "{masters}";
  o.redis = o.replicator = true;
  o.master_args = {"--heal-interval-ms", "500", "--heal-retry-ms", "2000"};
  o.replicator_args = {"--claim-idle-ms", "1500"};
  TestCluster cluster(o);
  std::vector<std::string> masters;
  for (int i = 0; i < cluster.master_count(); ++i) masters.push_back(cluster.master_url(i));
  Haproxy lb(masters, cluster.dir());
  ASSERT_TRUE(lb.WaitAllUp(3, milliseconds(15000)));

  constexpr int kClients = 4, kOpsEach = 250;
  std::mt19937 rng(ChaosSeed());
  std::map<int, int> kills;
  Workloads workloads = RunUnderChaos(lb.url(), kClients, kOpsEach, rng, [&](int round) {
    // The first three rounds kill each master once, then any.
    const int victim = round < 3 ? round : static_cast<int>(rng() % 3);
    cluster.KillMaster(victim);
    std::this_thread::sleep_for(milliseconds(rng() % 300));
    cluster.StartMaster(victim);
    ++kills[victim];
  });
  const int acknowledged = ExpectNoViolations(workloads);
  std::cout << "ops>=" << kClients * kOpsEach << " acknowledged=" << acknowledged << " kills: master0=" << kills[0]
            << " master1=" << kills[1] << " master2=" << kills[2] << "\n";
  for (int i = 0; i < 3; ++i) EXPECT_GE(kills[i], 1) << "master " << i << " never killed";
  EXPECT_GE(acknowledged, 300);
  ExpectCleanCluster(cluster, lb.url(), workloads);
}

}  // namespace
}  // namespace dfs::testing
