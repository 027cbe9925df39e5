// dfs-storage as a real process, over HTTP.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/crc32.h"
#include "common/http_util.h"
#include "common/md5.h"
#include "tests/support/http_helpers.h"
#include "tests/support/process.h"
#include "tests/support/storage_node.h"

namespace dfs::testing {
namespace {

const std::string kId = "00112233445566778899aabbccddeeff";

// A blob PUT with its md5 (nodes refuse a PUT without X-Dfs-Md5).
HttpAnswer PutBlob(const std::string& url, const std::string& path, const std::string& data) {
  return PutString(url, path, data, {{kMd5Header, Md5::Of(data)}});
}

class StorageServerTest : public ::testing::Test {
 protected:
  TempDir tmp_;
  StorageNode node_{tmp_.path() + "/node"};
  std::string Url() { return node_.url(); }
};

TEST_F(StorageServerTest, RoundTripsZeroOneAndTenMiB) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{10} << 20}) {
    std::string id = Md5::Of(std::to_string(size));  // any 32 hex digits
    std::string src = tmp_.path() + "/src";
    std::string md5 = WriteRandomFile(src, size, 3);
    auto put = PutFile(Url(), "/blobs/" + id, src, {{kMd5Header, md5}});
    ASSERT_EQ(put.status, 201) << put.body;
    EXPECT_EQ(put.json()["md5"], md5);
    std::string got;
    auto get = GetToFile(Url(), "/blobs/" + id, tmp_.path() + "/dst", &got);
    ASSERT_EQ(get.status, 200);
    EXPECT_EQ(got, md5);
    EXPECT_EQ(get.header(kMd5Header), md5);
    EXPECT_FALSE(get.header(kNodeHeader).empty());
  }
}

