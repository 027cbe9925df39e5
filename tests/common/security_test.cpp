#include "common/security.h"
#include "common/security_flags.h"

#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/support/process.h"

namespace dfs {
namespace {

httplib::Request Req(const std::string& method, const std::string& path, const std::string& auth = "") {
  httplib::Request req;
  req.method = method;
  req.path = path;
  if (!auth.empty()) req.headers.emplace("Authorization", auth);
  return req;
}

class SecurityConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = Security(); }
  void TearDown() override { SetSecurity(saved_); }
  SecurityConfig saved_;
};

TEST(TokensEqualTest, ComparesWholeTokens) {
  EXPECT_TRUE(TokensEqual("abc", "abc"));
  EXPECT_FALSE(TokensEqual("abc", "abd"));
  EXPECT_FALSE(TokensEqual("abc", "abcd"));
  EXPECT_FALSE(TokensEqual("", "a"));
}

TEST_F(SecurityConfigTest, NoTokenLetsEverythingThrough) {
  SetSecurity({});
  EXPECT_TRUE(Authorize(Req("DELETE", "/api/v1/files/a"), {}).ok());
}

TEST_F(SecurityConfigTest, TokenReadTokenAndPublicPaths) {
  SecurityConfig c;
  c.token = "full";
  c.read_token = "reader";
  SetSecurity(c);
  AuthPolicy master{{"/healthz", "/"}, true};
  EXPECT_TRUE(Authorize(Req("GET", "/healthz"), master).ok());
  EXPECT_TRUE(Authorize(Req("GET", "/"), master).ok());
  EXPECT_EQ(Authorize(Req("GET", "/api/v1/files/a"), master).code(), Code::kUnauthenticated);
  EXPECT_EQ(Authorize(Req("GET", "/api/v1/files/a", "Bearer nope"), master).code(), Code::kUnauthenticated);
  EXPECT_EQ(Authorize(Req("GET", "/api/v1/files/a", "Basic full"), master).code(), Code::kUnauthenticated);
  EXPECT_EQ(Authorize(Req("GET", "/api/v1/files/a", "Bearer "), master).code(), Code::kUnauthenticated);
  EXPECT_TRUE(Authorize(Req("PUT", "/api/v1/files/a", "Bearer full"), master).ok());
  EXPECT_TRUE(Authorize(Req("GET", "/api/v1/files/a", "Bearer reader"), master).ok());
  EXPECT_TRUE(Authorize(Req("HEAD", "/api/v1/files/a", "Bearer reader"), master).ok());
  EXPECT_EQ(Authorize(Req("PUT", "/api/v1/files/a", "Bearer reader"), master).code(), Code::kPermissionDenied);
  EXPECT_EQ(Authorize(Req("POST", "/api/v1/rename", "Bearer reader"), master).code(), Code::kPermissionDenied);
  AuthPolicy node{{"/healthz"}, false};
  EXPECT_EQ(Authorize(Req("GET", "/blobs/x", "Bearer reader"), node).code(), Code::kUnauthenticated);
  EXPECT_EQ(Authorize(Req("GET", "/"), node).code(), Code::kUnauthenticated);
  EXPECT_TRUE(Authorize(Req("GET", "/blobs/x", "Bearer full"), node).ok());
}

TEST_F(SecurityConfigTest, LoadingChecksFilesAndPairs) {
  testing::TempDir dir;
  const std::string token = dir.path() + "/token";
  testing::WriteFile(token, "  s3cret \n second line ignored\n");
  auto loaded = LoadSecurity(token, "", "", "", "");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->token, "s3cret");
  testing::WriteFile(dir.path() + "/empty", "\n");
  EXPECT_FALSE(LoadSecurity(dir.path() + "/empty", "", "", "", "").ok());
  EXPECT_FALSE(LoadSecurity(dir.path() + "/missing", "", "", "", "").ok());
  EXPECT_FALSE(LoadSecurity(token, "", dir.path() + "/cert.pem", "", "").ok()) << "cert without key";
  EXPECT_FALSE(LoadSecurity(token, "", "", "", dir.path() + "/no-ca.pem").ok());
  ::unsetenv("DFS_TOKEN");
  EXPECT_FALSE(LoadSecurity("", token, "", "", "").ok()) << "a read-only token alone";
  ::setenv("DFS_TOKEN", "from-env", 1);
  auto env = LoadSecurity("", "", "", "", "");
  ::unsetenv("DFS_TOKEN");
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->token, "from-env");
}

TEST_F(SecurityConfigTest, SystemdCredentialsFillWhatNothingElseGives) {
  testing::TempDir dir;
  testing::WriteFile(dir.path() + "/dfs.token", "from-credential\n");
  testing::WriteFile(dir.path() + "/dfs.tls-key", "key");
  ::unsetenv("DFS_TOKEN");
  ::unsetenv("DFS_READ_TOKEN");
  ::setenv("CREDENTIALS_DIRECTORY", dir.path().c_str(), 1);
  EXPECT_EQ(SystemdCredential("dfs.token"), dir.path() + "/dfs.token");
  EXPECT_EQ(SystemdCredential("dfs.read-token"), "") << "a credential the unit did not get";

  SecurityFlags server;
  server.server = true;
  auto f = server.WithSystemdCredentials();
  EXPECT_EQ(f.token_file, dir.path() + "/dfs.token");
  EXPECT_EQ(f.tls_key, dir.path() + "/dfs.tls-key");
  EXPECT_EQ(f.tls_cert, "");
  EXPECT_EQ(f.read_token_file, "") << "not the master";
  SecurityFlags client;  // a client has no TLS key to serve with
  EXPECT_EQ(client.WithSystemdCredentials().tls_key, "");

  server.token_file = "/etc/dfs/given";  // a flag or config key wins ...
  EXPECT_EQ(server.WithSystemdCredentials().token_file, "/etc/dfs/given");
  server.token_file = "";
  ::setenv("DFS_TOKEN", "from-env", 1);  // ... and so does the variable
  EXPECT_EQ(server.WithSystemdCredentials().token_file, "");
  ::unsetenv("DFS_TOKEN");
  ::unsetenv("CREDENTIALS_DIRECTORY");
  EXPECT_EQ(SystemdCredential("dfs.token"), "");
}

TEST(RedisPasswordTest, FromValueFileOrCredential) {
  testing::TempDir dir;
  testing::WriteFile(dir.path() + "/pw", " redis-secret \n");
  ::unsetenv("CREDENTIALS_DIRECTORY");
  EXPECT_EQ(*LoadRedisPassword("", ""), "");
  EXPECT_EQ(*LoadRedisPassword("given", ""), "given");
  EXPECT_EQ(*LoadRedisPassword("", dir.path() + "/pw"), "redis-secret");
  EXPECT_FALSE(LoadRedisPassword("given", dir.path() + "/pw").ok()) << "two sources";
  EXPECT_FALSE(LoadRedisPassword("", dir.path() + "/missing").ok());
  testing::WriteFile(dir.path() + "/empty", "\n");
  EXPECT_FALSE(LoadRedisPassword("", dir.path() + "/empty").ok());
  testing::WriteFile(dir.path() + "/dfs.redis-password", "cred-secret\n");
  ::setenv("CREDENTIALS_DIRECTORY", dir.path().c_str(), 1);
  EXPECT_EQ(*LoadRedisPassword("", ""), "cred-secret");
  EXPECT_EQ(*LoadRedisPassword("given", ""), "given");
  ::unsetenv("CREDENTIALS_DIRECTORY");
}

}  // namespace
}  // namespace dfs
