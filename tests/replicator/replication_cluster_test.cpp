// Replication end to end: real redis-server, dfs-master, dfs-storage nodes
// and dfs-replicator processes on loopback. Every check of "replicated"
// reads each copy back from the node's disk and compares its md5.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "common/http_util.h"
#include "common/md5.h"
#include "replicator/replication_job.h"
#include "replicator/replication_queue.h"
#include "replicator/replication_worker.h"
#include "tests/support/cluster.h"
#include "tests/support/storage_node.h"
#include "tests/support/http_helpers.h"

namespace dfs::testing {
namespace {

using std::chrono::milliseconds;

struct Stored {
  std::string name;
  std::string md5;
};

std::string FilesPath(const std::string& name) { return "/api/v1/files/" + EncodePathForUrl(name); }

ClusterOptions ReplicatedCluster(int nodes = 3) {
  ClusterOptions o;
  o.nodes = nodes;
  o.redis = true;
  o.replicator = true;
  o.master_args = {"--heal-interval-ms", "300", "--heal-retry-ms", "2000"};
  o.replicator_args = {"--claim-idle-ms", "3000"};
  return o;
}

class ReplicationTest : public ::testing::Test {
 protected:
  void Start(ClusterOptions options) { cluster_ = std::make_unique<TestCluster>(std::move(options)); }
  std::string Url() const { return cluster_->master_url(); }

  Stored PutRandom(const std::string& name, size_t size, unsigned seed) {
    std::string src = tmp_.path() + "/src-" + std::to_string(seed);
    std::string md5 = WriteRandomFile(src, size, seed);
    auto put = PutFile(Url(), FilesPath(name) + "?conflict=overwrite", src, {{kMd5Header, md5}});
    EXPECT_EQ(put.status, 201) << name << ": " << put.body;
    std::filesystem::remove(src);
    return {name, md5};
  }

  std::vector<Stored> PutMany(const std::string& prefix, int count, size_t size = 20000) {
    std::vector<Stored> out;
    for (int i = 0; i < count; ++i) out.push_back(PutRandom(prefix + std::to_string(i), size + i, 1000 + i));
    return out;
  }

  nlohmann::json Meta(const std::string& name) const {
    return Get(Url(), "/api/v1/meta/" + EncodePathForUrl(name)).json();
  }

  int NodeIndex(const std::string& node_id) const {
    for (int i = 0; i < cluster_->node_count(); ++i) {
      if (cluster_->node_id(i) == node_id) return i;
    }
    return -1;
  }

  // Every chunk of the file has exactly `copies` good copies on up nodes
  // (none counted twice, none on `excluded` node ids), and each copy on
  // disk has its chunk's md5.
  ::testing::AssertionResult HasVerifiedCopies(const Stored& f, int copies,
                                               const std::set<std::string>& excluded = {}) const {
    auto meta = Meta(f.name);
    if (!meta.is_object() || !meta.contains("chunks")) return ::testing::AssertionFailure() << "no meta";
    for (const auto& chunk : meta["chunks"]) {
      int good = 0;
      for (const auto& r : chunk["replicas"]) {
        if (r["state"] != "ok" || r["node_state"] != "up" || excluded.count(r["node_id"])) continue;
        int i = NodeIndex(r["node_id"]);
        if (i < 0) return ::testing::AssertionFailure() << "unknown node " << r["node_id"];
        auto on_disk = Md5::OfFile(cluster_->blob_path(i, chunk["blob_id"]));
        if (!on_disk.ok() || *on_disk != chunk["md5"]) {
          return ::testing::AssertionFailure() << f.name << ": copy on node " << i << " is not right";
        }
        ++good;
      }
      if (good != copies) {
        return ::testing::AssertionFailure() << f.name << " chunk " << chunk["index"] << " has " << good
                                             << " good copies";
      }
    }
    return ::testing::AssertionSuccess();
  }

  // Waits until every file has `copies` verified copies.
  void ExpectReplicated(const std::vector<Stored>& files, int copies, milliseconds timeout = milliseconds(60000),
                        const std::set<std::string>& excluded = {}) {
    bool ok = WaitUntil(
        [&] {
          for (const auto& f : files) {
            if (!HasVerifiedCopies(f, copies, excluded)) return false;
          }
          return true;
        },
        timeout);
    if (!ok) {
      for (const auto& f : files) EXPECT_TRUE(HasVerifiedCopies(f, copies, excluded));
      ADD_FAILURE() << "replication: " << Get(Url(), "/api/v1/replication").body;
    }
  }

