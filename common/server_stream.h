// One accepted HTTP connection as cpp-httplib's Stream, with the deadlines
// cpp-httplib 0.11 lacks: it only bounds each single read, so a client that
// trickles its request one byte at a time held a server thread for as long
// as it liked. Here (as nginx's client_header_timeout and a minimum rate):
//  - a request's head (request line and headers) must arrive within the
//    read timeout of its first byte, and be at most kMaxHeadBytes: else 408
//    or 431 and the connection is closed;
//  - a body must bring at least BodyPace::kMinBytes per read timeout spent
//    waiting for it: else 408 and the connection is closed;
//  - a client silent for the read timeout mid-request gets 408 too;
//  - each wait for the client to take the answer is bounded by the write
//    timeout, as before.
// GuardedServer (guarded_server.h) serves connections through it, once
// HeadGate (head_gate.h) has seen a whole head arrive; the head deadline
// here guards the same for anything else that uses a ServerStream.
#pragma once

#include <openssl/ssl.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <httplib.h>

#include "common/http_util.h"
#include "common/unique_fd.h"

namespace dfs {

// A non-blocking byte pipe to the client: the plain socket or TLS over it.
class Transport {
 public:
  enum class Wait { kNone, kReadable, kWritable };
  virtual ~Transport() = default;
  // Bytes moved (> 0), 0 when the client closed (Recv only), or -1: then
  // `wait` says what the socket must become before trying again (kNone:
  // the connection failed).
  virtual ssize_t Recv(char* buf, size_t size, Wait* wait) = 0;
  virtual ssize_t Send(const char* buf, size_t size, Wait* wait) = 0;
  // One step of the TLS handshake (none for plain): true when done, else
  // false with `wait` as for Recv.
  virtual bool Handshake(Wait* wait) = 0;
  // Bytes already received and decoded but not yet returned (TLS records).
  virtual bool HasPending() const { return false; }
  // Ends our side (TLS close_notify, then FIN); the client can still send.
  virtual void ShutdownWrite() = 0;
  virtual void Close(bool graceful) = 0;
  virtual int fd() const = 0;
};

// Sets the socket non-blocking and owns it.
std::unique_ptr<Transport> PlainTransport(UniqueFd socket);
// TLS server side of `socket` with `ctx`, handshake not done yet.
std::unique_ptr<Transport> StartTls(UniqueFd socket, SSL_CTX* ctx);
// The SSL session of a TLS transport, nullptr for a plain one.
SSL* SslOf(Transport& transport);
// "ip:port" of the client on `fd`, for logs.
std::string PeerOf(int fd);
// A whole HTTP answer with our JSON error body and Connection: close, for a
// request refused before cpp-httplib parsed it (408, 431, or 503 when busy);
// `extra_headers`: more header lines, each ending in CRLF.
std::string RefusalAnswer(int status, const std::string& message, const std::string& extra_headers = "");

class ServerStream : public httplib::Stream {
 public:
  static constexpr size_t kMaxHeadBytes = 64 * 1024;
  struct Timeouts {
    std::chrono::milliseconds read{30000};
    std::chrono::milliseconds write{30000};
  };
  // `received`: bytes of the connection already read (by HeadGate).
  ServerStream(std::unique_ptr<Transport> transport, std::string received, Timeouts timeouts);
  ~ServerStream() override;

  // Starts the head deadline of the request that has begun arriving.
  void BeginRequest();
  // For keeping the connection after an answer: what was received but not
  // read yet (a pipelined next request), then the transport itself.
  std::string TakeUnread();
  std::unique_ptr<Transport> ReleaseTransport() { return std::move(transport_); }
  // Bytes received (or decrypted) that nobody read yet.
  bool HasUnread() const { return buffer_begin_ < buffer_end_ || transport_->HasPending(); }
  // True once the connection was cut (a refusal was answered or the client
  // failed a deadline): it must not serve another request.
  bool cut() const { return cut_; }
  // Closes the connection. When the client may still be sending (a request
  // answered before its body was read), our side is shut first and its
  // bytes are read and dropped until it pauses 200 ms (for 2 s at most):
  // closing a socket with unread input resets the connection, and a client
  // still sending would see an error instead of the answer.
  void Close(bool graceful);
  Transport& transport() { return *transport_; }

  // httplib::Stream
  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return transport_->fd(); }

 private:
  enum class Phase { kHead, kBody };
  using Clock = std::chrono::steady_clock;
  enum class IoResult { kDone, kClosed, kTimedOut, kFailed };

  // One Recv/Send, waiting up to `deadline` for the socket when needed.
  IoResult Receive(char* buf, size_t size, Clock::time_point deadline, ssize_t* moved);
  IoResult Send(const char* buf, size_t size, Clock::time_point deadline, ssize_t* moved);
  template <typename Op>
  IoResult Io(Op op, Clock::time_point deadline, ssize_t* moved);
  ssize_t ReceiveFromClient(char* ptr, size_t size);
  void TrackHead(const char* data, size_t size);
  // Answers `status` (408 or 431) with a JSON error (unless an answer was begun), logs,
  // and cuts the connection.
  ssize_t Refuse(int status, const std::string& message);
  std::string Peer() const;

  std::unique_ptr<Transport> transport_;
  Timeouts timeouts_;
  std::string buffer_;
  size_t buffer_begin_ = 0;
  size_t buffer_end_ = 0;

  Phase phase_ = Phase::kHead;
  Clock::time_point head_deadline_;
  size_t head_bytes_ = 0;
  int head_end_matched_ = 0;  // bytes of "\r\n\r\n" seen in a row
  bool answered_ = false;     // this request's answer has begun
  bool cut_ = false;
  BodyPace read_pace_;
};

}  // namespace dfs
