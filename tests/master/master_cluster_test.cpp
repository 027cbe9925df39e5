// Integration tests of dfs-master with real dfs-storage nodes on loopback.
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/http_util.h"
#include "common/md5.h"
#include "tests/support/cluster.h"
#include "tests/support/http_helpers.h"

namespace dfs::testing {
namespace {

std::string FilesPath(const std::string& name) { return "/api/v1/files/" + EncodePathForUrl(name); }

// Number of blob files (not .meta/.blocks sidecars) on a node's disk.
int BlobsOnDisk(const std::string& node_dir) {
  int n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(node_dir + "/blobs", ec);
       it != std::filesystem::recursive_directory_iterator(); ++it) {
    if (it->is_regular_file() && it->path().extension().empty()) ++n;
  }
  return n;
}

int BlobsOnAllDisks(TestCluster& c) {
  int n = 0;
  for (int i = 0; i < c.node_count(); ++i) n += BlobsOnDisk(c.node_dir(i));
  return n;
}

class MasterClusterTest : public ::testing::Test {
 protected:
  std::string Url() const { return cluster_->master_url(); }
  void SetUp() override { cluster_ = std::make_unique<TestCluster>(); }
  std::unique_ptr<TestCluster> cluster_;
  TempDir tmp_;
};

TEST_F(MasterClusterTest, RoundTripsZeroOneAndHundredMiB) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{100} << 20}) {
    std::string name = "rt/file-" + std::to_string(size);
    std::string src = tmp_.path() + "/src";
    std::string md5 = WriteRandomFile(src, size, static_cast<unsigned>(size));
    auto put = PutFile(Url(), FilesPath(name), src, {{kMd5Header, md5}});
    ASSERT_EQ(put.status, 201) << put.body;
    EXPECT_EQ(put.json()["name"], name);
    EXPECT_EQ(put.json()["size"], size);
    EXPECT_EQ(put.json()["md5"], md5);
    std::string got_md5;
    auto get = GetToFile(Url(), FilesPath(name), tmp_.path() + "/dst", &got_md5);
    ASSERT_EQ(get.status, 200);
    EXPECT_EQ(got_md5, md5) << "size " << size;
    EXPECT_EQ(get.header(kMd5Header), md5);
    EXPECT_EQ(get.header("ETag"), "\"" + md5 + "\"");
    EXPECT_FALSE(get.header(kNodeHeader).empty());
    EXPECT_EQ(std::filesystem::file_size(tmp_.path() + "/dst"), size);
  }
}

// A PUT ?sync=0 (a mount's close) leaves its chunks to the node's syncer;
// POST /api/v1/sync (its fsync) has exactly the nodes that stored them
// sync now, and a sync after full PUTs asks no node.
TEST_F(MasterClusterTest, ASyncAfterRelaxedPutsSyncsTheNodesThatStoredThem) {
  auto node_syncs = [&] {
    double total = 0;
    for (int i = 0; i < cluster_->node_count(); ++i) {
      const std::string body = Get(cluster_->node_url(i), "/metrics").body;
      const std::string series = "dfs_http_requests_total{route=\"/sync\",method=\"POST\",status=\"204\"} ";
      size_t at = body.find(series);
      if (at != std::string::npos) total += std::stod(body.substr(at + series.size()));
    }
    return total;
  };
  httplib::Client master(Url());
  const double before = node_syncs();
  ASSERT_EQ(PutString(Url(), FilesPath("sync/full"), "durable at once").status, 201);
  auto sync = master.Post("/api/v1/sync");
  ASSERT_TRUE(sync);
  EXPECT_EQ(sync->status, 204);
  EXPECT_EQ(node_syncs(), before) << "nothing was stored ?sync=0";

  for (int i = 0; i < 6; ++i) {
    auto put = PutString(Url(), FilesPath("sync/relaxed" + std::to_string(i)) + "?sync=0", "soon " + std::to_string(i));
    ASSERT_EQ(put.status, 201) << put.body;
  }
  std::set<std::string> nodes;
  for (int i = 0; i < 6; ++i) nodes.insert(Get(Url(), FilesPath("sync/relaxed" + std::to_string(i))).header(kNodeHeader));
  sync = master.Post("/api/v1/sync");
  ASSERT_TRUE(sync);
  EXPECT_EQ(sync->status, 204);
  // A node counts a request after its answer is sent, so the count may lag the 204.
  const auto synced_once = [&] { return node_syncs() - before == static_cast<double>(nodes.size()); };
  EXPECT_TRUE(WaitUntil(synced_once, std::chrono::seconds(10)))
      << "one sync per node that stored a chunk: " << node_syncs() - before << " for " << nodes.size();
  EXPECT_EQ(Get(Url(), FilesPath("sync/relaxed3")).body, "soon 3");
  sync = master.Post("/api/v1/sync");
  ASSERT_TRUE(sync);
  EXPECT_EQ(sync->status, 204);
  EXPECT_TRUE(synced_once()) << "synced already: " << node_syncs() - before << " for " << nodes.size();
}

TEST_F(MasterClusterTest, PutWithoutMd5IsStoredWithComputedMd5) {
  auto put = PutString(Url(), FilesPath("plain.txt"), "hello");
  ASSERT_EQ(put.status, 201) << put.body;
  EXPECT_EQ(put.json()["md5"], Md5::Of("hello"));
  EXPECT_EQ(Get(Url(), FilesPath("plain.txt")).body, "hello");
}

TEST_F(MasterClusterTest, CollisionRenamesAndSaysSo) {
  ASSERT_EQ(PutString(Url(), FilesPath("docs/report.pdf"), "one").status, 201);
  auto second = PutString(Url(), FilesPath("docs/report.pdf"), "two");
  ASSERT_EQ(second.status, 201);
  auto j = second.json();
  EXPECT_TRUE(j["renamed"].get<bool>());
  EXPECT_EQ(j["requested_name"], "docs/report.pdf");
  std::string name = j["name"];
  EXPECT_EQ(name.rfind("docs/report_", 0), 0u) << name;
  EXPECT_EQ(name.substr(name.size() - 4), ".pdf");
  EXPECT_EQ(Get(Url(), FilesPath("docs/report.pdf")).body, "one");
  EXPECT_EQ(Get(Url(), FilesPath(name)).body, "two");
}