  void ExpectReadable(const std::vector<Stored>& files) {
    for (const auto& f : files) {
      std::string md5;
      auto got = GetToFile(Url(), FilesPath(f.name), tmp_.path() + "/got", &md5);
      EXPECT_EQ(got.status, 200) << f.name;
      EXPECT_EQ(md5, f.md5) << f.name;
    }
  }

  std::string PrimaryBlob(const Stored& f) const {
    auto meta = Meta(f.name);
    return cluster_->blob_path(NodeIndex(meta["primary"]["node_id"]), meta["blob_id"]);
  }

  // Flips one byte of a file in place (same size: only a checksum can tell).
  static bool FlipByte(const std::string& path, std::streamoff at) {
    std::fstream blob(path, std::ios::in | std::ios::out | std::ios::binary);
    if (!blob.good()) return false;
    blob.seekg(at);
    char c = 0;
    blob.read(&c, 1);
    c = static_cast<char>(c ^ 0x5a);
    blob.seekp(at);
    blob.write(&c, 1);
    return blob.good();
  }

  std::unique_ptr<TestCluster> cluster_;
  TempDir tmp_;
};

TEST_F(ReplicationTest, HundredFilesReachThreeCopiesAndSurviveTheirPrimaryDying) {
  Start(ReplicatedCluster());
  auto files = PutMany("hundred/f", 100);
  ExpectReplicated(files, 3);
  EXPECT_EQ(Get(Url(), "/api/v1/replication").json()["under_replicated"], 0);

  // Kill node 0: every file it was primary for is read from a replica.
  const std::string dead = cluster_->node_id(0);
  int primaries_lost = 0;
  for (const auto& f : files) primaries_lost += Meta(f.name)["primary"]["node_id"] == dead;
  EXPECT_GT(primaries_lost, 0);
  cluster_->KillNode(0);
  for (const auto& f : files) {
    std::string md5;
    auto got = GetToFile(Url(), FilesPath(f.name), tmp_.path() + "/got", &md5);
    ASSERT_EQ(got.status, 200) << f.name;
    EXPECT_EQ(md5, f.md5) << f.name;
  }
  // Once the master has noticed, reads no longer even start at the dead node.
  ASSERT_TRUE(WaitUntil(
      [&] {
        const nlohmann::json nodes = Get(Url(), "/api/v1/nodes").json()["nodes"];  // a copy: no dangling temporary
        for (const auto& n : nodes) {
          if (n["node_id"] == dead) return n["state"] == "down";
        }
        return false;
      },
      milliseconds(10000)))
      << Get(Url(), "/api/v1/nodes").body;
  for (const auto& f : files) EXPECT_NE(Get(Url(), FilesPath(f.name)).header(kNodeHeader), dead) << f.name;
}

TEST_F(ReplicationTest, ReadsSurviveTheLossOfAnyTwoNodesForEveryFile) {
  // R = 2 extra copies: with any two of the three nodes dead, every file is
  // still read right, whichever node its primary was on.
  Start(ReplicatedCluster());
  auto files = PutMany("pairs/f", 100);
  ExpectReplicated(files, 3);
  std::map<int, int> primaries;
  for (const auto& f : files) ++primaries[NodeIndex(Meta(f.name)["primary"]["node_id"])];
  for (int alive = 0; alive < 3; ++alive) {
    std::vector<int> dead;
    for (int i = 0; i < 3; ++i) {
      if (i != alive) dead.push_back(i);
    }
    for (int i : dead) cluster_->KillNode(i);
    for (const auto& f : files) {
      std::string md5;
      auto got = GetToFile(Url(), FilesPath(f.name), tmp_.path() + "/got", &md5);
      ASSERT_EQ(got.status, 200) << f.name << " with only node " << alive << " alive";
      EXPECT_EQ(md5, f.md5) << f.name;
    }
    for (int i : dead) cluster_->StartNode(i);
    ASSERT_TRUE(cluster_->WaitNodesUp(3));
  }
  EXPECT_EQ(primaries.size(), 3u) << "random placement used every node";
}

TEST_F(ReplicationTest, DeleteAndOverwriteRemoveEveryCopyEvenFromANodeThatWasDown) {
  // No garbage collection runs in this test (the master's default interval
  // is 10 minutes): the copies must go through the deletion queue itself.
  Start(ReplicatedCluster());
  Stored gone = PutRandom("gone.bin", 100000, 31);
  Stored replaced = PutRandom("replaced.bin", 100000, 32);
  ExpectReplicated({gone, replaced}, 3);
  const std::string gone_blob = Meta(gone.name)["blob_id"];
  const std::string old_blob = Meta(replaced.name)["blob_id"];
  auto on_disk = [&](int i, const std::string& blob) { return std::filesystem::exists(cluster_->blob_path(i, blob)); };
  cluster_->StopNode(2);
  ASSERT_EQ(Delete(Url(), FilesPath(gone.name)).status, 204);
  Stored now = PutRandom("replaced.bin", 50000, 33);  // an overwrite
  EXPECT_TRUE(WaitUntil(
      [&] {
        for (int i : {0, 1}) {
          if (on_disk(i, gone_blob) || on_disk(i, old_blob)) return false;
        }
        return true;
      },
      milliseconds(15000)))
      << "the nodes that are up drop the old copies";
  EXPECT_TRUE(on_disk(2, gone_blob) && on_disk(2, old_blob)) << "the stopped node still has them";
  cluster_->StartNode(2);
  EXPECT_TRUE(WaitUntil([&] { return !on_disk(2, gone_blob) && !on_disk(2, old_blob); }, milliseconds(30000)))
      << "and drops them once it is back";
  ExpectReplicated({now}, 3);
  EXPECT_EQ(Get(Url(), FilesPath(gone.name)).status, 404);
}

TEST_F(ReplicationTest, ReplicasPerFileAtPutOverrideTheClusterSetting) {
  ClusterOptions options = ReplicatedCluster(4);
  Start(options);
  Stored one = {"one-copy.bin", ""}, two = {"two-copies.bin", ""}, all = {"four-copies.bin", ""};
  for (auto* f : {&one, &two, &all}) {
    std::string src = tmp_.path() + "/" + f->name;
    f->md5 = WriteRandomFile(src, 50000, static_cast<unsigned>(f->name.size()));
    const int extra = f == &one ? 0 : f == &two ? 1 : 3;
    auto put = PutFile(Url(), FilesPath(f->name) + "?replicas=" + std::to_string(extra), src, {{kMd5Header, f->md5}});
    ASSERT_EQ(put.status, 201) << put.body;
  }
  Stored dflt = PutRandom("default.bin", 50000, 77);
  ExpectReplicated({all}, 4);
  ExpectReplicated({two}, 2);
  ExpectReplicated({dflt}, 3);
  EXPECT_TRUE(HasVerifiedCopies(one, 1)) << "replicas=0: the primary only";
  EXPECT_EQ(Meta(one.name)["want_copies"], 1);
  EXPECT_EQ(Meta(all.name)["want_copies"], 4);
  EXPECT_TRUE(Meta(two.name)["fully_replicated"].get<bool>());
  // And they stay so: no healing pass adds copies past what was asked.
  std::this_thread::sleep_for(milliseconds(1500));
  EXPECT_TRUE(HasVerifiedCopies(one, 1));
  EXPECT_TRUE(HasVerifiedCopies(two, 2));
}

TEST_F(ReplicationTest, CorruptOrMissingPrimaryCopyIsServedFromAReplicaAndRepaired) {
  Start(ReplicatedCluster());
  Stored corrupt = PutRandom("corrupt.bin", 5 << 20, 7);     // bad byte in the middle (block 2)
  Stored corrupt0 = PutRandom("corrupt0.bin", 3 << 20, 17);  // bad byte in the first block
  Stored missing = PutRandom("missing.bin", 1 << 20, 8);
  ExpectReplicated({corrupt, corrupt0, missing}, 3);

  const std::string primary = Meta(corrupt.name)["primary"]["node_id"];
  const std::string primary0 = Meta(corrupt0.name)["primary"]["node_id"];
  // Same size, one byte flipped: only a checksum can tell.
  ASSERT_TRUE(FlipByte(PrimaryBlob(corrupt), (5 << 20) / 2));
  ASSERT_TRUE(FlipByte(PrimaryBlob(corrupt0), 1000));
  ASSERT_TRUE(std::filesystem::remove(PrimaryBlob(missing)));

  // Plain HTTP, one try: the whole file, right. The primary's node stops
  // before the bad block and the master goes on from a replica.
  std::string md5;
  auto got = GetToFile(Url(), FilesPath(corrupt.name), tmp_.path() + "/corrupt.out", &md5);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(md5, corrupt.md5);
  EXPECT_EQ(std::filesystem::file_size(tmp_.path() + "/corrupt.out"), 5u << 20);
  EXPECT_EQ(got.header(kNodeHeader), primary) << "its first blocks were good and came from it";
  // A bad first block is found before any byte is sent: the answer names a replica.
  got = GetToFile(Url(), FilesPath(corrupt0.name), tmp_.path() + "/corrupt0.out", &md5);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(md5, corrupt0.md5);
  EXPECT_NE(got.header(kNodeHeader), primary0);
  EXPECT_FALSE(got.header(kNodeHeader).empty());
  // A missing copy too.
  got = GetToFile(Url(), FilesPath(missing.name), tmp_.path() + "/missing.out", &md5);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(md5, missing.md5);
  EXPECT_NE(got.header(kNodeHeader), Meta(missing.name)["primary"]["node_id"]);
  // The node logged the bad copy and took it out of service (the next read
  // starts at a replica, or at the primary once its copy was rewritten).
  const std::string log = ReadFile(cluster_->node_dir(NodeIndex(primary)) + ".log");
  EXPECT_NE(log.find("corrupt blob=" + Meta(corrupt.name)["blob_id"].get<std::string>()), std::string::npos) << log;
  EXPECT_NE(log.find("moved to quarantine"), std::string::npos);
  got = GetToFile(Url(), FilesPath(corrupt.name), tmp_.path() + "/again.out", &md5);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(md5, corrupt.md5);

  // Repaired: three good copies again, the primary's own copy rewritten.
  ExpectReplicated({corrupt, corrupt0, missing}, 3);
  EXPECT_EQ(*Md5::OfFile(PrimaryBlob(corrupt)), corrupt.md5);
  EXPECT_EQ(*Md5::OfFile(PrimaryBlob(corrupt0)), corrupt0.md5);
  EXPECT_EQ(*Md5::OfFile(PrimaryBlob(missing)), missing.md5);
  EXPECT_FALSE(BlockSumsOf(PrimaryBlob(corrupt)).empty());
}

TEST_F(ReplicationTest, RangeReadOverACorruptBlockGetsTheRightBytes) {
  Start(ReplicatedCluster());
  const size_t size = 4 << 20;
  std::string src = tmp_.path() + "/range-src";
  std::string md5 = WriteRandomFile(src, size, 21);
  ASSERT_EQ(PutFile(Url(), FilesPath("range.bin"), src, {{kMd5Header, md5}}).status, 201);
  Stored f{"range.bin", md5};
  ExpectReplicated({f}, 3);
  const std::string data = ReadFile(src);
  const std::string primary = Meta(f.name)["primary"]["node_id"];
  ASSERT_TRUE(FlipByte(PrimaryBlob(f), (1 << 20) + 5000));  // block 1

  // From the good block 0 (the first bytes come from the primary) across
  // the bad block 1 (the rest from a replica) into block 2.
  const size_t from = (1 << 20) - (200 << 10), to = (2 << 20) + 100;
  auto got = Get(Url(), FilesPath(f.name), {{"Range", "bytes=" + std::to_string(from) + "-" + std::to_string(to)}});
  ASSERT_EQ(got.status, 206);
  EXPECT_EQ(got.body.size(), to - from + 1);
  EXPECT_TRUE(got.body == data.substr(from, to - from + 1)) << "range bytes differ";
  EXPECT_EQ(got.header(kNodeHeader), primary);
  got = Get(Url(), FilesPath(f.name), {{"Range", "bytes=" + std::to_string((1 << 20) + 10) + "-"}});
  ASSERT_EQ(got.status, 206);
  EXPECT_TRUE(got.body == data.substr((1 << 20) + 10));

  // A range that starts in a bad block: its node refuses before any byte,
  // so the answer comes (and says it comes) from a replica.
  ASSERT_EQ(PutFile(Url(), FilesPath("range2.bin"), src, {{kMd5Header, md5}}).status, 201);
  Stored g{"range2.bin", md5};
  ExpectReplicated({f, g}, 3);
  const std::string primary2 = Meta(g.name)["primary"]["node_id"];
  ASSERT_TRUE(FlipByte(PrimaryBlob(g), (3 << 20) + 1));
  got = Get(Url(), FilesPath(g.name), {{"Range", "bytes=-" + std::to_string(600 << 10)}});
  ASSERT_EQ(got.status, 206);
  EXPECT_TRUE(got.body == data.substr(size - (600 << 10)));
  EXPECT_NE(got.header(kNodeHeader), primary2);
  ExpectReplicated({f, g}, 3);
}

TEST_F(ReplicationTest, BlobsWrittenWithoutBlockSumsStillServe) {
  Start(ReplicatedCluster());
  Stored f = PutRandom("old.bin", (2 << 20) + 333, 22);
  ExpectReplicated({f}, 3);
  // As if every copy had been written before block sums existed.
  const std::string blob_id = Meta(f.name)["blob_id"];
  for (int i = 0; i < cluster_->node_count(); ++i) EXPECT_TRUE(RemoveBlockSums(cluster_->blob_path(i, blob_id)));
  std::string md5;
  auto got = GetToFile(Url(), FilesPath(f.name), tmp_.path() + "/old.out", &md5);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(md5, f.md5);
  auto range = Get(Url(), FilesPath(f.name), {{"Range", "bytes=1048000-1049000"}});
  ASSERT_EQ(range.status, 206);
  EXPECT_EQ(Md5::Of(range.body), Md5::Of(ReadFile(tmp_.path() + "/old.out").substr(1048000, 1001)));
  // Without block sums no node checks what it serves: the master hashes
  // such a chunk itself, so a corrupt copy never reaches a client whole.
  ASSERT_TRUE(FlipByte(PrimaryBlob(f), 1000));
  auto bad = GetToFile(Url(), FilesPath(f.name), tmp_.path() + "/bad.out", &md5);
  EXPECT_LT(std::filesystem::file_size(tmp_.path() + "/bad.out"), (2u << 20) + 333) << "cut short, never whole";
  ExpectReplicated({f}, 3);
}

TEST_F(ReplicationTest, NodeKilledWhileServingALargeFileTheReadContinuesFromAReplica) {
  Start(ReplicatedCluster());
  Stored big = PutRandom("big.bin", 96 << 20, 9);
  ExpectReplicated({big}, 3);

  auto cli = Client(Url());
  cli->set_read_timeout(30, 0);
  std::string serving;
  Md5 md5;
  uint64_t received = 0;
  bool killed = false;
  auto res = cli->Get(
      FilesPath(big.name),
      [&](const httplib::Response& r) {
        serving = r.get_header_value(kNodeHeader);
        return r.status == 200;
      },
      [&](const char* data, size_t len) {
        md5.Update(data, len);
        received += len;
        if (!killed && received > (4u << 20)) {
          killed = true;
          int i = NodeIndex(serving);
          EXPECT_GE(i, 0);
          if (i >= 0) cluster_->KillNode(i);
        }
        return true;
      });
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_TRUE(killed);
  EXPECT_EQ(received, 96u << 20);
  EXPECT_EQ(md5.HexDigest(), big.md5);
}

TEST_F(ReplicationTest, FilesPutWhileTheReplicatorOrRedisIsDownAreReplicatedLater) {
  Start(ReplicatedCluster());
  cluster_->StopReplicator();
  auto while_replicator_down = PutMany("norep/f", 50, 5000);
  std::this_thread::sleep_for(milliseconds(500));
  for (const auto& f : while_replicator_down) EXPECT_TRUE(HasVerifiedCopies(f, 1));
  cluster_->StartReplicator();
  ExpectReplicated(while_replicator_down, 3);

  cluster_->StopRedis();
  auto while_redis_down = PutMany("noredis/f", 50, 5000);  // PUTs still succeed
  auto status = Get(Url(), "/api/v1/replication").json();
  EXPECT_EQ(status["redis_reachable"], false);
  EXPECT_GE(status["unpublished_jobs"].get<int>(), 1);
  cluster_->StartRedis();
  ExpectReplicated(while_redis_down, 3);
  EXPECT_EQ(Get(Url(), "/api/v1/replication").json()["unpublished_jobs"], 0);
}

TEST_F(ReplicationTest, MasterKilledRightAfterAcknowledgingAPutStillReplicatesIt) {
  Start(ReplicatedCluster());
  cluster_->StopRedis();  // so the job can only be in the master's outbox
  auto files = PutMany("crash/f", 10, 3000);
  cluster_->KillMaster();
  cluster_->StartRedis();
  cluster_->StartMaster();
  ExpectReplicated(files, 3);
}

TEST_F(ReplicationTest, NodeGoneForGoodItsFilesGetThreeCopiesOnTheOthers) {
  Start(ReplicatedCluster(4));
  auto files = PutMany("heal/f", 40, 4000);
  ExpectReplicated(files, 3);
  const std::string gone = cluster_->node_id(2);
  cluster_->KillNode(2);
  // node_timeout (1.5 s) marks it down, node_dead (4 s) stops counting its copies.
  ExpectReplicated(files, 3, milliseconds(60000), {gone});
  ExpectReadable(files);
}

TEST_F(ReplicationTest, NodeAddedWhileBusyTakesPlacementsAndReplicas) {
  Start(ReplicatedCluster(3));
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<Stored> files;
  std::mutex mu;
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      std::string name = "busy/f" + std::to_string(i);
      std::string data = "file " + std::to_string(i) + std::string(2000 + i, 'x');
      auto put = PutString(Url(), FilesPath(name), data);
      if (put.status != 201) ++failures;
      std::lock_guard lock(mu);
      files.push_back({name, Md5::Of(data)});
    }
  });
  std::this_thread::sleep_for(milliseconds(500));
  int added = cluster_->AddNode();
  ASSERT_TRUE(cluster_->WaitNodesUp(4));
  const std::string new_id = cluster_->node_id(added);
  int primaries = 0, replicas = 0;
  WaitUntil(
      [&] {
        primaries = replicas = 0;
        std::vector<Stored> snapshot;
        {
          std::lock_guard lock(mu);
          snapshot = files;
        }
        for (const auto& f : snapshot) {
          auto meta = Meta(f.name);
          if (!meta.contains("replicas")) continue;
          for (const auto& r : meta["replicas"]) {
            if (r["node_id"] != new_id) continue;
            if (meta["primary"]["node_id"] == new_id) {
              ++primaries;
            } else {
              ++replicas;
            }
          }
        }
        return primaries > 0 && replicas > 0;
      },
      milliseconds(30000));
  stop = true;
  writer.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(primaries, 0);
  EXPECT_GT(replicas, 0);
  ExpectReplicated(files, 3);
}

