#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "cli/commands.h"
#include "cli/format.h"
#include "common/client/dfs_client.h"
#include "tests/support/process.h"

namespace dfs {
namespace {

TEST(ClientPutTimeoutsTest, TheAnswerWaitGrowsWithTheSize) {
  ClientTimeouts base{std::chrono::milliseconds(3000), std::chrono::milliseconds(10000),
                      std::chrono::milliseconds(10000)};
  EXPECT_EQ(PutTimeouts(base, 0).read, std::chrono::milliseconds(10000));
  // 1 GiB at 50 MiB/s: 20.48 s more to wait for the answer; connect and write stay.
  ClientTimeouts big = PutTimeouts(base, uint64_t{1} << 30);
  EXPECT_EQ(big.read, std::chrono::milliseconds(10000 + 20480));
  EXPECT_EQ(big.connect, base.connect);
  EXPECT_EQ(big.write, base.write);
}

TEST(FormatTest, HumanBytes) {
  EXPECT_EQ(cli::HumanBytes(0), "0 B");
  EXPECT_EQ(cli::HumanBytes(1023), "1023 B");
  EXPECT_EQ(cli::HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(cli::HumanBytes(uint64_t{3} << 30), "3.0 GiB");
}

TEST(ExitCodeTest, MapsStatuses) {
  EXPECT_EQ(cli::ExitCodeFor(Status::OK()), 0);
  EXPECT_EQ(cli::ExitCodeFor(Status::NotFound("")), 3);
  EXPECT_EQ(cli::ExitCodeFor(Status::ChecksumMismatch("")), 4);
  EXPECT_EQ(cli::ExitCodeFor(Status::Unavailable("")), 5);
  EXPECT_EQ(cli::ExitCodeFor(Status::AlreadyExists("")), 6);
  EXPECT_EQ(cli::ExitCodeFor(Status::InvalidArgument("")), 1);
  EXPECT_EQ(cli::ExitCodeFor(Status::AccessDenied("")), 7);
  EXPECT_EQ(cli::ExitCodeFor(Status::NotPermitted("")), 7);
}

TEST(ExitCodeTest, RefusalsOfTheCallerNameIt) {
  const Credentials who{1000, 1000, {27, 100}};
  EXPECT_EQ(cli::DeniedNote(Status::AccessDenied("permission denied"), who), " (as uid 1000, gid 1000, groups 27,100)");
  EXPECT_EQ(cli::DeniedNote(Status::NotPermitted("operation not permitted"), Credentials{5, 6, {}}),
            " (as uid 5, gid 6)");
  // A token refusal is not about the caller's uid.
  EXPECT_EQ(cli::DeniedNote(Status::PermissionDenied("read-only token"), who), "");
  EXPECT_EQ(cli::DeniedNote(Status::NotFound("x"), who), "");
}

TEST(RetryPolicyTest, RetriesTransientErrorsOnly) {
  EXPECT_TRUE(ShouldRetry(Status::Unavailable("")));
  EXPECT_TRUE(ShouldRetry(Status::IOError("")));
  EXPECT_FALSE(ShouldRetry(Status::NoSpace("")));
  EXPECT_FALSE(ShouldRetry(Status::InvalidArgument("")));
  EXPECT_FALSE(ShouldRetry(Status::NotFound("")));
}

// A real HTTP server playing a master that is overloaded twice, then fine;
// and one that refuses the request (4xx), which must not be retried.
class FlakyMaster {
 public:
  explicit FlakyMaster(int failures, int fail_status) {
    server_.Get("/api/v1/nodes", [this, failures, fail_status](const httplib::Request&, httplib::Response& res) {
      if (calls_++ < failures) {
        res.status = fail_status;
        res.set_content(R"({"error":"x","message":"try later"})", "application/json");
        return;
      }
      res.set_content(R"({"nodes":[{"node_id":"n1","url":"http://127.0.0.1:1","state":"up"}]})", "application/json");
    });
    port_ = testing::FreePort();
    server_.bind_to_port("127.0.0.1", port_);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FlakyMaster() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int calls() const { return calls_; }

 private:
  httplib::Server server_;
  std::atomic<int> calls_{0};
  int port_;
  std::thread thread_;
};

ClientOptions Fast(const std::string& url) {
  ClientOptions o;
  o.master_url = url;
  o.base_backoff = std::chrono::milliseconds(10);
  o.max_attempts = 4;
  return o;
}

TEST(RetryPolicyTest, ServiceUnavailableIsRetriedWithBackoff) {
  FlakyMaster master(2, 503);
  DfsClient client(Fast(master.url()));
  auto nodes = client.Nodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status().ToString();
  EXPECT_EQ(master.calls(), 3);
  EXPECT_EQ((*nodes)[0].node_id, "n1");
}

TEST(RetryPolicyTest, ClientErrorsAreNotRetried) {
  FlakyMaster master(100, 400);
  DfsClient client(Fast(master.url()));
  EXPECT_EQ(client.Nodes().status().code(), Code::kInvalidArgument);
  EXPECT_EQ(master.calls(), 1);
}

TEST(RetryPolicyTest, AttemptsAreBounded) {
  FlakyMaster master(100, 503);
  DfsClient client(Fast(master.url()));
  EXPECT_EQ(client.Nodes().status().code(), Code::kUnavailable);
  EXPECT_EQ(master.calls(), 4);
}

TEST(RetryPolicyTest, DeadMasterIsUnavailable) {
  DfsClient client(Fast("http://127.0.0.1:" + std::to_string(testing::FreePort())));
  EXPECT_EQ(client.Nodes().status().code(), Code::kUnavailable);
}

}  // namespace
}  // namespace dfs
