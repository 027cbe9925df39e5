#include "common/status.h"

#include <cerrno>

#include <gtest/gtest.h>

namespace dfs {

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, CodesMapToHttpAndErrno) {
  EXPECT_EQ(Status::NotFound("x").http_status(), 404);
  EXPECT_EQ(Status::NotFound("x").to_errno(), ENOENT);
  EXPECT_EQ(Status::NoSpace("x").http_status(), 507);
  EXPECT_EQ(Status::NoSpace("x").to_errno(), ENOSPC);
  EXPECT_EQ(Status::ChecksumMismatch("x").http_status(), 422);
  EXPECT_EQ(Status::NotEmpty("x").to_errno(), ENOTEMPTY);
  EXPECT_EQ(Status::Unavailable("x").http_status(), 503);
  EXPECT_EQ(Status::InvalidArgument("bad").ToString(), "bad_request: bad");
}

TEST(StatusTest, FromHttpRoundTripsEveryCode) {
  for (Status s : {Status::InvalidArgument("m"), Status::NotFound("m"), Status::AlreadyExists("m"),
                   Status::NotEmpty("m"), Status::IsDirectory("m"), Status::NotDirectory("m"),
                   Status::ChecksumMismatch("m"), Status::TooLarge("m"), Status::NoSpace("m"),
                   Status::Unavailable("m"), Status::IOError("m"), Status::Internal("m")}) {
    Status back = Status::FromHttp(s.http_status(), s.code_name(), "m");
    EXPECT_EQ(back.code(), s.code()) << s.ToString();
  }
}

TEST(StatusTest, FromHttpWithoutCodeUsesStatus) {
  EXPECT_EQ(Status::FromHttp(404, "", "").code(), Code::kNotFound);
  EXPECT_EQ(Status::FromHttp(502, "", "").code(), Code::kUnavailable);
  EXPECT_EQ(Status::FromHttp(500, "weird", "").code(), Code::kIOError);
  EXPECT_EQ(Status::FromHttp(418, "", "").code(), Code::kInvalidArgument);
  EXPECT_TRUE(Status::FromHttp(204, "", "").ok());
}

TEST(ResultTest, HoldsValueOrStatus) {
  Result<int> good = 7;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad = Status::NotFound("nope");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kNotFound);
}

}  // namespace dfs