TEST_F(ReplicationTest, TwoReplicatorsMakeNoDuplicateCopies) {
  Start(ReplicatedCluster(5));
  Subprocess second({BinaryPath("dfs-replicator"), "--redis", cluster_->redis_address(), "--master", Url(),
                     "--consumer", "second", "--log-level", "debug"},
                    cluster_->dir() + "/replicator2.log");
  auto files = PutMany("two/f", 100, 3000);
  ExpectReplicated(files, 3);
  std::this_thread::sleep_for(milliseconds(1000));  // let any straggling copy land
  for (const auto& f : files) EXPECT_EQ(Meta(f.name)["replicas"].size(), 3u) << f.name;
  int on_disk = 0;
  for (int i = 0; i < cluster_->node_count(); ++i) {
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(cluster_->node_dir(i) + "/blobs", ec);
         it != std::filesystem::recursive_directory_iterator(); ++it) {
      on_disk += it->is_regular_file() && it->path().extension().empty();
    }
  }
  EXPECT_EQ(on_disk, 300);
  auto status = Get(Url(), "/api/v1/replication").json();
  EXPECT_EQ(status["dead"], 0);
  // Both took part.
  std::string log1 = ReadFile(cluster_->dir() + "/replicator.log"), log2 = ReadFile(cluster_->dir() + "/replicator2.log");
  EXPECT_NE(log1.find("copied job="), std::string::npos);
  EXPECT_NE(log2.find("copied job="), std::string::npos);
  second.Stop();
}

