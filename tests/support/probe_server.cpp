// ProbeServer (see probe_server.h).
#include "tests/support/probe_server.h"

namespace dfs::testing {

ProbeServer::ProbeServer(int status) : status_(status) {
  auto answer = [this](const httplib::Request&, httplib::Response& res) {
    hits_.fetch_add(1);
    res.status = status_;
    res.set_content(R"({"error":"probe","message":"probe server"})", "application/json");
  };
  server_.Get(".*", answer);
  server_.Post(".*", answer);
  server_.Put(".*", answer);
  server_.Patch(".*", answer);
  server_.Delete(".*", answer);
  port_ = server_.bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  // The socket listens already; stop() is only safe once the loop runs.
  while (!server_.is_running()) std::this_thread::yield();
}

ProbeServer::~ProbeServer() {
  server_.stop();
  thread_.join();
}

}  // namespace dfs::testing
