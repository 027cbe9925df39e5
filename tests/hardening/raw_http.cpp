#include "tests/hardening/raw_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>

namespace dfs::testing {

RawConnection::RawConnection(int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return;
  fd_ = std::move(fd);
}

bool RawConnection::Send(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd_.get(), bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

void RawConnection::ShutdownWrite() { ::shutdown(fd_.get(), SHUT_WR); }

namespace {
// Parses buffered bytes; true when a whole answer is there (its *used bytes).
bool ParseAnswer(const std::string& data, RawAnswer* out, size_t* used) {
  size_t end = data.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  size_t line_end = data.find("\r\n");
  std::string status_line = data.substr(0, line_end);
  if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) return false;
  out->status = std::atoi(status_line.c_str() + 9);
  out->headers.clear();
  size_t pos = line_end + 2;
  while (pos < end) {
    size_t eol = data.find("\r\n", pos);
    std::string line = data.substr(pos, eol - pos);
    pos = eol + 2;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    size_t v = line.find_first_not_of(' ', colon + 1);
    out->headers.emplace(name, v == std::string::npos ? "" : line.substr(v));
  }
  size_t length = 0;
  if (auto it = out->headers.find("content-length"); it != out->headers.end()) length = std::stoul(it->second);
  if (data.size() < end + 4 + length) return false;
  out->body = data.substr(end + 4, length);
  *used = end + 4 + length;
  return true;
}
}  // namespace

RawAnswer RawConnection::ReadAnswer(std::chrono::milliseconds timeout) {
  RawAnswer answer;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  size_t used = 0;
  while (!(answer.answered = ParseAnswer(buffered_, &answer, &used))) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      answer.timed_out = true;
      break;
    }
    pollfd p{fd_.get(), POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      answer.closed = true;
      answer.answered = ParseAnswer(buffered_, &answer, &used);
      break;
    }
    buffered_.append(buf, static_cast<size_t>(n));
  }
  answer.raw = buffered_.substr(0, 2048);
  buffered_.erase(0, used);  // a next ReadAnswer reads the next answer
  return answer;
}

bool RawConnection::WaitClosed(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_.get(), POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r <= 0) continue;
    ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
  }
}

RawAnswer SendRaw(int port, const std::string& bytes, std::chrono::milliseconds timeout) {
  RawConnection conn(port);
  if (!conn.ok()) return {};
  conn.Send(bytes);  // a server that answers early and closes may refuse the rest
  return conn.ReadAnswer(timeout);
}

RawAnswer Trickle(int port, const std::string& start, const std::string& trickle) {
  RawConnection c(port);
  if (!c.Send(start)) return c.ReadAnswer(std::chrono::milliseconds(100));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (size_t i = 0; std::chrono::steady_clock::now() < deadline; ++i) {
    if (!c.Send(std::string(1, trickle[i % trickle.size()]))) break;
    RawAnswer a = c.ReadAnswer(std::chrono::milliseconds(100));
    if (a.answered || a.closed) return a;
  }
  return c.ReadAnswer(std::chrono::milliseconds(100));
}

}  // namespace dfs::testing