TEST_F(ReplicationTest, DrainedNodeGetsNoNewFilesAndItsCopiesMoveElsewhere) {
  Start(ReplicatedCluster(4));
  auto files = PutMany("drain/f", 30, 3000);
  ExpectReplicated(files, 3);
  const std::string drained = cluster_->node_id(1);
  std::string out;
  ASSERT_EQ(cluster_->Cli("drain " + drained, &out), 0) << out;
  EXPECT_NE(out.find("draining"), std::string::npos);
  ExpectReplicated(files, 3, milliseconds(60000), {drained});
  auto more = PutMany("drain/g", 20, 3000);
  for (const auto& f : more) EXPECT_NE(Meta(f.name)["primary"]["node_id"], drained);
  ASSERT_EQ(cluster_->Cli("nodes", &out), 0);
  EXPECT_NE(out.find("draining"), std::string::npos);
  ASSERT_EQ(cluster_->Cli("undrain " + drained, &out), 0) << out;
  ASSERT_EQ(cluster_->Cli("--json nodes", &out), 0);
  EXPECT_EQ(out.find("draining"), std::string::npos);
}

TEST_F(ReplicationTest, JobsThatCannotSucceedGoToTheDeadLettersAndCanBeRequeued) {
  ClusterOptions options = ReplicatedCluster(1);
  options.replicator_args.insert(options.replicator_args.end(), {"--max-attempts", "2"});
  // Only the job from the PUT: no healing retries to muddle the count.
  options.master_args.insert(options.master_args.end(), {"--heal-retry-ms", "600000"});
  Start(options);
  // Two more nodes that are full: every copy to them fails with 507.
  cluster_->AddNode({"--capacity", "1000"});
  cluster_->AddNode({"--capacity", "1000"});
  ASSERT_TRUE(cluster_->WaitNodesUp(3));
  Stored f = PutRandom("stuck.bin", 100000, 11);
  // Placement only chose the node with room.
  EXPECT_EQ(Meta(f.name)["primary"]["node_id"], cluster_->node_id(0));
  std::string out;
  ASSERT_TRUE(WaitUntil([&] { return cluster_->Cli("dead", &out) == 0 && out.find("blob") != std::string::npos; },
                        milliseconds(30000)))
      << out;
  EXPECT_NE(out.find(Meta(f.name)["blob_id"].get<std::string>()), std::string::npos) << out;
  ASSERT_EQ(cluster_->Cli("replication --json", &out), 0);
  EXPECT_EQ(nlohmann::json::parse(out)["dead"], 1) << out;
  ASSERT_EQ(cluster_->Cli("dead --json", &out), 0);
  const std::string first_id = nlohmann::json::parse(out)["dead"][0]["id"];
  ASSERT_EQ(cluster_->Cli("requeue all", &out), 0) << out;
  // Still impossible: it fails again (possibly at once) and is listed again,
  // as a new dead letter (nothing is lost).
  EXPECT_TRUE(WaitUntil(
      [&] {
        if (cluster_->Cli("dead --json", &out) != 0) return false;
        auto dead = nlohmann::json::parse(out)["dead"];
        return dead.size() == 1 && dead[0]["id"] != first_id;
      },
      milliseconds(30000)))
      << out;
  EXPECT_EQ(cluster_->Cli("requeue 1-1", &out), 3) << out;  // no such dead letter
}

