#include "common/server_stream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include <nlohmann/json.hpp>
#include <openssl/err.h>

#include "common/log.h"

namespace dfs {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Reads from the client: 64 KiB per recv(2) (cpp-httplib then takes it 4 KiB at a time).
constexpr size_t kBufferSize = 64 * 1024;

bool SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

// Polls `fd` for `wait` until `deadline`: true when ready (or in error,
// which the next Recv/Send reports).
bool WaitFor(int fd, Transport::Wait wait, Clock::time_point deadline) {
  pollfd p{fd, static_cast<short>(wait == Transport::Wait::kReadable ? POLLIN : POLLOUT), 0};
  for (;;) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1 << 30)));
    if (rc > 0) return true;
    if (rc == 0) continue;  // the loop re-checks the deadline
    if (errno != EINTR) return true;
  }
}

class Plain final : public Transport {
 public:
  explicit Plain(UniqueFd socket) : socket_(std::move(socket)) {}
  ssize_t Recv(char* buf, size_t size, Wait* wait) override {
    return Result(::recv(socket_.get(), buf, size, 0), Wait::kReadable, wait);
  }
  ssize_t Send(const char* buf, size_t size, Wait* wait) override {
    return Result(::send(socket_.get(), buf, size, MSG_NOSIGNAL), Wait::kWritable, wait);
  }
  bool Handshake(Wait*) override { return true; }
  void ShutdownWrite() override { ::shutdown(socket_.get(), SHUT_WR); }
  void Close(bool) override {
    if (!socket_) return;
    ::shutdown(socket_.get(), SHUT_RDWR);
    socket_.Reset();
  }
  int fd() const override { return socket_.get(); }

 private:
  static ssize_t Result(ssize_t n, Wait again, Wait* wait) {
    if (n >= 0) return n;
    *wait = (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? again : Wait::kNone;
    return -1;
  }
  UniqueFd socket_;
};

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

class Tls final : public Transport {
 public:
  Tls(UniqueFd socket, SSL* ssl) : socket_(std::move(socket)), ssl_(ssl) {}
  ~Tls() override { Close(false); }
  ssize_t Recv(char* buf, size_t size, Wait* wait) override {
    size_t n = 0;
    int rc = SSL_read_ex(ssl_.get(), buf, size, &n);
    if (rc == 1) return static_cast<ssize_t>(n);
    int err = SSL_get_error(ssl_.get(), rc);
    if (err == SSL_ERROR_ZERO_RETURN) return 0;
    return Failed(err, wait);
  }
  ssize_t Send(const char* buf, size_t size, Wait* wait) override {
    size_t n = 0;
    int rc = SSL_write_ex(ssl_.get(), buf, size, &n);
    if (rc == 1) return static_cast<ssize_t>(n);
    return Failed(SSL_get_error(ssl_.get(), rc), wait);
  }
  bool Handshake(Wait* wait) override {
    int rc = SSL_accept(ssl_.get());
    if (rc == 1) return true;
    Failed(SSL_get_error(ssl_.get(), rc), wait);
    return false;
  }
  bool HasPending() const override { return ssl_ && SSL_pending(ssl_.get()) > 0; }
  void ShutdownWrite() override {
    SSL_shutdown(ssl_.get());
    ERR_clear_error();
    ::shutdown(socket_.get(), SHUT_WR);
  }
  void Close(bool graceful) override {
    if (!socket_) return;
    if (graceful) SSL_shutdown(ssl_.get());  // sends close_notify; not waiting for the client's
    ::shutdown(socket_.get(), SHUT_RDWR);
    socket_.Reset();
  }
  int fd() const override { return socket_.get(); }
  SSL* ssl() const { return ssl_.get(); }