TEST_F(MasterClusterTest, TwentyConcurrentSameNamePutsGetTwentyNames) {
  std::vector<std::thread> threads;
  std::vector<std::string> names(20);
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&, i] {
      auto put = PutString(Url(), FilesPath("same.tar.gz"), "content " + std::to_string(i));
      if (put.status == 201) names[i] = put.json()["name"];
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> distinct(names.begin(), names.end());
  ASSERT_EQ(distinct.size(), 20u);
  ASSERT_EQ(distinct.count(""), 0u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(Get(Url(), FilesPath(names[i])).body, "content " + std::to_string(i));
  }
}

// Two clients racing renames through the HTTP API: onto one target (both
// win in turn, the target holds one of the two files), and two folders moved
// into each other crosswise (one wins, the other is refused, the tree stays
// a tree). Ten rounds each.
TEST_F(MasterClusterTest, TwoClientsRacingRenamesLeaveAConsistentTree) {
  auto rename = [&](const std::string& from, const std::string& to) {
    nlohmann::json body = {{"from", from}, {"to", to}};
    auto res = Client(Url())->Post("/api/v1/rename", body.dump(), "application/json");
    return res ? res->status : 0;
  };
  auto names = [&](const std::string& dir) {
    std::set<std::string> out;
    auto list = Get(Url(), "/api/v1/list" + (dir.empty() ? "" : "/" + dir)).json();
    for (const auto& e : list["entries"]) out.insert(e["name"].get<std::string>());
    return out;
  };
  for (int round = 0; round < 10; ++round) {
    const std::string d = "r" + std::to_string(round);
    ASSERT_EQ(PutString(Url(), FilesPath(d + "/a"), "from a").status, 201);
    ASSERT_EQ(PutString(Url(), FilesPath(d + "/b"), "from b").status, 201);
    int status_a = 0, status_b = 0;
    std::thread ta([&] { status_a = rename(d + "/a", d + "/t"); });
    std::thread tb([&] { status_b = rename(d + "/b", d + "/t"); });
    ta.join();
    tb.join();
    EXPECT_EQ(status_a, 200);
    EXPECT_EQ(status_b, 200);
    EXPECT_EQ(names(d), std::set<std::string>{"t"});
    const std::string body = Get(Url(), FilesPath(d + "/t")).body;
    EXPECT_TRUE(body == "from a" || body == "from b") << body;

    const std::string x = d + "/x", y = d + "/y";
    for (const auto& dir : {x, y}) ASSERT_EQ(Client(Url())->Post("/api/v1/dirs/" + dir, "", "application/json")->status, 201);
    ASSERT_EQ(PutString(Url(), FilesPath(x + "/in-x"), "x").status, 201);
    int status_x = 0, status_y = 0;
    std::thread tx([&] { status_x = rename(x, y + "/x"); });
    std::thread ty([&] { status_y = rename(y, x + "/y"); });
    tx.join();
    ty.join();
    EXPECT_EQ((status_x == 200) + (status_y == 200), 1) << status_x << " " << status_y;
    const bool x_won = status_x == 200;
    EXPECT_EQ(names(d), (std::set<std::string>{"t", x_won ? "y" : "x"}));
    const std::string in_x = x_won ? y + "/x/in-x" : x + "/in-x";
    EXPECT_EQ(Get(Url(), FilesPath(in_x)).body, "x") << "the file under the moved folders is where the winner put it";
  }
}

