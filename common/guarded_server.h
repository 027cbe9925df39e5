// cpp-httplib servers whose connections wait for their requests in a
// HeadGate (head_gate.h) and are served by workers through ServerStream
// (server_stream.h): a slow, trickling or idle client holds no worker
// thread, and is cut off by deadlines. Routes, handlers and timeouts
// (set_read_timeout, set_write_timeout, set_keep_alive_*) are configured as
// on any httplib::Server; reading and writing connections differ, and so do
// the workers: each request whose head has arrived is admitted to the lane
// of its class (admission.h: control or data, each with its own threads and
// a bounded queue) or answered 503 with Retry-After when that lane is full.
// Accepted sockets get TCP_NODELAY: an answer written in pieces (a
// "100 Continue", then headers, then a body) must not wait for the client's
// delayed ACK of the previous piece.
#pragma once

#include <memory>
#include <mutex>
#include <utility>

#include <httplib.h>

#include "common/admission.h"

namespace dfs {

class ConnectionHub;
// Defined where ConnectionHub is complete (servers are built elsewhere).
struct ConnectionHubDeleter {
  void operator()(ConnectionHub* hub) const;
};

// What every Guarded server has, whatever its base: set before listening.
class Admitting {
 public:
  virtual ~Admitting() = default;
  AdmissionConfig& admission() { return admission_; }

 protected:
  AdmissionConfig admission_;
};

// The server's admission config when it is a Guarded one (nullptr otherwise).
AdmissionConfig* AdmissionOf(httplib::Server& server);

template <class Base>
class Guarded : public Base, public Admitting {
 public:
  // Base's constructor; data workers default to cpp-httplib's count
  // (UseThreadPool or admission() sets another).
  template <class... Args>
  explicit Guarded(Args&&... args) : Base(std::forward<Args>(args)...) {}
  ~Guarded() override;

 private:
  // cpp-httplib's accept loop hands each accepted socket to this virtual
  // (on its own small pool): it only passes it to the hub.
  bool process_and_close_socket(socket_t sock) override;
  ConnectionHub& Hub();

  std::once_flag hub_once_;
  std::unique_ptr<ConnectionHub, ConnectionHubDeleter> hub_;
};

using GuardedServer = Guarded<httplib::Server>;
using GuardedSslServer = Guarded<httplib::SSLServer>;

}  // namespace dfs