TEST_F(StorageServerTest, RangesHeadDeleteAndStats) {
  std::string data = "0123456789abcdefghij";
  ASSERT_EQ(PutBlob(Url(), "/blobs/" + kId, data).status, 201);
  auto r = Get(Url(), "/blobs/" + kId, {{"Range", "bytes=5-9"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "56789");
  EXPECT_EQ(Get(Url(), "/blobs/" + kId, {{"Range", "bytes=15-"}}).body, "fghij");
  EXPECT_EQ(Get(Url(), "/blobs/" + kId, {{"Range", "bytes=20-"}}).status, 416);
  auto head = Head(Url(), "/blobs/" + kId);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header(kMd5Header), Md5::Of(data));
  auto stats = Get(Url(), "/stats").json();
  EXPECT_EQ(stats["used"], data.size());
  EXPECT_EQ(stats["blobs"], 1);
  EXPECT_GT(stats["free"].get<uint64_t>(), 0u);
  EXPECT_EQ(Get(Url(), "/blobs").json()["blobs"].size(), 1u);
  EXPECT_EQ(Delete(Url(), "/blobs/" + kId).status, 204);
  EXPECT_EQ(Get(Url(), "/blobs/" + kId).status, 404);
  EXPECT_EQ(Delete(Url(), "/blobs/" + kId).status, 404);
  EXPECT_EQ(Get(Url(), "/stats").json()["used"], 0);
}

TEST_F(StorageServerTest, ChecksumAndBadInput) {
  auto mismatch = PutString(Url(), "/blobs/" + kId, "data", {{kMd5Header, Md5::Of("other")}});
  EXPECT_EQ(mismatch.status, 422);
  EXPECT_EQ(mismatch.json()["error"], "checksum_mismatch");
  EXPECT_EQ(Get(Url(), "/blobs/" + kId).status, 404) << "nothing kept";
  EXPECT_EQ(PutString(Url(), "/blobs/" + kId, "data", {{kMd5Header, "xyz"}}).status, 400);
  for (const std::string& id : {std::string("..%2F..%2Fetc"), std::string("ABCDEF0123456789ABCDEF0123456789"),
                                std::string("short"), std::string("..")}) {
    auto put = PutBlob(Url(), "/blobs/" + id, "x");
    EXPECT_TRUE(put.status == 400 || put.status == 404) << id << " " << put.status;
    EXPECT_TRUE(put.json().contains("error")) << put.body;
  }
  EXPECT_EQ(Get(Url(), "/blobs").json()["blobs"].size(), 0u);
}

// The master sends a chunk with only its CRC-32 (X-Dfs-Crc32): the node
// checks it, hashes the md5 itself and answers it; a wrong CRC keeps nothing.
TEST_F(StorageServerTest, ACrc32AloneIsCheckedAndTheNodeAnswersTheMd5) {
  std::string data(3 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 1000);
  auto wrong = PutString(Url(), "/blobs/" + kId, data, {{kCrc32Header, Crc32::ToHex(Crc32::Of(data) ^ 1)}});
  EXPECT_EQ(wrong.status, 422) << wrong.body;
  EXPECT_EQ(wrong.json()["error"], "checksum_mismatch");
  EXPECT_EQ(Get(Url(), "/blobs/" + kId).status, 404) << "nothing kept";
  EXPECT_EQ(PutString(Url(), "/blobs/" + kId, data, {{kCrc32Header, "12345"}}).status, 400);
  EXPECT_EQ(PutString(Url(), "/blobs/" + kId, data, {}).status, 400) << "neither an md5 nor a CRC";
  // Both given: both checked.
  EXPECT_EQ(PutString(Url(), "/blobs/" + kId, data,
                      {{kCrc32Header, Crc32::ToHex(Crc32::Of(data))}, {kMd5Header, Md5::Of("other")}})
                .status,
            422);
  auto right = PutString(Url(), "/blobs/" + kId, data, {{kCrc32Header, Crc32::ToHex(Crc32::Of(data))}});
  ASSERT_EQ(right.status, 201) << right.body;
  EXPECT_EQ(right.json()["md5"], Md5::Of(data));
  auto got = Get(Url(), "/blobs/" + kId);
  EXPECT_EQ(got.header(kMd5Header), Md5::Of(data));
  EXPECT_EQ(Md5::Of(got.body), Md5::Of(data));
}

// Content-MD5 (base64) is checked as X-Dfs-Md5 is, and is enough on its own.
TEST_F(StorageServerTest, ContentMd5IsCheckedLikeXDfsMd5) {
  auto wrong = PutString(Url(), "/blobs/" + kId, "data", {{kContentMd5Header, ContentMd5Of("other")}});
  EXPECT_EQ(wrong.status, 422) << wrong.body;
  EXPECT_EQ(wrong.json()["error"], "checksum_mismatch");
  EXPECT_EQ(Get(Url(), "/blobs/" + kId).status, 404) << "nothing kept";
  for (const std::string& bad : {std::string("garbage"), std::string("not base64 at all!!!!!=="),
                                 ContentMd5Of("data").substr(0, 22), Md5::Of("data")}) {
    auto put = PutString(Url(), "/blobs/" + kId, "data", {{kContentMd5Header, bad}});
    EXPECT_EQ(put.status, 400) << bad << ": " << put.body;
    EXPECT_EQ(put.json()["error"], "bad_request");
  }
  auto disagree = PutString(Url(), "/blobs/" + kId, "data",
                            {{kContentMd5Header, ContentMd5Of("data")}, {kMd5Header, Md5::Of("other")}});
  EXPECT_EQ(disagree.status, 400) << disagree.body;
  EXPECT_EQ(Get(Url(), "/blobs").json()["blobs"].size(), 0u);
  auto right = PutString(Url(), "/blobs/" + kId, "data", {{kContentMd5Header, ContentMd5Of("data")}});
  EXPECT_EQ(right.status, 201) << right.body;
  EXPECT_EQ(right.json()["md5"], Md5::Of("data"));
  EXPECT_EQ(Get(Url(), "/blobs/" + kId).body, "data");
}

TEST_F(StorageServerTest, TruncatedBodyKeepsNothing) {
  // A raw request that promises 1000 bytes, sends 10 and hangs up.
  int port = std::stoi(Url().substr(Url().rfind(':') + 1));
  std::string cmd = "printf 'PUT /blobs/" + kId +
                    " HTTP/1.1\\r\\nHost: x\\r\\nX-Dfs-Md5: " + Md5::Of("x") +
                    "\\r\\nContent-Length: 1000\\r\\n\\r\\n0123456789' | timeout 5 "
                    "bash -c 'cat > /dev/tcp/127.0.0.1/" +
                    std::to_string(port) + "'";
  RunCommand(cmd);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Get(Url(), "/blobs/" + kId).status, 404);
  EXPECT_EQ(Get(Url(), "/stats").json()["blobs"], 0);
}