TEST_F(MasterClusterTest, OverwriteAndFailModes) {
  ASSERT_EQ(PutString(Url(), FilesPath("f.txt"), "v1").status, 201);
  auto fail = PutString(Url(), FilesPath("f.txt") + "?conflict=fail", "v2");
  EXPECT_EQ(fail.status, 409);
  EXPECT_EQ(fail.json()["error"], "already_exists");
  EXPECT_EQ(Get(Url(), FilesPath("f.txt")).body, "v1");
  auto over = PutString(Url(), FilesPath("f.txt") + "?conflict=overwrite", "v3");
  ASSERT_EQ(over.status, 201);
  EXPECT_FALSE(over.json()["renamed"].get<bool>());
  EXPECT_EQ(over.json()["version"], 2);
  EXPECT_EQ(Get(Url(), FilesPath("f.txt")).body, "v3");
  EXPECT_EQ(Get(Url(), "/api/v1/files?prefix=f").json()["files"].size(), 1u);
  // The old blob is removed from disk in the background.
  for (int i = 0; i < 100 && BlobsOnAllDisks(*cluster_) != 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(BlobsOnAllDisks(*cluster_), 1);
  EXPECT_EQ(PutString(Url(), FilesPath("f.txt") + "?conflict=sometimes", "x").status, 400);
}

TEST_F(MasterClusterTest, SixteenConcurrentClientsTwentyFilesEach) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int c = 0; c < 16; ++c) {
    threads.emplace_back([&, c] {
      for (int i = 0; i < 20; ++i) {
        std::string name = "c" + std::to_string(c) + "/f" + std::to_string(i);
        std::string data = name + std::string(1000 + i * 100, static_cast<char>('a' + c));
        auto put = PutString(Url(), FilesPath(name), data, {{kMd5Header, Md5::Of(data)}});
        if (put.status != 201) {
          ++failures;
          ADD_FAILURE() << name << ": HTTP " << put.status << " " << put.body;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures, 0);
  auto list = Get(Url(), "/api/v1/files").json()["files"];
  EXPECT_EQ(list.size(), 320u);
  for (int c = 0; c < 16; ++c) {
    for (int i = 0; i < 20; ++i) {
      std::string name = "c" + std::to_string(c) + "/f" + std::to_string(i);
      auto get = Get(Url(), FilesPath(name));
      ASSERT_EQ(get.status, 200);
      EXPECT_EQ(get.body, name + std::string(1000 + i * 100, static_cast<char>('a' + c)));
    }
  }
}

TEST_F(MasterClusterTest, KilledNodeDoesNotFailPuts) {
  cluster_->KillNode(0);  // the master still believes it is up for a moment
  for (int i = 0; i < 30; ++i) {
    auto put = PutString(Url(), FilesPath("k/" + std::to_string(i)), "data" + std::to_string(i));
    ASSERT_EQ(put.status, 201) << put.body;
    EXPECT_NE(put.json()["node"], cluster_->node_id(0));
  }
  EXPECT_EQ(BlobsOnDisk(cluster_->node_dir(0)), 0);
}

TEST_F(MasterClusterTest, WrongMd5IsRejectedAndNothingKept) {
  auto put = PutString(Url(), FilesPath("bad.bin"), "payload", {{kMd5Header, Md5::Of("other")}});
  EXPECT_EQ(put.status, 422);
  EXPECT_EQ(put.json()["error"], "checksum_mismatch");
  EXPECT_EQ(Get(Url(), FilesPath("bad.bin")).status, 404);
  EXPECT_EQ(Get(Url(), "/api/v1/files").json()["files"].size(), 0u);
  EXPECT_EQ(BlobsOnAllDisks(*cluster_), 0);
  EXPECT_EQ(PutString(Url(), FilesPath("bad.bin"), "x", {{kMd5Header, "not-hex"}}).status, 400);
}

// The standard Content-MD5 (base64) is checked end to end like X-Dfs-Md5.
TEST_F(MasterClusterTest, ContentMd5IsCheckedLikeXDfsMd5) {
  auto wrong = PutString(Url(), FilesPath("c.bin"), "payload", {{kContentMd5Header, ContentMd5Of("other")}});
  EXPECT_EQ(wrong.status, 422) << wrong.body;
  EXPECT_EQ(wrong.json()["error"], "checksum_mismatch");
  EXPECT_EQ(Get(Url(), FilesPath("c.bin")).status, 404);
  auto malformed = PutString(Url(), FilesPath("c.bin"), "payload", {{kContentMd5Header, "bm90IGFuIG1kNQ=="}});
  EXPECT_EQ(malformed.status, 400) << malformed.body;
  EXPECT_EQ(malformed.json()["error"], "bad_request");
  EXPECT_EQ(Get(Url(), "/api/v1/files").json()["files"].size(), 0u);
  EXPECT_EQ(BlobsOnAllDisks(*cluster_), 0);
  auto right = PutString(Url(), FilesPath("c.bin"), "payload", {{kContentMd5Header, ContentMd5Of("payload")}});
  EXPECT_EQ(right.status, 201) << right.body;
  EXPECT_EQ(right.json()["md5"], Md5::Of("payload"));
  EXPECT_EQ(Get(Url(), FilesPath("c.bin")).body, "payload");
}

TEST_F(MasterClusterTest, BadNamesAre400WithJson) {
  std::string long_name(10 * 1024, 'n');
  for (const std::string& path :
       {std::string("/api/v1/files/..%2Fx"), std::string("/api/v1/files/a/../b"), std::string("/api/v1/files/a%00b"),
        std::string("/api/v1/files/a%0Ab"), std::string("/api/v1/files/a%01b"), std::string("/api/v1/files//lead"),
        std::string("/api/v1/files/a//b"), std::string("/api/v1/files/trail/"), std::string("/api/v1/files/%FF"),
        std::string("/api/v1/files/") + long_name, std::string("/api/v1/files/")}) {
    auto put = PutString(Url(), path, "x");
    // A name too long for a request line is refused by the HTTP layer (414).
    if (path.size() > 8000) {
      EXPECT_TRUE(put.status == 400 || put.status == 414) << put.status;
    } else {
      EXPECT_EQ(put.status, 400) << path.substr(0, 60);
    }
    EXPECT_TRUE(put.json().contains("error")) << put.body;
    EXPECT_TRUE(put.json().contains("message")) << put.body;
  }
  EXPECT_EQ(Get(Url(), "/api/v1/files").json()["files"].size(), 0u);
  EXPECT_EQ(BlobsOnAllDisks(*cluster_), 0);
  EXPECT_EQ(Get(Url(), "/healthz").status, 200) << "still serving";
}

TEST_F(MasterClusterTest, UnknownFileIs404) {
  auto get = Get(Url(), FilesPath("missing"));
  EXPECT_EQ(get.status, 404);
  EXPECT_EQ(get.json()["error"], "not_found");
  EXPECT_EQ(Head(Url(), FilesPath("missing")).status, 404);
  EXPECT_EQ(Delete(Url(), FilesPath("missing")).status, 404);
}

TEST_F(MasterClusterTest, RangeHeadAndDelete) {
  std::string data(100000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i % 251);
  ASSERT_EQ(PutString(Url(), FilesPath("r.bin"), data).status, 201);
  auto part = Get(Url(), FilesPath("r.bin"), {{"Range", "bytes=1000-1999"}});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, data.substr(1000, 1000));
  auto tail = Get(Url(), FilesPath("r.bin"), {{"Range", "bytes=-10"}});
  EXPECT_EQ(tail.body, data.substr(data.size() - 10));
  EXPECT_EQ(Get(Url(), FilesPath("r.bin"), {{"Range", "bytes=200000-"}}).status, 416);
  auto head = Head(Url(), FilesPath("r.bin"));
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Length"), "100000");
  EXPECT_EQ(head.header(kMd5Header), Md5::Of(data));
  EXPECT_EQ(BlobsOnAllDisks(*cluster_), 1);
  EXPECT_EQ(Delete(Url(), FilesPath("r.bin")).status, 204);
  EXPECT_EQ(Get(Url(), FilesPath("r.bin")).status, 404) << "metadata is gone at once";
  for (int i = 0; i < 100 && BlobsOnAllDisks(*cluster_) > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(BlobsOnAllDisks(*cluster_), 0) << "and the blob follows";
}

TEST_F(MasterClusterTest, NodesListShowsStateAndSpace) {
  auto nodes = Get(Url(), "/api/v1/nodes").json()["nodes"];
  ASSERT_EQ(nodes.size(), 3u);
  for (const auto& n : nodes) {
    EXPECT_EQ(n["state"], "up");
    EXPECT_GT(n["capacity"].get<uint64_t>(), 0u);
    EXPECT_GT(n["free"].get<uint64_t>(), 0u);
  }
  // Single copies, so the ones placed on node 1 can only be read from it.
  std::string dead = cluster_->node_id(1);
  std::vector<std::string> on_dead;
  for (int i = 0; i < 30; ++i) {
    std::string name = "single" + std::to_string(i);
    auto put = PutString(Url(), FilesPath(name) + "?replicas=0", name);
    ASSERT_EQ(put.status, 201) << put.body;
    if (put.json()["node"] == dead) on_dead.push_back(name);
  }
  ASSERT_FALSE(on_dead.empty()) << "30 random placements, none on node 1";
  cluster_->KillNode(1);
  bool down = false;
  for (int i = 0; i < 100 && !down; ++i) {
    auto listed = Get(Url(), "/api/v1/nodes").json();
    for (const auto& n : listed["nodes"]) {
      if (n["node_id"] == dead && n["state"] == "down") down = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(down) << "a silent node is marked down";
  auto unreachable = Get(Url(), FilesPath(on_dead[0]));
  EXPECT_EQ(unreachable.status, 503) << "its only copy is unreachable: a clean error, not a cut answer";
  EXPECT_EQ(unreachable.json().value("error", ""), "unavailable") << unreachable.body;
  cluster_->StartNode(1);
  ASSERT_TRUE(cluster_->WaitNodesUp(3));
  auto after = Get(Url(), "/api/v1/nodes").json()["nodes"];
  EXPECT_EQ(after.size(), 3u) << "it came back under the same id, not as a new node";
  for (const auto& n : after) {
    if (n["node_id"] == dead) {
      EXPECT_EQ(n["state"], "up");
    }
  }
  for (const auto& name : on_dead) {
    auto got = Get(Url(), FilesPath(name));
    EXPECT_EQ(got.status, 200) << name;
    EXPECT_EQ(got.body, name) << "its blobs were kept";
  }
}

// The original Python client builds its upload with requests:
//   requests.post(url + "/upload", files={"input_file": f}, data={"file_hash": md5})
// which sends the data fields first, then the file part.
TEST_F(MasterClusterTest, SeedCompatibleUploadAndDownload) {
  std::string content = "seed file contents\n";
  std::string md5 = Md5::Of(content);
  auto upload = [&](const std::string& filename, const std::string& hash) {
    std::string boundary = "3f1b9c0e5d2a4b6c8e0f1a3b5c7d9e1f";
    std::string body = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file_hash\"\r\n\r\n" + hash +
                       "\r\n--" + boundary + "\r\nContent-Disposition: form-data; name=\"input_file\"; filename=\"" +
                       filename + "\"\r\n\r\n" + content + "\r\n--" + boundary + "--\r\n";
    auto cli = Client(Url());
    auto res = cli->Post("/upload", body, "multipart/form-data; boundary=" + boundary);
    HttpAnswer a;
    if (res) {
      a.status = res->status;
      a.body = res->body;
    }
    return a;
  };
  auto first = upload("notes.txt", md5);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.json()["name"], "notes.txt");
  EXPECT_TRUE(first.json().contains("message"));
  auto second = upload("notes.txt", md5);
  ASSERT_EQ(second.status, 200);
  std::string renamed = second.json()["name"];
  EXPECT_NE(renamed, "notes.txt");
  EXPECT_NE(second.json()["message"].get<std::string>().find(renamed), std::string::npos);

  auto down = Get(Url(), "/download?filename=notes.txt");
  EXPECT_EQ(down.status, 200);
  EXPECT_EQ(down.body, content);
  EXPECT_EQ(down.header("file_hash"), md5);
  EXPECT_EQ(Get(Url(), "/download?filename=" + EncodeQueryValue(renamed)).body, content);

  auto wrong = upload("w.txt", Md5::Of("nope"));
  EXPECT_EQ(wrong.status, 422);
  EXPECT_TRUE(wrong.json().contains("message"));
  EXPECT_EQ(upload("../etc/passwd", md5).status, 400);
  EXPECT_EQ(Get(Url(), "/download?filename=missing").status, 404);
  EXPECT_TRUE(Get(Url(), "/download?filename=missing").json().contains("message"));
}

// What the original system's client.py does, with Python's requests (Debian's
// python3-requests): upload, check for 200, download, compare file_hash.
constexpr const char* kSeedClient = R"py(
import hashlib, sys, requests
url, path = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
md5 = hashlib.md5(data).hexdigest()
with open(path, "rb") as f:
    r = requests.post(url + "/upload", files={"input_file": f}, data={"file_hash": md5})
if r.status_code != 200:
    sys.exit("upload: %d %s" % (r.status_code, r.text))
print(r.json()["message"])
name = r.json()["name"]
r = requests.get(url + "/download", params={"filename": name})
if r.status_code != 200 or hashlib.md5(r.content).hexdigest() != r.headers["file_hash"] or r.content != data:
    sys.exit("download: %d, file_hash %s" % (r.status_code, r.headers.get("file_hash")))
r = requests.post(url + "/upload", files={"input_file": ("x.bin", b"abc")}, data={"file_hash": "0" * 32})
if r.status_code == 200 or "message" not in r.json():
    sys.exit("a wrong hash was taken: %d %s" % (r.status_code, r.text))
print("ok", name)
)py";

TEST_F(MasterClusterTest, SeedClientWithPythonRequestsWorksUnchanged) {
  if (RunCommand("/usr/bin/python3 -c 'import requests' 2>/dev/null") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 has no requests module (scripts/install-deps.sh installs python3-requests)";
  }
  TempDir tmp;
  WriteFile(tmp.path() + "/client.py", kSeedClient);
  WriteRandomFile(tmp.path() + "/photo one.jpg", 3 << 20, 11);
  std::string out;
  std::string cmd = "/usr/bin/python3 " + tmp.path() + "/client.py " + Url() + " '" + tmp.path() + "/photo one.jpg' 2>&1";
  ASSERT_EQ(RunCommand(cmd, &out), 0) << out;
  EXPECT_NE(out.find("ok photo one.jpg"), std::string::npos) << out;
  ASSERT_EQ(RunCommand(cmd, &out), 0) << out;  // same name again: renamed, still fine
  EXPECT_NE(out.find("ok photo one_"), std::string::npos) << out;
}

// One node with room and one tiny node that registered once with stale,
// generous free space: every PUT placed on the tiny node gets 507 there and
// must land on the other node.
// Open files over HTTP, as the mount uses them: a file deleted while a
// handle is open stays readable and writable through it; its content goes
// (every copy, from every node) when the handle is closed, or when its
// client stops renewing it and the lease lapses.
// A file is a list of chunks (--chunk-size), each placed at random on its
// own: a file three times larger than any node's room stores and reads
// back, whole and by ranges across chunk edges; a corrupt chunk fails only
// reads that touch it, and its copy is marked bad.
TEST(MasterChunksTest, AFileLargerThanAnyNodeSpreadsOverNodesInChunks) {
  ClusterOptions options;
  options.nodes = 4;
  options.replicas = 0;
  options.node_capacity = uint64_t{1} << 20;  // 1 MiB each
  options.master_args = {"--chunk-size", "65536"};
  TestCluster cluster(options);
  const std::string url = cluster.master_url();
  TempDir tmp;
  const size_t size = (size_t{3} << 20) + 12345;  // three times a node, and a partial last chunk
  const std::string md5 = WriteRandomFile(tmp.path() + "/src", size, 7);
  auto put = PutFile(url, FilesPath("big.bin"), tmp.path() + "/src", {{kMd5Header, md5}});
  ASSERT_EQ(put.status, 201) << put.body;
  EXPECT_EQ(put.json()["md5"], md5) << "the whole file's md5";
  auto meta = Get(url, "/api/v1/meta/big.bin").json();
  ASSERT_TRUE(meta["chunks"].is_array()) << meta.dump();
  EXPECT_EQ(meta["chunks"].size(), (size + 65535) / 65536);
  std::set<std::string> nodes;
  uint64_t offset = 0;
  for (const auto& c : meta["chunks"]) {
    EXPECT_EQ(c["offset"].get<uint64_t>(), offset);
    offset += c["size"].get<uint64_t>();
    nodes.insert(c["primary"]["node_id"].get<std::string>());
  }
  EXPECT_EQ(offset, size);
  EXPECT_GE(nodes.size(), 3u) << "no node could hold it alone";
  std::string got_md5;
  auto get = GetToFile(url, FilesPath("big.bin"), tmp.path() + "/dst", &got_md5);
  ASSERT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(got_md5, md5);
  EXPECT_EQ(get.header(kMd5Header), md5);
  // A range across a chunk edge (and one inside the last, partial chunk).
  std::string whole = ReadFile(tmp.path() + "/src");
  for (auto [from, to] : {std::pair<size_t, size_t>{65530, 65545}, {size - 100, size - 1}, {0, 0}}) {
    auto part = Get(url, FilesPath("big.bin"), {{"Range", "bytes=" + std::to_string(from) + "-" + std::to_string(to)}});
    ASSERT_EQ(part.status, 206) << from;
    EXPECT_EQ(part.body, whole.substr(from, to - from + 1)) << from << "-" << to;
  }
  // Corrupt one chunk's blob on its node: reads of it fail, others do not.
  const auto& second = meta["chunks"][1];
  const std::string blob = second["blob_id"], holder = second["primary"]["node_id"];
  bool corrupted = false;
  for (int i = 0; i < cluster.node_count() && !corrupted; ++i) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(cluster.node_dir(i) + "/blobs")) {
      if (e.path().filename() == blob) {
        std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(100);
        f.put('\x5a' ^ whole[65536 + 100]);
        corrupted = true;
        break;
      }
    }
  }
  ASSERT_TRUE(corrupted);
  auto first = Get(url, FilesPath("big.bin"), {{"Range", "bytes=0-65535"}});
  EXPECT_EQ(first.status, 206);
  EXPECT_EQ(first.body, whole.substr(0, 65536)) << "the first chunk is untouched";
  auto broken = GetToFile(url, FilesPath("big.bin"), tmp.path() + "/dst2", &got_md5);
  EXPECT_NE(got_md5, md5) << "a whole read never delivers a corrupt file";
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto m = Get(url, "/api/v1/meta/big.bin").json();
        return m["chunks"][1]["replicas"][0].value("state", "") == "bad";
      },
      std::chrono::milliseconds(5000)))
      << "the corrupt copy on " << holder << " is known bad";
}

