#include "common/http_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "common/unique_fd.h"

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

// Md5Trailer hands on all but the last 32 bytes, however the body is cut
// into pieces, and those 32 are the md5 (upper case taken).
TEST(HttpUtilTest, Md5TrailerHoldsBackTheLast32BytesOfAnyCut) {
  const std::string data = "the file's bytes, in pieces of every size";
  const std::string hex = "0123456789ABCDEF0123456789abcdef";
  const std::string framed = data + hex;
  for (size_t piece = 1; piece <= framed.size(); ++piece) {
    Md5Trailer trailer;
    std::string passed;
    for (size_t at = 0; at < framed.size(); at += piece) {
      const std::string part = framed.substr(at, piece);
      ASSERT_TRUE(trailer.Pass(part.data(), part.size(), [&](const char* d, size_t n) {
                           passed.append(d, n);
                           return Status::OK();
                         }).ok());
    }
    EXPECT_EQ(passed, data) << "pieces of " << piece;
    EXPECT_EQ(trailer.held(), kMd5HexLength);
    EXPECT_EQ(*trailer.Md5(), "0123456789abcdef0123456789abcdef");
  }
  Md5Trailer short_body;
  ASSERT_TRUE(short_body.Pass("abc", 3, [](const char*, size_t) { return Status::OK(); }).ok());
  EXPECT_EQ(short_body.Md5().status().code(), Code::kInvalidArgument);
  Md5Trailer not_hex;
  const std::string bad(40, 'z');
  ASSERT_TRUE(not_hex.Pass(bad.data(), bad.size(), [](const char*, size_t) { return Status::OK(); }).ok());
  EXPECT_EQ(not_hex.Md5().status().code(), Code::kInvalidArgument);
  Md5Trailer failing;  // what the next step refuses stops the body
  EXPECT_EQ(failing.Pass(bad.data(), bad.size(), [](const char*, size_t) { return Status::NoSpace("full"); }).code(),
            Code::kNoSpace);
}

TEST(HttpUtilTest, DeclaredMd5TakesEitherHeader) {
  const std::string hex = "5d41402abc4b2a76b9719d911017c592";  // md5("hello")
  httplib::Request req;
  EXPECT_EQ(*DeclaredMd5(req), "");
  req.set_header(kMd5Header, "5D41402ABC4B2A76B9719D911017C592");
  EXPECT_EQ(*DeclaredMd5(req), hex);
  req.set_header(kContentMd5Header, "XUFAKrxLKna5cZ2REBfFkg==");
  EXPECT_EQ(*DeclaredMd5(req), hex) << "both, agreeing";
  httplib::Request standard;
  standard.set_header(kContentMd5Header, "XUFAKrxLKna5cZ2REBfFkg==");
  EXPECT_EQ(*DeclaredMd5(standard), hex);
  httplib::Request disagree;
  disagree.set_header(kMd5Header, "d41d8cd98f00b204e9800998ecf8427e");
  disagree.set_header(kContentMd5Header, "XUFAKrxLKna5cZ2REBfFkg==");
  EXPECT_EQ(DeclaredMd5(disagree).status().code(), Code::kInvalidArgument);
  httplib::Request malformed;
  malformed.set_header(kContentMd5Header, hex);
  EXPECT_EQ(DeclaredMd5(malformed).status().code(), Code::kInvalidArgument);
}

TEST(HttpUtilTest, RandomHex) {
  EXPECT_EQ(RandomHex(16).size(), 32u);
  EXPECT_NE(RandomHex(16), RandomHex(16));
}

namespace {
int BoundPort(httplib::Server& server) {
  for (int port = 20000 + getpid() % 20000, tries = 0; tries < 100; ++port, ++tries) {
    if (BindServer(server, "127.0.0.1", port)) return port;
  }
  return 0;
}

// A TCP connect to 127.0.0.1:port that completes within timeout_ms.
bool Connects(int port, int timeout_ms, std::vector<UniqueFd>& keep) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  if (rc != 0 && errno != EINPROGRESS) return false;
  pollfd p{fd.get(), POLLOUT, 0};
  if (::poll(&p, 1, timeout_ms) != 1) return false;
  int err = 0;
  socklen_t len = sizeof(err);
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) return false;
  keep.push_back(std::move(fd));
  return true;
}
}  // namespace

TEST(HttpUtilTest, BindServerRefusesAPortInUse) {
  httplib::Server first, second;
  int port = BoundPort(first);
  ASSERT_GT(port, 0);
  EXPECT_FALSE(BindServer(second, "127.0.0.1", port)) << "two servers on one port (SO_REUSEPORT)";
}

TEST(HttpUtilTest, BindServerQueuesABurstOfConnections) {
  // Nobody accepts: every connection must wait in the backlog, which with
  // cpp-httplib's 5 held only a handful (the rest had their SYNs dropped).
  httplib::Server server;
  int port = BoundPort(server);
  ASSERT_GT(port, 0);
  std::vector<UniqueFd> open;
  int connected = 0;
  for (int i = 0; i < 200; ++i) connected += Connects(port, 200, open);
  EXPECT_EQ(connected, 200);
}

}  // namespace dfs
