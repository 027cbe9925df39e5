#include "common/guarded_server.h"

#include <chrono>
#include <functional>
#include <type_traits>

#include "common/head_gate.h"
#include "common/server_stream.h"
#include "common/worker_pool.h"

namespace dfs {

using std::chrono::milliseconds;

// The HeadGate and the workers of one server: a connection whose head has
// arrived is served one request by a worker, then goes back to the gate.
class ConnectionHub {
 public:
  struct Settings {
    ServerStream::Timeouts timeouts;
    milliseconds idle;
    size_t max_requests;  // per connection
  };
  using Process = std::function<bool(ServerStream&, bool close_connection, bool& connection_closed)>;

  ConnectionHub(Settings settings, std::unique_ptr<httplib::TaskQueue> workers, Process process,
                std::function<bool()> open)
      : settings_(settings),
        workers_(std::move(workers)),
        process_(std::move(process)),
        gate_({settings.timeouts.read, settings.idle},
              [this](std::shared_ptr<Connection> c) { workers_->enqueue([this, c] { Serve(c); }); },
              std::move(open)) {}

  ~ConnectionHub() {
    gate_.Stop();          // no more handing on; kept-alive connections are closed from now on
    workers_->shutdown();  // waits for the requests being served
  }

  void Accepted(std::unique_ptr<Transport> transport) {
    auto connection = std::make_shared<Connection>();
    connection->transport = std::move(transport);
    gate_.Accepted(std::move(connection));
  }

 private:
  void Serve(const std::shared_ptr<Connection>& c) {
    ServerStream stream(std::move(c->transport), std::move(c->received), settings_.timeouts);
    stream.BeginRequest();
    bool last = ++c->requests >= settings_.max_requests;
    bool closed = false;
    bool ok = process_(stream, /*close_connection=*/last, closed);
    if (ok && !closed && !last && !stream.cut()) {
      c->received = stream.TakeUnread();
      c->transport = stream.ReleaseTransport();
      gate_.KeepAlive(c);
      return;
    }
    stream.Close(ok);
  }

  const Settings settings_;
  std::unique_ptr<httplib::TaskQueue> workers_;
  const Process process_;
  HeadGate gate_;
};

httplib::TaskQueue* NewDefaultWorkerPool() { return new WorkerPool(CPPHTTPLIB_THREAD_POOL_COUNT); }

void ConnectionHubDeleter::operator()(ConnectionHub* hub) const { std::default_delete<ConnectionHub>()(hub); }

template <class Base>
Guarded<Base>::~Guarded() = default;

template <class Base>
ConnectionHub& Guarded<Base>::Hub() {
  std::call_once(hub_once_, [this] {
    auto ms = [](time_t sec, time_t usec) { return milliseconds(sec * 1000 + usec / 1000); };
    ConnectionHub::Settings settings{{ms(this->read_timeout_sec_, this->read_timeout_usec_),
                                      ms(this->write_timeout_sec_, this->write_timeout_usec_)},
                                     milliseconds(this->keep_alive_timeout_sec_ * 1000),
                                     this->keep_alive_max_count_};
    auto process = [this](ServerStream& stream, bool close, bool& closed) {
      if constexpr (std::is_base_of_v<httplib::SSLServer, Base>) {
        SSL* ssl = SslOf(stream.transport());
        return this->process_request(stream, close, closed, [ssl](httplib::Request& req) { req.ssl = ssl; });
      } else {
        return this->process_request(stream, close, closed, nullptr);
      }
    };
    auto hub = std::make_unique<ConnectionHub>(settings, std::unique_ptr<httplib::TaskQueue>(this->new_task_queue()),
                                               process, [this] { return this->svr_sock_ != INVALID_SOCKET; });
    hub_.reset(hub.release());  // to the deleter that can be declared without the type
  });
  return *hub_;
}

template <class Base>
bool Guarded<Base>::process_and_close_socket(socket_t sock) {
  std::unique_ptr<Transport> transport;
  if constexpr (std::is_base_of_v<httplib::SSLServer, Base>) {
    transport = StartTls(UniqueFd(sock), this->ssl_context());
  } else {
    transport = PlainTransport(UniqueFd(sock));
  }
  if (!transport) return false;
  Hub().Accepted(std::move(transport));
  return true;
}

template class Guarded<httplib::Server>;
template class Guarded<httplib::SSLServer>;

}  // namespace dfs