// Retry by error code, per chunk: chunks that land on a dead node (the
// master still believes it up) go to another node; a refused upload (a
// wrong md5) leaves no chunk on any node.
TEST(MasterChunksTest, EachChunkIsRetriedElsewhereAndARefusedUploadLeavesNoChunk) {
  ClusterOptions options;
  options.nodes = 3;
  options.replicas = 0;
  options.master_args = {"--chunk-size", "65536"};
  TestCluster cluster(options);
  const std::string url = cluster.master_url();
  TempDir tmp;
  const std::string md5 = WriteRandomFile(tmp.path() + "/src", 40 * 65536 + 1, 5);
  cluster.KillNode(0);
  auto put = PutFile(url, FilesPath("f"), tmp.path() + "/src", {{kMd5Header, md5}});
  ASSERT_EQ(put.status, 201) << put.body;
  const nlohmann::json meta = Get(url, "/api/v1/meta/f").json();
  ASSERT_EQ(meta["chunks"].size(), 41u);
  for (const auto& c : meta["chunks"]) EXPECT_NE(c["primary"]["node_id"], cluster.node_id(0));
  std::string got;
  ASSERT_EQ(GetToFile(url, FilesPath("f"), tmp.path() + "/dst", &got).status, 200);
  EXPECT_EQ(got, md5);
  const int before = BlobsOnAllDisks(cluster);
  auto wrong = PutFile(url, FilesPath("g"), tmp.path() + "/src", {{kMd5Header, std::string(32, '0')}});
  EXPECT_EQ(wrong.status, 422) << wrong.body;
  EXPECT_EQ(Get(url, "/api/v1/meta/g").status, 404);
  EXPECT_EQ(BlobsOnAllDisks(cluster), before) << "the refused upload's chunks were removed";
}

