// cpp-httplib servers whose connections wait for their requests in a
// HeadGate (head_gate.h) and are served by workers through ServerStream
// (server_stream.h): a slow, trickling or idle client holds no worker
// thread, and is cut off by deadlines. Routes, handlers, thread pool
// (new_task_queue: the workers), timeouts (set_read_timeout,
// set_write_timeout, set_keep_alive_*) are configured as on any
// httplib::Server; only reading and writing connections differ.
#pragma once

#include <memory>
#include <mutex>
#include <utility>

#include <httplib.h>

namespace dfs {

class ConnectionHub;
httplib::TaskQueue* NewDefaultWorkerPool();
// Defined where ConnectionHub is complete (servers are built elsewhere).
struct ConnectionHubDeleter {
  void operator()(ConnectionHub* hub) const;
};

template <class Base>
class Guarded : public Base {
 public:
  // Base's constructor; the workers default to cpp-httplib's count
  // (UseThreadPool sets another).
  template <class... Args>
  explicit Guarded(Args&&... args) : Base(std::forward<Args>(args)...) {
    this->new_task_queue = [] { return NewDefaultWorkerPool(); };
  }
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
