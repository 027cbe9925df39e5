// MasterSet: parsing the list, and the failover round against real HTTP
// servers on 127.0.0.1 (a probe answering a fixed status and counting
// requests, a port nobody listens on, a proxy that loses the answer).
#include "common/master_set.h"

#include <gtest/gtest.h>

#include "tests/support/lossy_proxy.h"
#include "tests/support/probe_server.h"
#include "tests/support/process.h"

namespace dfs {
namespace {

using testing::FreePort;

using Probe = testing::ProbeServer;

std::string DeadUrl() { return "http://127.0.0.1:" + std::to_string(FreePort()); }

MasterAttempt Get(const Endpoint& master) {
  return AttemptFrom(MakeClient(master, {std::chrono::milliseconds(1000), std::chrono::milliseconds(3000),
                                         std::chrono::milliseconds(3000)})->Get("/x"));
}
MasterAttempt Post(const Endpoint& master) {
  return AttemptFrom(MakeClient(master)->Post("/x", "{}", "application/json"));
}

TEST(MasterSetTest, ParsesOneOrManyUrls) {
  auto one = MasterSet::Parse("127.0.0.1:8820");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ((*one)->size(), 1u);
  EXPECT_EQ((*one)->ToString(), "http://127.0.0.1:8820");
  auto many = MasterSet::Parse("http://127.0.0.1:1, 127.0.0.1:2 ,,https://127.0.0.1:3/");
  ASSERT_TRUE(many.ok());
  EXPECT_EQ((*many)->ToString(), "http://127.0.0.1:1,http://127.0.0.1:2,https://127.0.0.1:3");
  EXPECT_FALSE(MasterSet::Parse("").ok());
  EXPECT_FALSE(MasterSet::Parse(" , ").ok());
  EXPECT_FALSE(MasterSet::Parse("127.0.0.1:1,ftp://h:2").ok());
}

TEST(MasterSetTest, ADeadMasterCostsOneRetryAndTheLiveOneStaysCurrent) {
  Probe live(200);
  auto masters = *MasterSet::Parse(DeadUrl() + "," + live.url());
  MasterAttempt a = masters->Call(Resend::kUnsafe, Get);
  EXPECT_TRUE(a.status.ok()) << a.status.ToString();
  EXPECT_EQ(masters->current().port, live.port());
  // Sticky: the next request goes straight to the live master.
  int tried = 0;
  masters->Call(Resend::kSafe, [&](const Endpoint& m) { ++tried; return Get(m); });
  EXPECT_EQ(tried, 1);
  EXPECT_EQ(live.hits(), 2);
}

TEST(MasterSetTest, A503GoesToTheNextMasterA4xxOrA500DoesNot) {
  Probe busy(503), refusing(404), failing(500), live(200);
  auto masters = *MasterSet::Parse(busy.url() + "," + live.url());
  EXPECT_TRUE(masters->Call(Resend::kUnsafe, Post).status.ok());
  EXPECT_EQ(busy.hits(), 1);
  EXPECT_EQ(live.hits(), 1);

  auto not_found = *MasterSet::Parse(refusing.url() + "," + live.url());
  MasterAttempt a = not_found->Call(Resend::kSafe, Get);
  EXPECT_EQ(a.status.code(), Code::kNotFound);
  auto broken = *MasterSet::Parse(failing.url() + "," + live.url());
  EXPECT_EQ(broken->Call(Resend::kSafe, Get).status.http_status(), 500);
  EXPECT_EQ(live.hits(), 1) << "answers are final: never sent on to another master";
}

TEST(MasterSetTest, ALostAnswerIsResentOnlyWhenThatIsSafe) {
  Probe live(200);
  testing::LossyProxy lossy(live.port(), /*lose=*/2);
  const std::string list = "http://127.0.0.1:" + std::to_string(lossy.port()) + "," + live.url();
  auto unsafe = *MasterSet::Parse(list);
  MasterAttempt a = unsafe->Call(Resend::kUnsafe, Post);
  EXPECT_EQ(a.reach, Reach::kMaybeDone);
  EXPECT_EQ(a.status.code(), Code::kUnavailable);
  EXPECT_NE(a.status.message().find("not sent again"), std::string::npos) << a.status.message();
  EXPECT_EQ(live.hits(), 1) << "the request reached the server once, through the proxy";

  auto safe = *MasterSet::Parse(list);
  EXPECT_TRUE(safe->Call(Resend::kSafe, Post).status.ok());
  EXPECT_EQ(live.hits(), 3) << "once through the proxy (answer lost), once to the next master";
}

TEST(MasterSetTest, EveryMasterDeadIsUnavailableNamingTheLastOne) {
  const std::string second = DeadUrl();
  auto masters = *MasterSet::Parse(DeadUrl() + "," + second);
  MasterAttempt a = masters->Call(Resend::kSafe, Get);
  EXPECT_EQ(a.reach, Reach::kNotSent);
  EXPECT_EQ(a.status.code(), Code::kUnavailable);
  EXPECT_NE(a.status.message().find(second), std::string::npos) << a.status.message();
}

}  // namespace
}  // namespace dfs