// Chunks are stored two at a time: when the nodes fill up in the middle of
// a PUT, the client gets 507 and every chunk the upload stored, including
// one still being stored beside the one that failed, is removed.
TEST(MasterChunksTest, AnUploadThatRunsOutOfRoomMidwayLeavesNoChunk) {
  ClusterOptions options;
  options.nodes = 2;
  options.replicas = 0;
  options.node_capacity = 30 * 65536;
  options.master_args = {"--chunk-size", "65536"};
  TestCluster cluster(options);
  const std::string url = cluster.master_url();
  TempDir tmp;
  const std::string md5 = WriteRandomFile(tmp.path() + "/src", 100 * 65536, 6);
  auto put = PutFile(url, FilesPath("big"), tmp.path() + "/src", {{kMd5Header, md5}});
  EXPECT_EQ(put.status, 507) << put.body;
  EXPECT_EQ(Get(url, "/api/v1/meta/big").status, 404);
  EXPECT_EQ(BlobsOnAllDisks(cluster), 0) << "the failed upload's chunks were removed";
  // The room is there again for a file that fits.
  const std::string small = WriteRandomFile(tmp.path() + "/small", 10 * 65536, 7);
  EXPECT_EQ(PutFile(url, FilesPath("small"), tmp.path() + "/small", {{kMd5Header, small}}).status, 201);
}

