// GuardedServer (common/guarded_server.h) in this process, spoken to over raw
// sockets: keep-alive and pipelined requests still work through ServerStream,
// heads split anywhere are read, and each deadline or limit gets its answer
// (408, 431) with the connection closed. Read timeout 300 ms.
#include "common/guarded_server.h"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "common/http_util.h"
#include "common/server_stream.h"
#include "tests/hardening/raw_http.h"
#include "tests/support/process.h"

namespace dfs::testing {
namespace {

using std::chrono::milliseconds;

// Binds `server` to a free port and serves it on `thread`; the port (0: none).
int StartServing(GuardedServer& server, std::thread& thread) {
  for (int tries = 0; tries < 20; ++tries) {
    int port = FreePort();
    if (BindServer(server, "127.0.0.1", port)) {
      thread = std::thread([&server] { server.listen_after_bind(); });
      return port;
    }
  }
  return 0;
}

class GuardedServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetReadTimeout(server_, milliseconds(300));
    server_.Get("/hello", [](const httplib::Request&, httplib::Response& res) { res.set_content("hi", "text/plain"); });
    server_.Post("/json", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(std::to_string(req.body.size()), "text/plain");
    });
    server_.Put("/upload", [](const httplib::Request&, httplib::Response& res, const httplib::ContentReader& reader) {
      size_t got = 0;
      bool complete = reader([&](const char*, size_t len) {
        got += len;
        return true;
      });
      if (complete) res.set_content(std::to_string(got), "text/plain");
    });
    server_.Put("/refuse", [](const httplib::Request&, httplib::Response& res, const httplib::ContentReader&) {
      SendErrorAndClose(res, Status::InvalidArgument("refused before reading the body"));
    });
    port_ = StartServing(server_, thread_);
    ASSERT_GT(port_, 0);
  }
  void TearDown() override {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  GuardedServer server_;
  int port_ = 0;
  std::thread thread_;
};

const std::string kHello = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";

TEST_F(GuardedServerTest, KeepAliveAndPipelinedRequests) {
  RawConnection c(port_);
  ASSERT_TRUE(c.Send(kHello));
  RawAnswer first = c.ReadAnswer(milliseconds(5000));
  ASSERT_TRUE(first.answered) << first.raw;
  EXPECT_EQ(first.body, "hi");
  // Two requests in one write: the second is already buffered when the
  // first is answered, and must be served without waiting for more bytes.
  ASSERT_TRUE(c.Send(kHello + "POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde"));
  RawAnswer second = c.ReadAnswer(milliseconds(5000));
  EXPECT_EQ(second.body, "hi") << second.raw;
  RawAnswer third = c.ReadAnswer(milliseconds(5000));
  EXPECT_EQ(third.status, 200) << third.raw;
  EXPECT_EQ(third.body, "5") << third.raw;
}

TEST_F(GuardedServerTest, AHeadSplitAnywhereIsRead) {
  for (size_t cut : {1ul, 16ul, kHello.size() - 3, kHello.size() - 2, kHello.size() - 1}) {
    RawConnection c(port_);
    ASSERT_TRUE(c.Send(kHello.substr(0, cut)));
    std::this_thread::sleep_for(milliseconds(50));
    ASSERT_TRUE(c.Send(kHello.substr(cut)));
    RawAnswer a = c.ReadAnswer(milliseconds(5000));
    EXPECT_EQ(a.body, "hi") << "cut at " << cut << ": " << a.raw;
  }
}

TEST_F(GuardedServerTest, ATrickledHeadIs408EvenThoughEachByteComesInTime) {
  // Each byte comes well within the 300 ms read timeout; the head as a whole
  // does not.
  RawAnswer a = Trickle(port_, "GET /hello HTTP/1.1\r\n", "X: y\r\n");
  ASSERT_TRUE(a.answered) << a.raw;
  EXPECT_EQ(a.status, 408);
  EXPECT_NE(a.body.find("\"timeout\""), std::string::npos) << a.body;
  EXPECT_EQ(a.headers["connection"], "close");
}

// The next head on a kept-alive connection trickling in while its worker
// waits for it (ConnectionHub's linger) is handed back to the gate: 408 as
// for the first request, and no worker held for it.
TEST_F(GuardedServerTest, ATrickledHeadAfterAnAnswerIs408Too) {
  RawConnection c(port_);
  ASSERT_TRUE(c.Send(kHello));
  RawAnswer first = c.ReadAnswer(milliseconds(5000));
  ASSERT_EQ(first.body, "hi") << first.raw;
  ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\n"));
  RawAnswer a;
  const std::string trickle = "X: y\r\n";
  for (size_t i = 0; i < 2000 && !a.answered && !a.closed; ++i) {
    if (!c.Send(std::string(1, trickle[i % trickle.size()]))) break;
    a = c.ReadAnswer(milliseconds(100));
  }
  ASSERT_TRUE(a.answered) << a.raw;
  EXPECT_EQ(a.status, 408) << a.raw;
}