TEST_F(StorageServerTest, VerifyDetectsCorruptionOnDisk) {
  ASSERT_EQ(PutBlob(Url(), "/blobs/" + kId, "precious bytes").status, 201);
  EXPECT_TRUE(Get(Url(), "/blobs/" + kId + "/verify").json()["ok"].get<bool>());
  std::string path = tmp_.path() + "/node/blobs/00/" + kId;
  std::string bytes = ReadFile(path);
  bytes[0] ^= 0x55;
  WriteFile(path, bytes);
  auto v = Get(Url(), "/blobs/" + kId + "/verify").json();
  EXPECT_FALSE(v["ok"].get<bool>());
  EXPECT_EQ(v["expected"], Md5::Of("precious bytes"));
}

TEST_F(StorageServerTest, ACorruptBlockIsNeverSentAndTheCopyGoesOutOfService) {
  std::string data(3 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31 + i / 4096);
  ASSERT_EQ(PutBlob(Url(), "/blobs/" + kId, data).status, 201);
  const std::string path = tmp_.path() + "/node/blobs/00/" + kId;
  EXPECT_EQ(BlockSumsOf(path).size(), 16u + 3 * 8);
  std::string bytes = ReadFile(path);
  bytes[(1 << 20) + 77] ^= 0x01;  // block 1
  WriteFile(path, bytes);

  // A range inside the good block 0 is served whole.
  auto head = Get(Url(), "/blobs/" + kId, {{"Range", "bytes=100-1000"}});
  ASSERT_EQ(head.status, 206);
  EXPECT_EQ(head.body, data.substr(100, 901));
  // The whole blob: block 0 goes out, then the connection closes before block 1.
  uint64_t received = 0;
  bool wrong = false;
  auto res = Client(Url())->Get("/blobs/" + kId, [&](const char* p, size_t len) {
    wrong = wrong || data.compare(received, len, p, len) != 0;
    received += len;
    return true;
  });
  EXPECT_FALSE(res) << "the answer must be cut, not completed";
  EXPECT_FALSE(wrong) << "no wrong byte left the node";
  EXPECT_EQ(received, 1u << 20);
  // Out of service: 404 from now on, kept in quarantine, counted, logged.
  EXPECT_EQ(Get(Url(), "/blobs/" + kId).status, 404);
  EXPECT_EQ(Get(Url(), "/blobs").json()["blobs"].size(), 0u);
  EXPECT_FALSE(std::filesystem::is_empty(tmp_.path() + "/node/quarantine"));
  EXPECT_NE(Get(Url(), "/metrics").body.find("dfs_read_corrupt_total 1"), std::string::npos);
  EXPECT_NE(ReadFile(tmp_.path() + "/node.log").find("corrupt blob=" + kId), std::string::npos);
  // A repair writes it anew.
  ASSERT_EQ(PutBlob(Url(), "/blobs/" + kId, data).status, 201);
  EXPECT_EQ(Md5::Of(Get(Url(), "/blobs/" + kId).body), Md5::Of(data));
}

TEST_F(StorageServerTest, ABadFirstBlockOrASidecarThatDoesNotFitIsA404BeforeAnyByte) {
  const std::string data(100000, 'q');
  const std::string path = tmp_.path() + "/node/blobs/00/" + kId;
  ASSERT_EQ(PutBlob(Url(), "/blobs/" + kId, data).status, 201);
  WriteFile(path, data.substr(0, 50000));  // cut short on disk
  EXPECT_EQ(Get(Url(), "/blobs/" + kId).status, 404);
  ASSERT_EQ(PutBlob(Url(), "/blobs/" + kId, data).status, 201);
  WriteFile(path, std::string(100000, 'Q'));
  EXPECT_EQ(Get(Url(), "/blobs/" + kId, {{"Range", "bytes=-10"}}).status, 404);
  // Without a sidecar (written before block sums): served as it is.
  ASSERT_EQ(PutBlob(Url(), "/blobs/" + kId, data).status, 201);
  ASSERT_TRUE(RemoveBlockSums(path));
  auto got = Get(Url(), "/blobs/" + kId);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, data);
}