// PUT ?offset=N writes a range: only the chunk it lands in is rebuilt and
// stored again; the whole-file md5 is pending until the master settles it
// (at once for a read, else in the background).
TEST(MasterChunksTest, RangeWritesReplaceOnlyTheChunkTheyLandIn) {
  ClusterOptions options;
  options.nodes = 3;
  options.replicas = 0;
  options.master_args = {"--chunk-size", "65536", "--compact-after-ms", "3600000"};  // no merging here
  TestCluster cluster(options);
  const std::string url = cluster.master_url();
  TempDir tmp;
  WriteRandomFile(tmp.path() + "/src", 200000, 11);
  std::string local = ReadFile(tmp.path() + "/src");
  ASSERT_EQ(PutFile(url, FilesPath("f"), tmp.path() + "/src").status, 201);
  auto blobs = [&] {
    std::vector<std::string> out;
    const nlohmann::json meta = Get(url, "/api/v1/meta/f").json();
    for (const auto& c : meta["chunks"]) out.push_back(c["blob_id"]);
    return out;
  };
  const auto before = blobs();
  ASSERT_EQ(before.size(), 4u) << Get(url, "/api/v1/meta/f").body;
  auto write = [&](uint64_t offset, const std::string& data) {
    auto cli = Client(url);
    auto res = cli->Put(FilesPath("f") + "?offset=" + std::to_string(offset), data, "application/octet-stream");
    return res ? res->status : 0;
  };
  ASSERT_EQ(write(70000, std::string(1000, 'x')), 200);
  local.replace(70000, 1000, std::string(1000, 'x'));
  auto after = blobs();
  ASSERT_EQ(after.size(), 4u);
  EXPECT_EQ(after[0], before[0]);
  EXPECT_NE(after[1], before[1]) << "the chunk written to is new";
  EXPECT_EQ(after[2], before[2]);
  EXPECT_EQ(after[3], before[3]);
  EXPECT_TRUE(WaitUntil([&] { return Get(url, "/api/v1/meta/f").json().value("md5", "") == Md5::Of(local); },
                        std::chrono::milliseconds(10000)))
      << "the background settles the whole-file md5";
  // An append is a new chunk of its own bytes; the answer of a read carries the new md5 at once.
  ASSERT_EQ(write(200000, "tail"), 200);
  local += "tail";
  auto get = Get(url, FilesPath("f"));
  ASSERT_EQ(get.status, 200);
  EXPECT_EQ(get.body, local);
  EXPECT_EQ(get.header(kMd5Header), Md5::Of(local));
  const auto appended = blobs();
  ASSERT_EQ(appended.size(), 5u);
  EXPECT_EQ(std::vector<std::string>(appended.begin(), appended.begin() + 4), after) << "no chunk rebuilt";
  EXPECT_EQ(Get(url, "/api/v1/meta/f").json()["chunks"][4]["size"], 4);
  EXPECT_EQ(Get(url, "/api/v1/meta/f").json()["version"], 3);
  // What a range write may not do.
  EXPECT_EQ(write(65000, std::string(1000, 'y')), 400) << "across a chunk's end";
  EXPECT_EQ(write(local.size() + 1, "z"), 400) << "past the end";
  EXPECT_EQ(Get(url, FilesPath("f")).body, local) << "refused writes change nothing";
  // An empty file's one empty chunk takes the first bytes.
  ASSERT_EQ(PutString(url, FilesPath("e"), "").status, 201);
  auto cli = Client(url);
  auto res = cli->Put(FilesPath("e") + "?offset=0", "abc", "application/octet-stream");
  ASSERT_TRUE(res && res->status == 200) << (res ? res->body : "");
  EXPECT_EQ(Get(url, FilesPath("e")).body, "abc");
  EXPECT_EQ(Get(url, FilesPath("e")).header(kMd5Header), Md5::Of("abc"));
}

// A Range GET of a file whose md5 is pending is answered at once, without
// the whole-file md5 (its bytes are checked against their chunks'); a whole
// GET settles it first and carries it.
TEST(MasterChunksTest, ARangeGetDoesNotWaitForAPendingMd5) {
  ClusterOptions options;
  options.nodes = 2;
  options.replicas = 0;
  options.master_args = {"--chunk-size", "65536", "--settle-after-ms", "3600000"};  // nothing in the background
  TestCluster cluster(options);
  const std::string url = cluster.master_url();
  TempDir tmp;
  WriteRandomFile(tmp.path() + "/src", 200000, 14);
  std::string local = ReadFile(tmp.path() + "/src");
  ASSERT_EQ(PutFile(url, FilesPath("f"), tmp.path() + "/src").status, 201);
  auto cli = Client(url);
  auto res = cli->Put(FilesPath("f") + "?offset=100", std::string(50, 'w'), "application/octet-stream");
  ASSERT_TRUE(res && res->status == 200) << (res ? res->body : "");
  local.replace(100, 50, std::string(50, 'w'));
  auto part = Get(url, FilesPath("f"), {{"Range", "bytes=90-199"}});
  ASSERT_EQ(part.status, 206);
  EXPECT_EQ(part.body, local.substr(90, 110));
  EXPECT_EQ(part.header(kMd5Header), "") << "no whole-file md5 yet";
  EXPECT_EQ(part.header("ETag").rfind("W/\"", 0), 0u) << part.header("ETag");
  EXPECT_EQ(Get(url, "/api/v1/meta/f").json()["md5"], "") << "the Range GET did not settle it";
  auto whole = Get(url, FilesPath("f"));
  ASSERT_EQ(whole.status, 200);
  EXPECT_TRUE(whole.body == local);
  EXPECT_EQ(whole.header(kMd5Header), Md5::Of(local)) << "a whole GET settles it first";
  EXPECT_EQ(Get(url, FilesPath("f"), {{"Range", "bytes=0-9"}}).header(kMd5Header), Md5::Of(local));
}