 private:
  ssize_t Failed(int err, Wait* wait) {
    ERR_clear_error();  // the thread's queue would otherwise leak into later calls
    *wait = err == SSL_ERROR_WANT_READ    ? Wait::kReadable
            : err == SSL_ERROR_WANT_WRITE ? Wait::kWritable
                                          : Wait::kNone;
    return -1;
  }
  UniqueFd socket_;
  std::unique_ptr<SSL, SslFree> ssl_;
};

// The numeric address of one end of `fd`: `which` is getpeername or getsockname.
std::string SocketAddress(int fd, int (*which)(int, sockaddr*, socklen_t*), int* port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  char host[NI_MAXHOST] = "";
  char serv[NI_MAXSERV] = "";
  *port = 0;
  if (which(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, host, sizeof host, serv, sizeof serv,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return "";
  }
  *port = std::atoi(serv);
  return host;
}

}  // namespace

std::unique_ptr<Transport> PlainTransport(UniqueFd socket) {
  if (!SetNonBlocking(socket.get())) return nullptr;
  return std::make_unique<Plain>(std::move(socket));
}

std::unique_ptr<Transport> StartTls(UniqueFd socket, SSL_CTX* ctx) {
  if (!SetNonBlocking(socket.get())) return nullptr;
  SSL* ssl = SSL_new(ctx);
  if (ssl == nullptr) return nullptr;
  auto tls = std::make_unique<Tls>(UniqueFd(socket.get()), ssl);
  socket.Release();  // owned by `tls` now
  if (SSL_set_fd(ssl, tls->fd()) != 1) return nullptr;
  return tls;
}

std::string PeerOf(int fd) {
  int port = 0;
  std::string ip = SocketAddress(fd, getpeername, &port);
  return ip + ":" + std::to_string(port);
}

std::string RefusalAnswer(int status, const std::string& message, const std::string& extra_headers) {
  const nlohmann::json error = {{"error", ErrorCodeForStatus(status)}, {"message", message}};
  const std::string body = error.dump();
  const char* reason = status == 408   ? "Request Timeout"
                       : status == 503 ? "Service Unavailable"
                                       : "Request Header Fields Too Large";
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         extra_headers + "Connection: close\r\n\r\n" + body;
}

SSL* SslOf(Transport& transport) {
  auto* tls = dynamic_cast<Tls*>(&transport);
  return tls ? tls->ssl() : nullptr;
}

ServerStream::ServerStream(std::unique_ptr<Transport> transport, std::string received, Timeouts timeouts)
    : transport_(std::move(transport)),
      timeouts_(timeouts),
      buffer_(std::move(received)),
      buffer_end_(buffer_.size()),
      read_pace_(timeouts.read) {
  if (buffer_.size() < kBufferSize) buffer_.resize(kBufferSize);
}

std::string ServerStream::TakeUnread() {
  std::string unread = buffer_.substr(buffer_begin_, buffer_end_ - buffer_begin_);
  buffer_begin_ = buffer_end_ = 0;
  return unread;
}

ServerStream::~ServerStream() = default;

void ServerStream::BeginRequest() {
  phase_ = Phase::kHead;
  head_deadline_ = Clock::now() + timeouts_.read;
  head_bytes_ = 0;
  head_end_matched_ = 0;
  answered_ = false;
}

void ServerStream::Close(bool graceful) {
  int unread = 0;
  if (HasUnread() || (ioctl(transport_->fd(), FIONREAD, &unread) == 0 && unread > 0)) {
    constexpr milliseconds kMaxLinger{2000}, kQuiet{200};  // as nginx's lingering_time/_timeout, shorter
    transport_->ShutdownWrite();
    const auto deadline = Clock::now() + kMaxLinger;
    char sink[64 * 1024];
    while (WaitFor(transport_->fd(), Transport::Wait::kReadable, std::min(deadline, Clock::now() + kQuiet))) {
      ssize_t n = ::recv(transport_->fd(), sink, sizeof sink, 0);  // raw: TLS records are dropped as well
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
    }
    graceful = false;  // close_notify went out already
  }
  transport_->Close(graceful);
}

bool ServerStream::is_readable() const {
  if (cut_) return false;
  if (HasUnread()) return true;
  return WaitFor(transport_->fd(), Transport::Wait::kReadable, Clock::now() + timeouts_.read);
}

bool ServerStream::is_writable() const {
  return !cut_ && WaitFor(transport_->fd(), Transport::Wait::kWritable, Clock::now() + timeouts_.write);
}

ServerStream::IoResult ServerStream::Receive(char* buf, size_t size, Clock::time_point deadline, ssize_t* moved) {
  return Io([&](Transport::Wait* wait) { return transport_->Recv(buf, size, wait); }, deadline, moved);
}

ServerStream::IoResult ServerStream::Send(const char* buf, size_t size, Clock::time_point deadline, ssize_t* moved) {
  return Io([&](Transport::Wait* wait) { return transport_->Send(buf, size, wait); }, deadline, moved);
}

template <typename Op>
ServerStream::IoResult ServerStream::Io(Op op, Clock::time_point deadline, ssize_t* moved) {
  for (;;) {
    Transport::Wait wait = Transport::Wait::kNone;
    ssize_t n = op(&wait);
    if (n > 0) {
      *moved = n;
      return IoResult::kDone;
    }
    if (n == 0) return IoResult::kClosed;
    if (wait == Transport::Wait::kNone) return IoResult::kFailed;
    if (!WaitFor(transport_->fd(), wait, deadline)) return IoResult::kTimedOut;
  }
}

ssize_t ServerStream::read(char* ptr, size_t size) {
  if (cut_) return -1;
  if (buffer_begin_ == buffer_end_) {
    ssize_t n = ReceiveFromClient(buffer_.data(), buffer_.size());
    if (n <= 0) return n;
    buffer_begin_ = 0;
    buffer_end_ = static_cast<size_t>(n);
  }
  size_t n = std::min(size, buffer_end_ - buffer_begin_);
  std::memcpy(ptr, buffer_.data() + buffer_begin_, n);
  buffer_begin_ += n;
  if (phase_ == Phase::kHead) {
    TrackHead(ptr, n);
    if (phase_ == Phase::kHead && head_bytes_ > kMaxHeadBytes) {
      return Refuse(431, "request line and headers over " + std::to_string(kMaxHeadBytes) + " bytes");
    }
  }
  return static_cast<ssize_t>(n);
}

ssize_t ServerStream::ReceiveFromClient(char* ptr, size_t size) {
  const bool head = phase_ == Phase::kHead;
  auto deadline = Clock::now() + timeouts_.read;
  if (head) deadline = std::min(deadline, head_deadline_);
  read_pace_.Waiting();
  ssize_t moved = 0;
  switch (Receive(ptr, size, deadline, &moved)) {
    case IoResult::kDone: break;
    case IoResult::kClosed: return 0;
    case IoResult::kFailed: cut_ = true; return -1;
    case IoResult::kTimedOut:
      if (head && head_bytes_ == 0) {  // nothing of a request came: just close
        cut_ = true;
        return -1;
      }
      if (head && Clock::now() >= head_deadline_) {
        return Refuse(408, "request line and headers not received within " +
                               std::to_string(timeouts_.read.count()) + " ms");
      }
      return Refuse(408, "client silent for " + std::to_string(timeouts_.read.count()) + " ms mid-request");
  }
  if (!head && !read_pace_.Arrived(static_cast<size_t>(moved))) {
    return Refuse(408, "request body arrives too slowly (under " + std::to_string(BodyPace::kMinBytes) +
                           " bytes in " + std::to_string(timeouts_.read.count()) + " ms)");
  }
  return moved;
}

void ServerStream::TrackHead(const char* data, size_t size) {
  static constexpr char kEnd[] = "\r\n\r\n";
  for (size_t i = 0; i < size; ++i) {
    ++head_bytes_;
    if (data[i] == kEnd[head_end_matched_]) {
      if (++head_end_matched_ == 4) {
        phase_ = Phase::kBody;
        return;
      }
    } else {
      head_end_matched_ = data[i] == '\r' ? 1 : 0;
    }
  }
}

ssize_t ServerStream::write(const char* ptr, size_t size) {
  if (cut_) return -1;
  // "100 Continue" (cpp-httplib's answer to Expect) is not the answer: a
  // body that then fails can still be refused with one.
  static constexpr std::string_view kInterim = "HTTP/1.1 100 ";
  if (std::string_view(ptr, std::min(size, kInterim.size())) != kInterim) answered_ = true;
  ssize_t moved = 0;
  if (Send(ptr, size, Clock::now() + timeouts_.write, &moved) != IoResult::kDone) {
    cut_ = true;
    return -1;
  }
  return moved;
}

ssize_t ServerStream::Refuse(int status, const std::string& message) {
  DFS_LOG(WARN, "http") << Peer() << " " << status << ": " << message;
  if (!answered_) {
    const std::string answer = RefusalAnswer(status, message);
    const auto deadline = Clock::now() + timeouts_.write;
    size_t sent = 0;
    ssize_t moved = 0;
    while (sent < answer.size() &&
           Send(answer.data() + sent, answer.size() - sent, deadline, &moved) ==
               IoResult::kDone) {
      sent += static_cast<size_t>(moved);
    }
    answered_ = true;
  }
  cut_ = true;
  return -1;
}

void ServerStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  ip = SocketAddress(transport_->fd(), getpeername, &port);
}

void ServerStream::get_local_ip_and_port(std::string& ip, int& port) const {
  ip = SocketAddress(transport_->fd(), getsockname, &port);
}

std::string ServerStream::Peer() const { return PeerOf(transport_->fd()); }

}  // namespace dfs