TEST_F(GuardedServerTest, AHeadOver64KiBIs431) {
  std::string head = "GET /hello HTTP/1.1\r\n";
  while (head.size() <= ServerStream::kMaxHeadBytes) head += "X-Filler: 0123456789abcdef\r\n";
  RawAnswer a = SendRaw(port_, head + "\r\n", milliseconds(5000));
  ASSERT_TRUE(a.answered) << a.raw;
  EXPECT_EQ(a.status, 431);
  EXPECT_NE(a.body.find("\"headers_too_large\""), std::string::npos) << a.body;
}

TEST_F(GuardedServerTest, ABodyThatTricklesOrStopsIs408) {
  for (const std::string target : {"/upload", "/json"}) {
    const std::string method = target == "/upload" ? "PUT" : "POST";
    RawAnswer trickled =
        Trickle(port_, method + " " + target + " HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", "b");
    EXPECT_EQ(trickled.status, 408) << target << ": " << trickled.raw;
    RawAnswer stalled =
        SendRaw(port_, method + " " + target + " HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort", milliseconds(5000));
    EXPECT_EQ(stalled.status, 408) << target << ": " << stalled.raw;
  }
}

TEST_F(GuardedServerTest, AfterHundredContinueAFailingBodyStillGetsItsAnswer) {
  RawConnection c(port_);
  ASSERT_TRUE(c.Send("PUT /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n"));
  RawAnswer interim = c.ReadAnswer(milliseconds(5000));
  ASSERT_EQ(interim.status, 100) << interim.raw;
  ASSERT_TRUE(c.Send("only part"));
  RawAnswer a = c.ReadAnswer(milliseconds(5000));
  EXPECT_EQ(a.status, 408) << a.raw;
}

