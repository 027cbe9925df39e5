// ReplicationQueue against a real redis-server.
#include <algorithm>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "replicator/byte_pipe.h"
#include "replicator/replication_job.h"
#include "replicator/replication_queue.h"
#include "replicator/replicator_service.h"
#include "tests/replicator/redis_server.h"

namespace dfs::replication {
namespace {

using dfs::testing::RedisServer;

std::string Job(int i) {
  ReplicationJob job;
  job.job_id = "job" + std::to_string(i);
  char blob[33];
  snprintf(blob, sizeof(blob), "%032x", i);
  job.blob_id = blob;
  job.md5 = "d41d8cd98f00b204e9800998ecf8427e";
  job.size = static_cast<uint64_t>(i);
  job.want_copies = 3;
  return job.ToJson();
}

TEST(ReplicationJobTest, RoundTripsAndRejectsMalformed) {
  auto job = ReplicationJob::Parse(Job(7));
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(job->job_id, "job7");
  EXPECT_EQ(job->size, 7u);
  EXPECT_EQ(job->want_copies, 3);
  ReplicationJob named = *job;
  named.source_node_id = "n1";
  named.source_url = "http://127.0.0.1:9";
  auto again = ReplicationJob::Parse(named.ToJson());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->source_node_id, "n1");
  EXPECT_EQ(again->source_url, "http://127.0.0.1:9");
  EXPECT_EQ(job->source_url, "") << "no source unless the master names one";
  for (const char* bad : {"", "not json", "[]", "{}",
                          R"({"blob_id":"00000000000000000000000000000001","md5":"d41d8cd98f00b204e9800998ecf8427e","size":1,"want_copies":3,"source":"n1"})",
                          R"({"blob_id":"00000000000000000000000000000001","md5":"d41d8cd98f00b204e9800998ecf8427e","size":1,"want_copies":3,"source":{"node_id":1}})", R"({"blob_id":"zz","md5":"d41d8cd98f00b204e9800998ecf8427e","size":1,"want_copies":3})",
                          R"({"blob_id":"00000000000000000000000000000001","md5":"nope","size":1,"want_copies":3})",
                          R"({"blob_id":"00000000000000000000000000000001","md5":"d41d8cd98f00b204e9800998ecf8427e","size":-1,"want_copies":3})",
                          R"({"blob_id":"00000000000000000000000000000001","md5":"d41d8cd98f00b204e9800998ecf8427e","size":1,"want_copies":0})",
                          R"({"blob_id":"00000000000000000000000000000001","md5":"d41d8cd98f00b204e9800998ecf8427e","size":1})"}) {
    EXPECT_FALSE(ReplicationJob::Parse(bad).ok()) << bad;
  }
}

TEST(ReplicationQueueTest, ParsesAddresses) {
  auto a = ParseRedisAddress("10.0.0.1:6380");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "10.0.0.1");
  EXPECT_EQ(a->port, 6380);
  EXPECT_EQ(ParseRedisAddress("redis://h")->port, 6379);
  EXPECT_FALSE(ParseRedisAddress("h:0").ok());
  EXPECT_FALSE(ParseRedisAddress(":6379").ok());
  EXPECT_FALSE(ParseRedisAddress("h:abc").ok());
}

TEST(ReplicationQueueTest, PublishReadAck) {
  RedisServer redis;
  ReplicationQueue queue(redis.redis_address());
  ASSERT_TRUE(queue.EnsureGroup().ok());
  ASSERT_TRUE(queue.EnsureGroup().ok());  // BUSYGROUP is fine
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(queue.Publish(Job(i)).ok());
  auto stats = queue.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->length, 3);
  EXPECT_EQ(stats->pending, 0);
  auto entries = queue.Read("c1", 10, 100);
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[1].payload, Job(1));
  EXPECT_EQ(queue.Stats()->pending, 3);
  for (const auto& e : *entries) ASSERT_TRUE(queue.Ack(e.id).ok());
  stats = queue.Stats();
  EXPECT_EQ(stats->length, 0);
  EXPECT_EQ(stats->pending, 0);
  // Nothing more: a blocking read times out empty.
  auto none = queue.Read("c1", 10, 50);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(ReplicationQueueTest, JobsPublishedBeforeTheGroupExistsAreDelivered) {
  RedisServer redis;
  ReplicationQueue publisher(redis.redis_address());
  ASSERT_TRUE(publisher.Publish(Job(1)).ok());  // no group yet
  ReplicationQueue consumer(redis.redis_address());
  auto entries = consumer.Read("c1", 10, 100);
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ(entries->size(), 1u);
}