// Appends leave one small chunk each; once the file is quiet
// (--compact-after-ms) the master merges runs that fit in one chunk, with
// their copies, and deletes the old blobs: the bytes, md5 and version stay.
TEST(MasterChunksTest, AppendedChunksAreMergedOnceTheFileIsQuiet) {
  ClusterOptions options;
  options.nodes = 3;
  options.replicas = 1;
  options.redis = options.replicator = true;
  options.master_args = {"--chunk-size", "65536", "--compact-after-ms", "300"};
  TestCluster cluster(options);
  const std::string url = cluster.master_url();
  TempDir tmp;
  WriteRandomFile(tmp.path() + "/src", 100000, 12);
  std::string local = ReadFile(tmp.path() + "/src");
  ASSERT_EQ(PutFile(url, FilesPath("log"), tmp.path() + "/src").status, 201);
  auto cli = Client(url);
  const int appends = 30;
  for (int i = 0; i < appends; ++i) {
    const std::string data(1000, static_cast<char>('a' + i % 26));
    auto res = cli->Put(FilesPath("log") + "?offset=" + std::to_string(local.size()), data,
                        "application/octet-stream");
    ASSERT_TRUE(res && res->status == 200) << i << ": " << (res ? res->body : "no answer");
    local += data;
  }
  const int64_t version = Get(url, "/api/v1/meta/log").json()["version"];
  EXPECT_EQ(version, 1 + appends);
  // 65536 + 34464 + 30 x 1000 = two chunks, the second 64464 bytes.
  ASSERT_TRUE(WaitUntil([&] { return Get(url, "/api/v1/meta/log").json()["chunks"].size() == 2; },
                        std::chrono::milliseconds(30000)))
      << Get(url, "/api/v1/meta/log").body;
  const nlohmann::json meta = Get(url, "/api/v1/meta/log").json();
  EXPECT_EQ(meta["chunks"][1]["offset"], 65536);
  EXPECT_EQ(meta["chunks"][1]["size"], 64464);
  EXPECT_EQ(meta["chunks"][1]["md5"], Md5::Of(local.substr(65536)));
  EXPECT_EQ(meta["version"], version) << "the same bytes";
  auto get = Get(url, FilesPath("log"));
  ASSERT_EQ(get.status, 200);
  EXPECT_TRUE(get.body == local);
  EXPECT_EQ(get.header(kMd5Header), Md5::Of(local));
  EXPECT_TRUE(WaitUntil([&] { return BlobsOnAllDisks(cluster) == 4; }, std::chrono::milliseconds(30000)))
      << "two chunks, two copies each; the appended chunks' blobs are gone: " << BlobsOnAllDisks(cluster);
  EXPECT_TRUE(WaitUntil([&] { return Get(url, "/api/v1/meta/log").json().value("fully_replicated", false); },
                        std::chrono::milliseconds(30000)));
}