TEST_F(ReplicationTest, MoreThanAThousandDeadLettersAreListedInPagesAndAllRequeued) {
  ClusterOptions options = ReplicatedCluster(1);
  options.replicator = false;  // requeued jobs stay in the stream, countable
  Start(options);
  constexpr int kDead = 1205;
  {
    replication::ReplicationQueue queue(*replication::ParseRedisAddress(cluster_->redis_address()));
    ASSERT_TRUE(queue.EnsureGroup().ok());
    for (int i = 0; i < kDead; ++i) {
      replication::ReplicationJob job;
      job.job_id = "j" + std::to_string(i);
      char blob[33];
      std::snprintf(blob, sizeof(blob), "%032x", i);
      job.blob_id = blob;
      job.md5 = "d41d8cd98f00b204e9800998ecf8427e";
      job.want_copies = 3;
      ASSERT_TRUE(queue.Publish(job.ToJson()).ok());
    }
    auto entries = queue.Read("test", kDead, 1000);
    ASSERT_TRUE(entries.ok());
    ASSERT_EQ(entries->size(), static_cast<size_t>(kDead));
    for (const auto& e : *entries) ASSERT_TRUE(queue.DeadLetter(e, "test").ok());
  }
  auto first = Get(cluster_->master_url(), "/api/v1/replication/dead?limit=1000").json();
  ASSERT_EQ(first["dead"].size(), 1000u);
  EXPECT_TRUE(first["more"].get<bool>());
  auto rest = Get(cluster_->master_url(),
                  "/api/v1/replication/dead?after=" + first["dead"][999]["id"].get<std::string>()).json();
  EXPECT_EQ(rest["dead"].size(), static_cast<size_t>(kDead - 1000));
  EXPECT_FALSE(rest["more"].get<bool>());
  EXPECT_EQ(Get(cluster_->master_url(), "/api/v1/replication/dead?limit=0").status, 400);
  EXPECT_EQ(Get(cluster_->master_url(), "/api/v1/replication/dead?after=x").status, 400);
  std::string out;
  ASSERT_EQ(cluster_->Cli("dead", &out), 0);
  EXPECT_NE(out.find("and more"), std::string::npos) << "the CLI says the list goes on";
  ASSERT_EQ(cluster_->Cli("--json requeue all", &out), 0) << out;
  auto status = nlohmann::json::parse(Get(cluster_->master_url(), "/api/v1/replication").body);
  EXPECT_EQ(status["dead"], 0) << "requeue all takes every one, not the first 1000";
  EXPECT_GE(status["queue_length"].get<int>(), kDead);
}