TEST(ReplicationQueueTest, UnackedJobsOfADeadConsumerAreClaimed) {
  RedisServer redis;
  ReplicationQueue queue(redis.redis_address());
  ASSERT_TRUE(queue.Publish(Job(1)).ok());
  ASSERT_TRUE(queue.Publish(Job(2)).ok());
  std::string taken_id;
  {
    // A consumer takes both jobs and dies (its connection goes away) without acking.
    ReplicationQueue dying(redis.redis_address());
    auto got = dying.Read("dying", 10, 100);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 2u);
    ASSERT_TRUE(dying.Ack((*got)[0].id).ok());  // finished the first one
    taken_id = (*got)[1].id;
  }
  // New reads do not see it again...
  auto fresh = queue.Read("other", 10, 50);
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(fresh->empty());
  // ... not while it is young ...
  auto young = queue.ClaimStale("other", 60000, 10);
  ASSERT_TRUE(young.ok());
  EXPECT_TRUE(young->empty());
  // ... but once idle long enough another consumer claims it.
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  auto claimed = queue.ClaimStale("other", 100, 10);
  ASSERT_TRUE(claimed.ok()) << claimed.status().ToString();
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ((*claimed)[0].id, taken_id);
  EXPECT_EQ((*claimed)[0].payload, Job(2));
  // Touch keeps it from being claimed again right away.
  ASSERT_TRUE(queue.Touch("other", taken_id).ok());
  auto again = queue.ClaimStale("third", 60000, 10);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
  ASSERT_TRUE(queue.Ack(taken_id).ok());
  EXPECT_EQ(queue.Stats()->pending, 0);
}

TEST(ReplicationQueueTest, TwoConsumersNeverGetTheSameJob) {
  RedisServer redis;
  ReplicationQueue publisher(redis.redis_address());
  ASSERT_TRUE(publisher.EnsureGroup().ok());
  constexpr int kJobs = 300;
  std::vector<std::string> seen[2];
  std::atomic<int> total{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < 2; ++c) {
    threads.emplace_back([&, c] {
      ReplicationQueue q(redis.redis_address());
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (total.load() < kJobs && std::chrono::steady_clock::now() < deadline) {
        auto got = q.Read("consumer" + std::to_string(c), 5, 50);
        if (!got.ok()) continue;
        for (const auto& e : *got) {
          seen[c].push_back(e.payload);
          q.Ack(e.id);
          ++total;
        }
      }
    });
  }
  for (int i = 0; i < kJobs; ++i) ASSERT_TRUE(publisher.Publish(Job(i)).ok());
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (auto& s : seen) all.insert(s.begin(), s.end());
  EXPECT_EQ(seen[0].size() + seen[1].size(), static_cast<size_t>(kJobs));  // nobody got a job twice
  EXPECT_EQ(all.size(), static_cast<size_t>(kJobs));                       // and every job was delivered
}

TEST(ReplicationQueueTest, DeadLettersArePagedInOrder) {
  RedisServer redis;
  ReplicationQueue queue(redis.redis_address());
  constexpr int kJobs = 25;
  for (int i = 0; i < kJobs; ++i) ASSERT_TRUE(queue.Publish(Job(i)).ok());
  auto got = queue.Read("c", kJobs, 100);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), static_cast<size_t>(kJobs));
  for (const auto& e : *got) ASSERT_TRUE(queue.DeadLetter(e, "no target").ok());
  std::vector<std::string> payloads;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    auto dead = queue.ListDead(10, after);
    ASSERT_TRUE(dead.ok()) << dead.status().ToString();
    for (const auto& d : *dead) payloads.push_back(d.payload);
    if (dead->size() < 10) break;
    after = dead->back().id;
  }
  ASSERT_EQ(payloads.size(), static_cast<size_t>(kJobs)) << "every entry once, none twice";
  for (int i = 0; i < kJobs; ++i) EXPECT_EQ(payloads[i], Job(i));
}

TEST(ReplicationQueueTest, DeadLetterListAndRequeue) {
  RedisServer redis;
  ReplicationQueue queue(redis.redis_address());
  ASSERT_TRUE(queue.Publish(Job(5)).ok());
  auto got = queue.Read("c", 1, 100);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  ASSERT_TRUE(queue.DeadLetter((*got)[0], "no target").ok());
  auto stats = queue.Stats();
  EXPECT_EQ(stats->length, 0);
  EXPECT_EQ(stats->pending, 0);
  EXPECT_EQ(stats->dead, 1);
  auto dead = queue.ListDead();
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].reason, "no target");
  EXPECT_EQ((*dead)[0].payload, Job(5));
  EXPECT_EQ((*dead)[0].original_id, (*got)[0].id);

  EXPECT_EQ(queue.Requeue("1-1").status().code(), Code::kNotFound);
  EXPECT_EQ(queue.Requeue("garbage").status().code(), Code::kInvalidArgument);
  auto new_id = queue.Requeue((*dead)[0].id);
  ASSERT_TRUE(new_id.ok()) << new_id.status().ToString();
  EXPECT_EQ(queue.Stats()->dead, 0);
  auto again = queue.Read("c", 1, 100);
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].payload, Job(5));
  EXPECT_EQ((*again)[0].id, *new_id);
}

