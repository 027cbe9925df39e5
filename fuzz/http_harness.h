// What the HTTP fuzz targets share: a cpp-httplib Server that takes its
// requests from a string and writes its responses to another, through what a
// socket goes through after accept() in our servers (ServerStream, the
// keep-alive loop, cpp-httplib's Server::process_request), minus the socket:
// several requests per input on one keep-alive connection.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <httplib.h>

#include "common/server_stream.h"

namespace dfs::fuzz {

// The client's bytes come from a string; the server's go to another. Never
// waits: Recv answers 0 (the client closed) once the string is used up.
class StringTransport : public Transport {
 public:
  explicit StringTransport(std::string_view in) : in_(in) {}
  ssize_t Recv(char* buf, size_t size, Wait*) override {
    size_t n = std::min(size, in_.size() - pos_);
    std::memcpy(buf, in_.data() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t Send(const char* buf, size_t size, Wait*) override {
    out_.append(buf, size);
    return static_cast<ssize_t>(size);
  }
  bool Handshake(Wait*) override { return true; }
  bool HasPending() const override { return pos_ < in_.size(); }
  void ShutdownWrite() override {}
  void Close(bool) override {}
  int fd() const override { return -1; }
  const std::string& output() const { return out_; }

 private:
  std::string_view in_;
  size_t pos_ = 0;
  std::string out_;
};

class FuzzServer : public httplib::Server {
 public:
  // Content providers only run while the server looks alive (a listening
  // socket): an unbound socket of our own stands in for it.
  FuzzServer() { svr_sock_ = ::socket(AF_INET, SOCK_STREAM, 0); }
  ~FuzzServer() override {
    socket_t sock = svr_sock_.exchange(INVALID_SOCKET);
    if (sock != INVALID_SOCKET) ::close(sock);
  }
  FuzzServer(const FuzzServer&) = delete;
  FuzzServer& operator=(const FuzzServer&) = delete;

  // Up to kMaxRequests requests on one keep-alive connection, through the
  // ServerStream a GuardedServer serves a socket with; the responses.
  std::vector<std::string> Handle(std::string_view input) {
    static constexpr int kMaxRequests = 8;
    auto transport = std::make_unique<StringTransport>(input);
    const StringTransport& client = *transport;
    ServerStream stream(std::move(transport), "", {});
    std::vector<std::string> responses;
    for (int i = 0; i < kMaxRequests && stream.HasUnread() && !stream.cut(); ++i) {
      size_t before = client.output().size();
      bool closed = false;
      stream.BeginRequest();
      bool ok = process_request(stream, /*close_connection=*/i + 1 == kMaxRequests, closed, [](httplib::Request&) {});
      responses.push_back(client.output().substr(before));
      if (!ok || closed) break;
    }
    return responses;
  }
};

// A folder under /tmp, removed at exit.
struct TempDir {
  explicit TempDir(const std::string& name) {
    std::string tmpl = "/tmp/dfs-fuzz-" + name + "-XXXXXX";
    if (!mkdtemp(tmpl.data())) std::abort();
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

// "HTTP/1.1 200 OK..." -> 200; 0 when there is no status line.
inline int StatusCode(const std::string& response) {
  // "HTTP/1.1 200 OK\r\n..."
  if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) return 0;
  return std::atoi(response.substr(9, 3).c_str());
}

}  // namespace dfs::fuzz
