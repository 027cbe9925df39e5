#include "common/http_util.h"

#include <gtest/gtest.h>

namespace dfs {

TEST(HttpUtilTest, ParseEndpoint) {
  auto ep = ParseEndpoint("http://127.0.0.1:8820");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->host, "127.0.0.1");
  EXPECT_EQ(ep->port, 8820);
  EXPECT_EQ(ep->ToUrl(), "http://127.0.0.1:8820");
  EXPECT_EQ(ParseEndpoint("localhost:9000/")->port, 9000);
  EXPECT_EQ(ParseEndpoint("http://example")->port, 80);
  EXPECT_FALSE(ParseEndpoint("http://h:0").ok());
  EXPECT_FALSE(ParseEndpoint("http://h:99999").ok());
  EXPECT_FALSE(ParseEndpoint("ftp://h:1").ok());
  EXPECT_FALSE(ParseEndpoint("http://h:1/path").ok());
  EXPECT_FALSE(ParseEndpoint(":80").ok());
}

TEST(HttpUtilTest, ParseListen) {
  EXPECT_EQ(ParseListen("127.0.0.1:8820")->port, 8820);
  EXPECT_FALSE(ParseListen("8820").ok());
  EXPECT_FALSE(ParseListen("127.0.0.1:x").ok());
}

TEST(HttpUtilTest, EncodePath) {
  EXPECT_EQ(EncodePathForUrl("a/b c/%?#.txt"), "a/b%20c/%25%3F%23.txt");
  EXPECT_EQ(EncodePathForUrl("é"), "%C3%A9");
  EXPECT_EQ(EncodeQueryValue("a/b&c"), "a%2Fb%26c");
}

TEST(HttpUtilTest, StatusFromResponseDecodesJsonError) {
  Status s = StatusFromResponse(409, R"({"error":"already_exists","message":"a.txt exists"})");
  EXPECT_EQ(s.code(), Code::kAlreadyExists);
  EXPECT_EQ(s.message(), "a.txt exists");
  EXPECT_EQ(StatusFromResponse(503, "not json").code(), Code::kUnavailable);
  EXPECT_TRUE(StatusFromResponse(201, "").ok());
}

TEST(HttpUtilTest, RetryDecisionFollowsErrorCode) {
  EXPECT_TRUE(IsRetryable(Status::Unavailable("")));
  EXPECT_TRUE(IsRetryable(Status::NoSpace("")));
  EXPECT_TRUE(IsRetryable(Status::IOError("")));
  EXPECT_FALSE(IsRetryable(Status::InvalidArgument("")));
  EXPECT_FALSE(IsRetryable(Status::ChecksumMismatch("")));
  EXPECT_FALSE(IsRetryable(Status::NotFound("")));
  EXPECT_FALSE(IsRetryable(Status::AlreadyExists("")));
}

TEST(HttpUtilTest, RandomHex) {
  EXPECT_EQ(RandomHex(16).size(), 32u);
  EXPECT_NE(RandomHex(16), RandomHex(16));
}

}  // namespace dfs