TEST(ReplicationQueueTest, ReconnectsAfterRedisRestarts) {
  RedisServer redis;
  ReplicationQueue queue(redis.redis_address());
  ASSERT_TRUE(queue.Publish(Job(1)).ok());
  redis.Stop();
  EXPECT_EQ(queue.Publish(Job(2)).status().code(), Code::kUnavailable);
  EXPECT_EQ(queue.Read("c", 1, 50).status().code(), Code::kUnavailable);
  EXPECT_FALSE(queue.Stats().ok());
  redis.Start();  // same port, same data (appendonly)
  ASSERT_TRUE(queue.Publish(Job(3)).ok());
  auto got = queue.Read("c", 10, 100);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].payload, Job(1));
  EXPECT_EQ((*got)[1].payload, Job(3));
}

TEST(ReplicationQueueTest, RecreatesTheGroupWhenRedisLostItsData) {
  RedisServer redis(/*persistent=*/false);
  ReplicationQueue queue(redis.redis_address());
  ASSERT_TRUE(queue.EnsureGroup().ok());
  redis.Stop();
  redis.Start();  // empty: no stream, no group
  ReplicationQueue publisher(redis.redis_address());
  ASSERT_TRUE(publisher.Publish(Job(9)).ok());
  std::vector<StreamEntry> entries;
  for (int i = 0; i < 5 && entries.empty(); ++i) {
    auto got = queue.Read("c", 10, 100);
    if (got.ok()) entries = *got;
  }
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].payload, Job(9));
}

TEST(ReplicatorServiceTest, MalformedJobsGoToTheDeadLettersWithoutACrash) {
  RedisServer redis;
  ReplicationQueue queue(redis.redis_address());
  ASSERT_TRUE(queue.Publish("this is not json").ok());
  ASSERT_TRUE(queue.Publish(R"({"blob_id":"../etc/passwd","md5":"x","size":1,"want_copies":3})").ok());
  ReplicatorOptions options;
  options.redis = redis.redis_address();
  options.masters = *MasterSet::Parse("http://127.0.0.1:1");  // never reached for malformed jobs
  options.workers = 2;
  options.block_ms = 100;
  ReplicatorService service(options);
  service.Start();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline && queue.Stats()->dead < 2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  service.Stop();
  auto dead = queue.ListDead();
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 2u);
  for (const auto& d : *dead) EXPECT_NE(d.reason.find("malformed job"), std::string::npos) << d.reason;
  auto stats = queue.Stats();
  EXPECT_EQ(stats->length, 0);
  EXPECT_EQ(stats->pending, 0);
}

TEST(ReplicatorCliTest, DeadListAndRequeue) {
  RedisServer redis;
  ReplicationQueue queue(redis.redis_address());
  ASSERT_TRUE(queue.Publish(Job(3)).ok());
  auto got = queue.Read("c", 1, 100);
  ASSERT_TRUE(got.ok() && got->size() == 1);
  ASSERT_TRUE(queue.DeadLetter((*got)[0], "copy failed").ok());
  const std::string bin = dfs::testing::BinaryPath("dfs-replicator") + " --redis " + redis.address();
  std::string out;
  ASSERT_EQ(dfs::testing::RunCommand(bin + " dead list", &out), 0) << out;
  EXPECT_NE(out.find("copy failed"), std::string::npos) << out;
  ASSERT_EQ(dfs::testing::RunCommand(bin + " status", &out), 0) << out;
  EXPECT_NE(out.find("\"dead\":1"), std::string::npos) << out;
  EXPECT_NE(dfs::testing::RunCommand(bin + " dead requeue 1-1 2>&1", &out), 0);
  auto dead = queue.ListDead();
  ASSERT_EQ(dead->size(), 1u);
  ASSERT_EQ(dfs::testing::RunCommand(bin + " dead requeue " + (*dead)[0].id, &out), 0) << out;
  EXPECT_EQ(queue.Stats()->dead, 0);
  EXPECT_EQ(queue.Stats()->length, 1);
  EXPECT_NE(dfs::testing::RunCommand(bin + " --redis 127.0.0.1:1 status 2>&1", &out), 0);
}

TEST(BytePipeTest, CarriesBytesInOrderAndReportsEitherSideGivingUp) {
  BytePipe pipe(1000);
  std::string sent, received;
  for (int i = 0; i < 100000; ++i) sent.push_back(static_cast<char>(i * 7));
  std::thread writer([&] {
    for (size_t off = 0; off < sent.size(); off += 777) pipe.Write(sent.data() + off, std::min<size_t>(777, sent.size() - off));
    pipe.CloseWrite(true);
  });
  char buf[313];
  long n;
  while ((n = pipe.Read(buf, sizeof(buf))) > 0) received.append(buf, static_cast<size_t>(n));
  writer.join();
  EXPECT_EQ(n, 0);
  EXPECT_EQ(received, sent);

  BytePipe failed(10);
  failed.Write("abc", 3);
  failed.CloseWrite(false);
  EXPECT_EQ(failed.Read(buf, sizeof(buf)), 3);
  EXPECT_EQ(failed.Read(buf, sizeof(buf)), -1);

  BytePipe abandoned(10);
  std::thread blocked([&] { EXPECT_FALSE(abandoned.Write(sent.data(), 1000)); });
  abandoned.Read(buf, 5);
  abandoned.CloseRead();
  blocked.join();
}

}  // namespace
}  // namespace dfs::replication
