// What the HTTP fuzz targets share: a cpp-httplib Server that takes its
// requests from a string and writes its responses to another, through the
// library's own request processing (Server::process_request, what a socket
// goes through after accept(), minus the socket), several requests per input
// on one keep-alive connection.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <httplib.h>

namespace dfs::fuzz {

// The request comes from a string; the response goes to another.
class StringStream : public httplib::Stream {
 public:
  explicit StringStream(std::string_view in) : in_(in) {}
  bool is_readable() const override { return true; }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    size_t n = std::min(size, in_.size() - pos_);
    std::memcpy(ptr, in_.data() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    out_.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 40000;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 8820;
  }
  socket_t socket() const override { return INVALID_SOCKET; }
  const std::string& output() const { return out_; }
  bool at_end() const { return pos_ == in_.size(); }

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

  // Up to kMaxRequests requests on one keep-alive connection; the responses.
  std::vector<std::string> Handle(std::string_view input) {
    static constexpr int kMaxRequests = 8;
    StringStream stream(input);
    std::vector<std::string> responses;
    for (int i = 0; i < kMaxRequests && !stream.at_end(); ++i) {
      size_t before = stream.output().size();
      bool closed = false;
      bool ok = process_request(stream, /*close_connection=*/i + 1 == kMaxRequests, closed, [](httplib::Request&) {});
      responses.push_back(stream.output().substr(before));
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