TEST(StorageCapacityTest, OverCapacityIs507AndNothingStored) {
  TempDir tmp;
  StorageNode node(tmp.path() + "/node", {"--capacity", "1000"});
  auto put = PutBlob(node.url(), "/blobs/" + kId, std::string(2000, 'x'));
  EXPECT_EQ(put.status, 507);
  EXPECT_EQ(put.json()["error"], "no_space");
  EXPECT_EQ(Get(node.url(), "/blobs").json()["blobs"].size(), 0u);
  EXPECT_EQ(Get(node.url(), "/stats").json()["capacity"], 1000);
  EXPECT_EQ(PutBlob(node.url(), "/blobs/" + kId, std::string(900, 'x')).status, 201);
}

TEST(StorageRestartTest, KeepsIdentityAndBlobs) {
  TempDir tmp;
  StorageNode node(tmp.path() + "/node");
  ASSERT_EQ(PutBlob(node.url(), "/blobs/" + kId, "kept").status, 201);
  std::string id = Get(node.url(), "/healthz").json()["node_id"];
  node.Stop();
  node.Start();
  EXPECT_EQ(Get(node.url(), "/healthz").json()["node_id"], id);
  EXPECT_EQ(Get(node.url(), "/blobs/" + kId).body, "kept");
}

// A small real HTTP server in the test stands in for the master to check the
// node's own outgoing registration and heartbeats.
TEST(StorageRegistrationTest, RegistersAndHeartbeats) {
  httplib::Server fake_master;
  std::mutex mu;
  std::vector<std::pair<std::string, nlohmann::json>> calls;
  fake_master.Put(R"(/api/v1/nodes/(.+))", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu);
    calls.emplace_back(req.matches[1], nlohmann::json::parse(req.body, nullptr, false));
    res.set_content(R"({"state":"up"})", "application/json");
  });
  int master_port = FreePort();
  ASSERT_TRUE(fake_master.bind_to_port("127.0.0.1", master_port));
  std::thread t([&] { fake_master.listen_after_bind(); });
  TempDir tmp;
  {
    StorageNode node(tmp.path() + "/node", {"--master", "http://127.0.0.1:" + std::to_string(master_port),
                                            "--heartbeat-ms", "100", "--advertise", "http://127.0.0.1:1234"});
    for (int i = 0; i < 50; ++i) {
      {
        std::lock_guard lock(mu);
        if (calls.size() >= 3) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  fake_master.stop();
  t.join();
  std::lock_guard lock(mu);
  ASSERT_GE(calls.size(), 3u) << "registration and heartbeats";
  EXPECT_EQ(calls[0].first, ReadFile(tmp.path() + "/node/node_id").substr(0, 16));
  EXPECT_EQ(calls[0].second["url"], "http://127.0.0.1:1234");
  EXPECT_GT(calls[0].second["capacity"].get<uint64_t>(), 0u);
  EXPECT_TRUE(calls[0].second.contains("free"));
}

TEST(StorageMemoryTest, HalfGiBPutAndGetKeepRssBounded) {
#ifdef DFS_SANITIZED
  GTEST_SKIP() << "RSS bounds are checked in the normal build (ASan keeps freed memory in quarantine)";
#endif
  TempDir tmp;
  StorageNode node(tmp.path() + "/node");
  std::string src = tmp.path() + "/big";
  std::string md5 = WriteRandomFile(src, size_t{512} << 20, 11);
  ASSERT_EQ(PutFile(node.url(), "/blobs/" + kId, src, {{kMd5Header, md5}}).status, 201);
  std::remove(src.c_str());
  std::string got;
  ASSERT_EQ(GetToFile(node.url(), "/blobs/" + kId, tmp.path() + "/out", &got).status, 200);
  EXPECT_EQ(got, md5);
  long kib = PeakRssKiB(node.proc().pid());
  EXPECT_GT(kib, 0);
  EXPECT_LT(kib, 100 * 1024) << "peak RSS " << kib << " KiB";
}

}  // namespace
}  // namespace dfs::testing