TEST_F(GuardedServerTest, AnEarlyAnswerReachesAClientStillSending) {
  // The handler answers without reading an 8 MiB body, and the client (as
  // many do) reads only once it has sent everything. Closing with the body
  // unread would reset the connection: the client's send fails, and such a
  // client never reads the answer.
  RawConnection c(port_);
  const std::string body(8 << 20, 'x');
  ASSERT_TRUE(c.Send("PUT /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                     "\r\n\r\n" + body))
      << "connection reset while sending";
  RawAnswer a = c.ReadAnswer(milliseconds(5000));
  ASSERT_TRUE(a.answered) << (a.closed ? "reset or closed without the answer" : "no answer");
  EXPECT_EQ(a.status, 400);
}

TEST_F(GuardedServerTest, StopEndsIdleKeepAliveConnections) {
  RawConnection c(port_);
  ASSERT_TRUE(c.Send(kHello));
  ASSERT_TRUE(c.ReadAnswer(milliseconds(5000)).answered);
  server_.stop();
  thread_.join();
  EXPECT_TRUE(c.WaitClosed(milliseconds(5000)));
}

// 4 workers and a 20 s read timeout: 150 clients that trickle a head, say
// nothing, or keep a connection open after an answer wait in the HeadGate,
// not in a worker, so a request made behind them is answered at once (with
// a worker per waiting connection it would wait for their 20 s).
TEST(GuardedServerSlowClients, HundredsOfWaitingClientsHoldNoWorker) {
  GuardedServer server;
  SetReadTimeout(server, milliseconds(20000));
  UseThreadPool(server, 4);
  server.Get("/hello", [](const httplib::Request&, httplib::Response& res) { res.set_content("hi", "text/plain"); });
  std::thread thread;
  const int port = StartServing(server, thread);
  ASSERT_GT(port, 0);
  struct Stop {
    GuardedServer& server;
    std::thread& thread;
    ~Stop() {
      server.stop();
      if (thread.joinable()) thread.join();
    }
  } stop{server, thread};

  std::vector<std::unique_ptr<RawConnection>> waiting;
  for (int i = 0; i < 50; ++i) {
    waiting.push_back(std::make_unique<RawConnection>(port));
    ASSERT_TRUE(waiting.back()->Send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: "));  // and nothing more
    waiting.push_back(std::make_unique<RawConnection>(port));  // says nothing
    waiting.push_back(std::make_unique<RawConnection>(port));
    ASSERT_TRUE(waiting.back()->Send(kHello));  // kept alive after its answer
    ASSERT_TRUE(waiting.back()->ReadAnswer(milliseconds(10000)).answered) << "client " << i;
  }
  RawAnswer a = SendRaw(port, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", milliseconds(5000));
  ASSERT_TRUE(a.answered) << "no answer in 5 s behind 150 waiting connections";
  EXPECT_EQ(a.body, "hi");
  // The kept-alive connections still work.
  ASSERT_TRUE(waiting[2]->Send(kHello));
  EXPECT_EQ(waiting[2]->ReadAnswer(milliseconds(5000)).body, "hi");
}

TEST(AdmissionTest, PeekRequestLine) {
  RequestLine line = PeekRequestLine("PUT /api/v1/files/a%20b?conflict=fail HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(line.method, "PUT");
  EXPECT_EQ(line.path, "/api/v1/files/a%20b");
  line = PeekRequestLine("\r\n\r\nGET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(line.method, "GET");
  EXPECT_EQ(line.path, "/");
  for (const char* bad : {"", "\r\n", "GET\r\n\r\n", "GET /\r\n\r\n", " / HTTP/1.1\r\n", "GET ?x HTTP/1.1\r\n"}) {
    line = PeekRequestLine(bad);
    EXPECT_TRUE(line.method.empty() && line.path.empty()) << bad;
  }
}

// A GuardedServer whose GET /slow (data) holds its worker until Release()
// and whose GET /hello (control) answers at once; stopped on destruction.
class HoldingServer {
 public:
  HoldingServer(LaneLimits data, LaneLimits control) {
    SetReadTimeout(server_, milliseconds(20000));
    server_.admission().data = data;
    server_.admission().control = control;
    server_.admission().classify = [](const RequestLine& line) {
      return line.path == "/slow" ? RequestClass::kData : RequestClass::kControl;
    };
    server_.admission().on_refused = [this](RequestClass c) {
      if (c == RequestClass::kData) ++refused_;
    };
    server_.Get("/slow", [this](const httplib::Request&, httplib::Response& res) {
      std::unique_lock lock(mu_);
      entered_ = true;
      cv_.notify_all();
      cv_.wait_for(lock, std::chrono::seconds(30), [&] { return released_; });
      res.set_content("done", "text/plain");
    });
    server_.Get("/hello", [](const httplib::Request&, httplib::Response& res) { res.set_content("hi", "text/plain"); });
    port_ = StartServing(server_, thread_);
  }
  ~HoldingServer() {
    Release();
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }
  int refused() const { return refused_.load(); }
  // Whether a /slow request is being served (waits up to 10 s for one).
  bool WaitEntered() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return entered_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  GuardedServer server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> refused_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false, released_ = false;
};

// One data worker and no queue: while a data request holds it, the next
// data requests are answered 503 with Retry-After at once (a GET, and a PUT
// whose body the client sends anyway), and control requests are served.
TEST(AdmissionTest, AFullDataLaneIs503WithRetryAfterAndControlIsStillServed) {
  HoldingServer server({1, 0}, {1, 0});
  const int port = server.port();
  ASSERT_GT(port, 0);
  RawConnection slow(port);
  ASSERT_TRUE(slow.Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(server.WaitEntered()) << "the slow request never ran";
  RawAnswer busy = SendRaw(port, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n", milliseconds(5000));
  ASSERT_TRUE(busy.answered) << busy.raw;
  EXPECT_EQ(busy.status, 503) << busy.raw;
  EXPECT_EQ(busy.headers["retry-after"], "1");
  EXPECT_NE(busy.body.find("\"unavailable\""), std::string::npos) << busy.body;
  RawAnswer busy_put = SendRaw(port, "PUT /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 65536\r\n\r\n" +
                                         std::string(65536, 'b'), milliseconds(5000));
  EXPECT_EQ(busy_put.status, 503) << busy_put.raw;
  RawAnswer hello = SendRaw(port, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", milliseconds(5000));
  EXPECT_EQ(hello.body, "hi") << "a control request waits for no data worker";
  server.Release();
  RawAnswer done = slow.ReadAnswer(milliseconds(5000));
  EXPECT_EQ(done.body, "done") << done.raw;
  EXPECT_EQ(server.refused(), 2);
  RawAnswer again = SendRaw(port, "GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", milliseconds(5000));
  EXPECT_EQ(again.body, "done") << "the lane takes requests again once its worker is free";
}

// A worker serves a connection's next request only when it is of its own
// lane: a data request sent at once after a control answer (while the
// control worker waits for the next head) goes to the data lane, which is
// then full, and the control lane is free for others.
TEST(AdmissionTest, TheNextRequestOfAConnectionGoesToItsOwnLane) {
  HoldingServer server({1, 0}, {2, 0});  // a control worker idle beside the serving one: it lingers
  const int port = server.port();
  ASSERT_GT(port, 0);
  RawConnection c(port);
  ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_EQ(c.ReadAnswer(milliseconds(5000)).body, "hi");
  ASSERT_TRUE(c.Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));  // at once: within the linger
  ASSERT_TRUE(server.WaitEntered()) << "the slow request never ran";
  RawAnswer busy = SendRaw(port, "GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", milliseconds(5000));
  EXPECT_EQ(busy.status, 503) << "the first /slow holds the data lane's worker: " << busy.raw;
  RawAnswer hello = SendRaw(port, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", milliseconds(5000));
  EXPECT_EQ(hello.body, "hi") << hello.raw;
  server.Release();
  EXPECT_EQ(c.ReadAnswer(milliseconds(5000)).body, "done");
}

}  // namespace
}  // namespace dfs::testing
