#include "tests/support/lossy_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <stdexcept>

namespace dfs::testing {

namespace {
sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// Copies what `from` has to `to`; false when `from` closed or failed.
bool Pump(int from, int to) {
  char buf[64 << 10];
  ssize_t n = ::recv(from, buf, sizeof buf, 0);
  if (n <= 0) return false;
  for (ssize_t sent = 0; sent < n;) {
    ssize_t w = ::send(to, buf + sent, static_cast<size_t>(n - sent), MSG_NOSIGNAL);
    if (w <= 0) return false;
    sent += w;
  }
  return true;
}
}  // namespace

LossyProxy::LossyProxy(int upstream_port, int lose) : upstream_port_(upstream_port), lose_(lose) {
  listener_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr = Loopback(0);
  socklen_t len = sizeof addr;
  if (!listener_ || ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener_.get(), 64) != 0 || ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("LossyProxy: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

LossyProxy::~LossyProxy() {
  stop_ = true;
  acceptor_.join();
  for (auto& w : workers_) w.join();
}

void LossyProxy::AcceptLoop() {
  while (!stop_) {
    pollfd p{listener_.get(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) continue;
    const bool lose = connections_.fetch_add(1) < lose_;
    workers_.emplace_back([this, fd = std::move(client), lose]() mutable { Serve(std::move(fd), lose); });
  }
}

void LossyProxy::Serve(UniqueFd client, bool lose_answer) {
  UniqueFd upstream(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr = Loopback(upstream_port_);
  if (!upstream || ::connect(upstream.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
  while (!stop_) {
    pollfd p[2] = {{client.get(), POLLIN, 0}, {upstream.get(), POLLIN, 0}};
    if (::poll(p, 2, 100) <= 0) continue;
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (!Pump(client.get(), upstream.get())) return;
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (lose_answer) {  // the server answered: the client never hears it
        ++lost_;
        return;
      }
      if (!Pump(upstream.get(), client.get())) return;
    }
  }
}

}  // namespace dfs::testing