// POST /api/v1/truncate/<path>?size=N cuts a file on the master: the chunks
// past N go, the one N lands in keeps its first bytes; never lengthens.
TEST(MasterChunksTest, ATruncateCutsTheChunksPastTheNewEnd) {
  ClusterOptions options;
  options.nodes = 3;
  options.replicas = 0;
  options.master_args = {"--chunk-size", "65536"};
  TestCluster cluster(options);
  const std::string url = cluster.master_url();
  TempDir tmp;
  WriteRandomFile(tmp.path() + "/src", 300000, 13);
  std::string local = ReadFile(tmp.path() + "/src");
  ASSERT_EQ(PutFile(url, FilesPath("f"), tmp.path() + "/src").status, 201);
  ASSERT_EQ(BlobsOnAllDisks(cluster), 5);
  auto truncate = [&](const std::string& size) {
    auto cli = Client(url);
    auto res = cli->Post("/api/v1/truncate/f?size=" + size, "", "application/json");
    return res ? res->status : 0;
  };
  auto meta = [&] { return Get(url, "/api/v1/meta/f").json(); };
  const std::string chunk0 = meta()["chunks"][0]["blob_id"];
  ASSERT_EQ(truncate("100000"), 200);  // inside chunk 1
  local.resize(100000);
  EXPECT_EQ(meta()["chunks"].size(), 2u);
  EXPECT_EQ(meta()["chunks"][0]["blob_id"], chunk0) << "the chunk before the cut is untouched";
  EXPECT_EQ(meta()["chunks"][1]["size"], 100000 - 65536);
  EXPECT_EQ(meta()["version"], 2);
  auto get = Get(url, FilesPath("f"));
  ASSERT_EQ(get.status, 200);
  EXPECT_TRUE(get.body == local);
  EXPECT_EQ(get.header(kMd5Header), Md5::Of(local));
  EXPECT_TRUE(WaitUntil([&] { return BlobsOnAllDisks(cluster) == 2; }, std::chrono::milliseconds(10000)))
      << "the cut and dropped chunks' blobs are deleted: " << BlobsOnAllDisks(cluster);
  ASSERT_EQ(truncate("65536"), 200);  // at a chunk edge: nothing rebuilt
  EXPECT_EQ(meta()["chunks"].size(), 1u);
  EXPECT_EQ(meta()["chunks"][0]["blob_id"], chunk0);
  EXPECT_EQ(truncate("65537"), 400) << "a truncate never lengthens";
  EXPECT_EQ(truncate("x"), 400);
  EXPECT_EQ(Get(url, "/api/v1/truncate/f?size=1").status, 404) << "POST only";
  EXPECT_EQ(truncate("65536"), 200) << "to its size: nothing changes";
  EXPECT_EQ(meta()["version"], 3);
  ASSERT_EQ(truncate("0"), 200);
  EXPECT_EQ(Get(url, FilesPath("f")).body, "");
  EXPECT_EQ(Get(url, FilesPath("f")).header(kMd5Header), Md5::Of(""));
  EXPECT_EQ(meta()["chunks"].size(), 1u) << "an empty file is one empty chunk";
  auto cli = Client(url);
  auto missing = cli->Post("/api/v1/truncate/nope?size=0", "", "application/json");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST(MasterHandlesTest, AnOpenFileOutlivesItsNameUntilClosedOrLapsed) {
  ClusterOptions options;
  options.nodes = 2;
  options.replicas = 0;
  options.master_args = {"--handle-lease-ms", "1000"};
  TestCluster cluster(options);
  const std::string url = cluster.master_url();
  auto open = [&](const std::string& name) {
    auto cli = Client(url);
    auto res = cli->Post("/api/v1/open/" + EncodePathForUrl(name), "", "application/json");
    EXPECT_TRUE(res && res->status == 201) << (res ? res->body : "no answer");
    auto j = nlohmann::json::parse(res ? res->body : "", nullptr, false);
    return j.is_object() ? j.value("handle", "") : "";
  };
  for (const char* name : {"kept", "lapsed"}) ASSERT_EQ(PutString(url, FilesPath(name), "first").status, 201);
  ASSERT_EQ(BlobsOnAllDisks(cluster), 2);
  const std::string kept = open("kept"), lapsed = open("lapsed");
  ASSERT_EQ(kept.size(), 32u);
  EXPECT_EQ(Client(url)->Post("/api/v1/open/nothing", "", "application/json")->status, 404);
  ASSERT_EQ(Delete(url, FilesPath("kept")).status, 204);
  ASSERT_EQ(Delete(url, FilesPath("lapsed")).status, 204);
  EXPECT_EQ(Get(url, FilesPath("kept")).status, 404) << "the name is gone";
  EXPECT_EQ(Get(url, FilesPath("kept") + "?handle=" + kept).body, "first") << "the content is not";
  auto fstat = Get(url, "/api/v1/handles/" + kept);
  ASSERT_EQ(fstat.status, 200) << fstat.body;
  EXPECT_EQ(fstat.json().value("nlink", -1), 0);
  ASSERT_EQ(PutString(url, FilesPath("kept") + "?handle=" + kept, "second").status, 201) << "written through";
  EXPECT_EQ(Get(url, FilesPath("kept") + "?handle=" + kept).body, "second");
  EXPECT_EQ(Get(url, FilesPath("kept")).status, 404) << "a write through the handle names nothing";
  EXPECT_EQ(Get(url, FilesPath("x") + "?handle=zz").status, 400);
  // Renewing one handle while the other lapses.
  const auto start = std::chrono::steady_clock::now();
  auto lapsed_gone = [&] {
    auto cli = Client(url);
    auto res = cli->Post("/api/v1/handles/renew", nlohmann::json{{"handles", {kept}}}.dump(), "application/json");
    EXPECT_TRUE(res && res->status == 200);
    return Get(url, "/api/v1/handles/" + lapsed).status == 404;
  };
  ASSERT_TRUE(WaitUntil(lapsed_gone, std::chrono::milliseconds(10000)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500)) << "not before its lease";
  EXPECT_EQ(Get(url, "/api/v1/handles/" + kept).status, 200) << "a renewed handle lives on";
  EXPECT_TRUE(WaitUntil([&] { return BlobsOnAllDisks(cluster) == 1; }, std::chrono::milliseconds(10000)))
      << "the lapsed file's copy goes from the node; the open one's stays";
  ASSERT_EQ(Delete(url, "/api/v1/handles/" + kept).status, 204);
  EXPECT_EQ(Delete(url, "/api/v1/handles/" + kept).status, 404);
  EXPECT_TRUE(WaitUntil([&] { return BlobsOnAllDisks(cluster) == 0; }, std::chrono::milliseconds(10000)))
      << "closing the last handle removes the content";
}

TEST(MasterPlacementTest, FullNodeSends507AndFileGoesElsewhere) {
  ClusterOptions options;
  options.nodes = 1;
  TestCluster cluster(options);
  cluster.AddNode({"--capacity", "1048576", "--heartbeat-ms", "600000"});
  ASSERT_TRUE(cluster.WaitNodesUp(2));
  std::string data(700 * 1024, 'z');
  for (int i = 0; i < 12; ++i) {
    auto put = PutString(cluster.master_url(), FilesPath("big" + std::to_string(i)), data);
    ASSERT_EQ(put.status, 201) << put.body;
  }
  EXPECT_LE(BlobsOnDisk(cluster.node_dir(1)), 1) << "the tiny node holds at most one";
  EXPECT_GE(BlobsOnDisk(cluster.node_dir(0)), 11);
  std::string log = ReadFile(cluster.node_dir(1) + ".log");
  EXPECT_NE(log.find("no_space"), std::string::npos) << "the tiny node refused at least once";
}

TEST(MasterPlacementTest, NoRoomAnywhereIs507AndNoNodesIs503) {
  ClusterOptions options;
  options.nodes = 1;
  options.node_capacity = 1024;
  TestCluster cluster(options);
  auto put = PutString(cluster.master_url(), FilesPath("huge"), std::string(4096, 'h'));
  EXPECT_EQ(put.status, 507) << put.body;
  EXPECT_EQ(put.json()["error"], "no_space");
  cluster.KillNode(0);
  // Once the master notices, there is no node to place on at all.
  int status = 0;
  for (int i = 0; i < 100 && status != 503; ++i) {
    status = PutString(cluster.master_url(), FilesPath("small"), "s").status;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(status, 503);
}

}  // namespace
}  // namespace dfs::testing