// A new chunk's job names its one copy, and the replicator copies from it
// without asking the master; when that copy is not where the job says (the
// job is stale, or wrong), the next pass asks the master and still makes
// every copy, without reporting the named node's copy bad.
TEST_F(ReplicationTest, AJobNamingAWrongSourceStillGetsItsCopies) {
  ClusterOptions options;
  options.redis = false;  // no replicator: the job is run here
  Start(options);
  Stored f = PutRandom("named.bin", 5000, 14);
  ASSERT_TRUE(HasVerifiedCopies(f, 1));
  auto meta = Meta(f.name);
  int other = -1;
  for (int i = 0; i < cluster_->node_count(); ++i) {
    if (cluster_->node_id(i) != meta["primary"]["node_id"]) other = i;
  }
  ASSERT_GE(other, 0);
  replication::ReplicationJob job;
  job.job_id = "named-job";
  job.blob_id = meta["blob_id"];
  job.md5 = meta["chunks"][0]["md5"];
  job.size = meta["chunks"][0]["size"];
  job.want_copies = 3;
  job.source_node_id = cluster_->node_id(other);  // a node without the blob
  job.source_url = cluster_->node_url(other);
  auto parsed = replication::ReplicationJob::Parse(job.ToJson());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->source_url, job.source_url);
  std::atomic<bool> stop{false};
  replication::MasterApi master(*MasterSet::Parse(Url()));
  replication::BlobCopier copier;
  replication::ReplicationWorker worker(master, copier, {}, stop);
  auto outcome = worker.Process(*parsed);
  EXPECT_EQ(outcome.result, replication::JobResult::kDone) << outcome.detail;
  EXPECT_EQ(outcome.copies_made, 2) << outcome.detail;
  EXPECT_TRUE(HasVerifiedCopies(f, 3));
}

