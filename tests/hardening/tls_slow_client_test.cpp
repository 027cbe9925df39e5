// Slow clients over TLS: the handshake and the request head are under the
// same deadline as on plain HTTP (the read timeout), so a client that
// trickles its ClientHello, stops after connecting, or trickles its headers
// inside a finished TLS session is cut off and does not keep others from
// being served.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "common/http_util.h"
#include "tests/hardening/raw_http.h"
#include "tests/support/cluster.h"
#include "tests/support/http_helpers.h"

namespace dfs::testing {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// A TLS session to 127.0.0.1:port that checks the server against `ca`.
class TlsConnection {
 public:
  TlsConnection(int port, const std::string& ca) : ctx_(SSL_CTX_new(TLS_client_method()), SSL_CTX_free) {
    if (!ctx_ || SSL_CTX_load_verify_locations(ctx_.get(), ca.c_str(), nullptr) != 1) return;
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    fd_.Reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return;
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set_fd(ssl_.get(), fd_.get());
    connected_ = SSL_connect(ssl_.get()) == 1;
  }
  bool connected() const { return connected_; }
  bool Send(const std::string& bytes) {
    size_t n = 0;
    return SSL_write_ex(ssl_.get(), bytes.data(), bytes.size(), &n) == 1 && n == bytes.size();
  }
  // What the server sent within `wait` (empty: nothing yet); *closed when
  // it closed the session or the connection.
  std::string Read(milliseconds wait, bool* closed) {
    std::string got;
    pollfd p{fd_.get(), POLLIN, 0};
    while (SSL_pending(ssl_.get()) > 0 || ::poll(&p, 1, static_cast<int>(wait.count())) > 0) {
      char buf[4096];
      size_t n = 0;
      if (SSL_read_ex(ssl_.get(), buf, sizeof buf, &n) != 1) {
        ERR_clear_error();
        *closed = true;
        break;
      }
      got.append(buf, n);
      wait = milliseconds(50);  // the rest of an answer follows at once
    }
    return got;
  }

 private:
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx_;
  struct SslFree {
    void operator()(SSL* s) const { SSL_free(s); }
  };
  std::unique_ptr<SSL, SslFree> ssl_;
  UniqueFd fd_;
  bool connected_ = false;
};

TEST(TlsSlowClients, HandshakeAndHeadDeadlinesFreeTheThreads) {
  ClusterOptions o;
  o.nodes = 1;
  o.tls = true;
  o.node_timeout_ms = 60000;  // heartbeats wait behind the slow clients too
  o.master_args = {"--threads", "4", "--read-timeout-ms", "1000"};
  TestCluster cluster(o);
  ASSERT_TRUE(cluster.WaitNodesUp(1));
  const int master = cluster.master_port();

  // Plain TCP: two clients say nothing after connecting, three trickle a
  // ClientHello (a TLS record header, then junk). Each must be closed.
  std::vector<std::unique_ptr<RawConnection>> silent;
  for (int i = 0; i < 2; ++i) silent.push_back(std::make_unique<RawConnection>(master));
  std::vector<RawAnswer> hello(3);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < hello.size(); ++i) {
    threads.emplace_back([&, i] { hello[i] = Trickle(master, std::string("\x16\x03\x01\x02\x00", 5), "h"); });
  }
  // Inside TLS sessions: headers trickled one byte per 100 ms.
  std::vector<std::string> trickled(3);
  for (size_t i = 0; i < trickled.size(); ++i) {
    threads.emplace_back([&, i] {
      TlsConnection c(master, cluster.ca_path());
      if (!c.connected() || !c.Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")) return;
      bool closed = false;
      for (auto deadline = Clock::now() + std::chrono::seconds(30); Clock::now() < deadline && !closed;) {
        if (!c.Send("s")) break;
        trickled[i] += c.Read(milliseconds(100), &closed);
        if (!trickled[i].empty()) break;
      }
    });
  }

  // A normal HTTPS request behind the eight slow ones is answered.
  auto ep = ParseEndpoint(cluster.master_url());
  auto client = MakeClient(*ep, {milliseconds(3000), milliseconds(10000), milliseconds(10000)});
  auto health = client->Get("/healthz");
  ASSERT_TRUE(health) << "no answer behind the slow clients: " << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);

  for (auto& t : threads) t.join();
  for (auto& c : silent) EXPECT_TRUE(c->WaitClosed(std::chrono::seconds(20))) << "a silent connection was kept open";
  for (const auto& a : hello) {
    EXPECT_TRUE(a.closed) << "a trickled handshake was not cut off in 30 s";
    EXPECT_FALSE(a.answered) << a.raw;
  }
  for (const auto& answer : trickled) {
    EXPECT_EQ(answer.rfind("HTTP/1.1 408", 0), 0u) << "trickled headers not answered 408 in 30 s: " << answer;
    EXPECT_NE(answer.find("\"error\":\"timeout\""), std::string::npos) << answer;
  }
  EXPECT_TRUE(cluster.master().running());
}

}  // namespace
}  // namespace dfs::testing
