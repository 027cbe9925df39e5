// ClientPool (common/client_pool.h) against an in-process server that tells
// each request the client port it came from: a kept lease's connection
// serves the next request, one not kept does not, idle connections are
// bounded per endpoint and dropped once older than max_idle.
#include "common/client_pool.h"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/guarded_server.h"
#include "tests/support/process.h"

namespace dfs {
namespace {

using std::chrono::milliseconds;

class ClientPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Get("/port", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(std::to_string(req.remote_port), "text/plain");
    });
    for (int tries = 0; tries < 20 && port_ == 0; ++tries) {
      int port = testing::FreePort();
      if (BindServer(server_, "127.0.0.1", port)) port_ = port;
    }
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  void TearDown() override {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The client port the request came from ("" on failure); keeps the lease when asked.
  std::string PortSeen(ClientPool& pool, bool keep) {
    auto lease = pool.Acquire(Url());
    if (!lease.ok()) return "";
    auto res = (*lease)->Get("/port");
    if (!res || res->status != 200) return "";
    if (keep) lease->Keep();
    return res->body;
  }

  GuardedServer server_;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(ClientPoolTest, AKeptConnectionServesTheNextRequest) {
  ClientPool pool(ClientTimeouts{});
  const std::string first = PortSeen(pool, /*keep=*/true);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(pool.idle(), 1u);
  EXPECT_EQ(PortSeen(pool, /*keep=*/false), first) << "reused";
  EXPECT_EQ(pool.idle(), 0u) << "not kept: dropped";
  EXPECT_NE(PortSeen(pool, /*keep=*/true), first) << "a new connection";
}

TEST_F(ClientPoolTest, IdleConnectionsAreBoundedAndExpire) {
  ClientPool pool(ClientTimeouts{}, ClientPool::Limits{3, milliseconds(60000)});
  {
    std::vector<ClientPool::Lease> leases;
    for (int i = 0; i < 5; ++i) {
      auto lease = pool.Acquire(Url());
      ASSERT_TRUE(lease.ok());
      ASSERT_TRUE((*lease)->Get("/port"));
      lease->Keep();
      leases.push_back(std::move(*lease));
    }
  }
  EXPECT_EQ(pool.idle(), 3u);
  EXPECT_FALSE(pool.Acquire("not a url:x").ok());

  ClientPool expiring(ClientTimeouts{}, ClientPool::Limits{3, milliseconds(0)});
  const std::string first = PortSeen(expiring, /*keep=*/true);
  ASSERT_FALSE(first.empty());
  EXPECT_NE(PortSeen(expiring, /*keep=*/true), first) << "older than max_idle: not reused";
}

}  // namespace
}  // namespace dfs