TEST_F(ReplicationTest, WithoutRedisFilesAreStoredOnceAndTheQueueCommandsSaySo) {
  ClusterOptions options;
  options.redis = false;
  Start(options);
  Stored f = PutRandom("lonely.bin", 1000, 12);
  EXPECT_TRUE(HasVerifiedCopies(f, 1));
  std::string out;
  ASSERT_EQ(cluster_->Cli("replication", &out), 0) << out;
  EXPECT_NE(out.find("without --redis"), std::string::npos) << out;
  EXPECT_EQ(cluster_->Cli("dead", &out), 3) << out;
  auto locations = Get(Url(), FilesPath(f.name) + "/locations").json();
  EXPECT_EQ(locations["good_copies"], 1);
  EXPECT_EQ(locations["fully_replicated"], false);
}

}  // namespace
}  // namespace dfs::testing

namespace dfs::testing {
namespace {

// The replicator and the nodes given "dead,live" masters: the dead one costs
// a retry on the next, every file still reaches its copies.
TEST_F(ReplicationTest, ADeadFirstMasterInTheListCostsARetryNotAReplication) {
  ClusterOptions options = ReplicatedCluster();
  options.master_list = "http://127.0.0.1:" + std::to_string(FreePort()) + ",{master}";
  Start(options);
  auto files = PutMany("listed/f", 10);
  ExpectReplicated(files, 3);
  ExpectReadable(files);
  EXPECT_EQ(Get(Url(), "/api/v1/replication").json()["dead"], 0);
}

}  // namespace
}  // namespace dfs::testing
