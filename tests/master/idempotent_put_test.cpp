// PUT with an Idempotency-Key: a retry whose first answer was lost gets that
// answer instead of storing the file a second time under a new name.
#include <filesystem>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/http_util.h"
#include "common/md5.h"
#include "tests/support/cluster.h"
#include "tests/support/http_helpers.h"
#include "tests/support/lossy_proxy.h"
#include "tests/support/process.h"

namespace dfs::testing {
namespace {

int BlobsOnAllDisks(TestCluster& c) {
  int n = 0;
  for (int i = 0; i < c.node_count(); ++i) {
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(c.node_dir(i) + "/blobs", ec);
         it != std::filesystem::recursive_directory_iterator(); ++it) {
      if (it->is_regular_file() && it->path().extension().empty()) ++n;
    }
  }
  return n;
}

size_t FilesListed(TestCluster& c) { return Get(c.master_url(), "/api/v1/files").json()["files"].size(); }

HttpAnswer PutWithKey(TestCluster& c, const std::string& name, const std::string& data, const std::string& key,
                      const std::string& query = "") {
  return PutString(c.master_url(), "/api/v1/files/" + name + query, data,
                   {{kMd5Header, Md5::Of(data)}, {kIdempotencyKeyHeader, key}});
}

TEST(IdempotentPutTest, ARetryWithTheSameKeyGetsTheFirstAnswer) {
  TestCluster cluster;
  auto first = PutWithKey(cluster, "a.txt", "hello", "key-1");
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(first.json()["name"], "a.txt");
  EXPECT_EQ(first.json()["replayed"], false);

  auto again = PutWithKey(cluster, "a.txt", "hello", "key-1");
  ASSERT_EQ(again.status, 201) << again.body;
  EXPECT_EQ(again.json()["name"], "a.txt") << "not renamed: it is the same upload";
  EXPECT_EQ(again.json()["renamed"], false);
  EXPECT_EQ(again.json()["replayed"], true);
  EXPECT_EQ(again.header(kReplayedHeader), "true");
  EXPECT_EQ(FilesListed(cluster), 1u);
  EXPECT_EQ(BlobsOnAllDisks(cluster), 1);

  // ?conflict=fail on the retry: the name is taken by this very upload.
  auto fail_mode = PutWithKey(cluster, "a.txt", "hello", "key-1", "?conflict=fail");
  EXPECT_EQ(fail_mode.status, 201) << fail_mode.body;

  // Another key (or none) is another upload: renamed as usual.
  auto other = PutWithKey(cluster, "a.txt", "hello", "key-2");
  ASSERT_EQ(other.status, 201);
  EXPECT_NE(other.json()["name"], "a.txt");
  auto replay_renamed = PutWithKey(cluster, "a.txt", "hello", "key-2");
  EXPECT_EQ(replay_renamed.json()["name"], other.json()["name"]);
  EXPECT_EQ(replay_renamed.json()["renamed"], true);
  EXPECT_EQ(FilesListed(cluster), 2u);

  // A key reused for different bytes or another name is a client bug: 400, nothing stored.
  auto different = PutWithKey(cluster, "a.txt", "HELLO", "key-1");
  EXPECT_EQ(different.status, 400) << different.body;
  EXPECT_NE(different.json()["message"].get<std::string>().find("key-1"), std::string::npos);
  EXPECT_EQ(PutWithKey(cluster, "b.txt", "hello", "key-1").status, 400);
  EXPECT_EQ(FilesListed(cluster), 2u);
  EXPECT_EQ(BlobsOnAllDisks(cluster), 2);

  for (const std::string& bad : std::vector<std::string>{"has space", std::string(129, 'k'), "semi;colon"}) {
    EXPECT_EQ(PutWithKey(cluster, "c.txt", "x", bad).status, 400) << bad;
  }
  EXPECT_EQ(FilesListed(cluster), 2u);
}

TEST(IdempotentPutTest, ConcurrentRetriesStoreOneFile) {
  TestCluster cluster;
  const std::string data(200 << 10, 'r');
  std::vector<HttpAnswer> answers(8);
  std::vector<std::thread> threads;
  for (auto& a : answers) threads.emplace_back([&] { a = PutWithKey(cluster, "race.bin", data, "same-key"); });
  for (auto& t : threads) t.join();
  std::set<std::string> names;
  for (const auto& a : answers) {
    ASSERT_EQ(a.status, 201) << a.body;
    names.insert(a.json()["name"].get<std::string>());
  }
  EXPECT_EQ(names, std::set<std::string>{"race.bin"});
  EXPECT_EQ(FilesListed(cluster), 1u);
  // The losers' blobs were written before the race was decided; they are removed.
  EXPECT_EQ(BlobsOnAllDisks(cluster), 1);
}

TEST(IdempotentPutTest, TheCliRetriesALostAnswerWithoutStoringACopy) {
  TestCluster cluster;
  LossyProxy proxy(cluster.master_port(), /*lose=*/1);
  TempDir tmp;
  const std::string src = tmp.path() + "/report.txt";
  const std::string md5 = WriteRandomFile(src, 300 << 10, 7);
  std::string out;
  int rc = RunCommand(BinaryPath("dfs") + " --master http://127.0.0.1:" + std::to_string(proxy.port()) + " put " +
                          src + " report.txt 2>&1",
                      &out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(proxy.answers_lost(), 1) << "the first answer must have been lost";
  EXPECT_GE(proxy.connections(), 2) << "the CLI retried";
  EXPECT_EQ(out.find("already exists"), std::string::npos) << out;
  EXPECT_NE(out.find("report.txt\n"), std::string::npos) << out;
  auto list = Get(cluster.master_url(), "/api/v1/files").json()["files"];
  ASSERT_EQ(list.size(), 1u) << list.dump();
  EXPECT_EQ(list[0]["name"], "report.txt");
  EXPECT_EQ(list[0]["md5"], md5);
}

}  // namespace
}  // namespace dfs::testing
