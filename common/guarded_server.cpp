#include "common/guarded_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <type_traits>

#include "common/head_gate.h"
#include "common/server_stream.h"

namespace dfs {

using std::chrono::milliseconds;

namespace {
// How long a worker waits for a kept-alive connection's next request
// before handing it back to the gate (only when no request waits for it).
constexpr std::chrono::microseconds kLinger{1000};
// Answering a busy refusal: each wait for the client is bounded by this.
constexpr milliseconds kRefusalTimeout{1000};
// Refusals are written (and a body the client still sends drained) here,
// not on the gate's thread; beyond this the connection is just closed.
constexpr LaneLimits kRefusalLane{2, 256};

void SetNoDelay(socket_t sock) {
  int one = 1;
  ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}
}  // namespace

// The HeadGate and the lanes of one server: a connection whose head has
// arrived is admitted to its request's lane and served by a worker there,
// then goes back to the gate. A client that sends its next request at once
// (a mount or a replicator: one request after another) has it served by the
// same worker when the head arrives within kLinger and nothing else waits
// for one: no hand-over to the gate's thread and back for each request.
class ConnectionHub {
 public:
  struct Settings {
    ServerStream::Timeouts timeouts;
    milliseconds idle;
    size_t max_requests;  // per connection
    AdmissionConfig admission;
  };
  using Process = std::function<bool(ServerStream&, bool close_connection, bool& connection_closed)>;

  ConnectionHub(Settings settings, Process process, std::function<bool()> open)
      : settings_(std::move(settings)),
        control_(settings_.admission.control),
        data_(settings_.admission.data),
        refusals_(kRefusalLane),
        process_(std::move(process)),
        gate_({settings_.timeouts.read, settings_.idle}, [this](std::shared_ptr<Connection> c) { Admit(std::move(c)); },
              std::move(open)) {}

  ~ConnectionHub() {
    gate_.Stop();  // no more handing on; kept-alive connections are closed from now on
    control_.Shutdown();  // each waits for the requests being served
    data_.Shutdown();
    refusals_.Shutdown();
  }

  void Accepted(std::unique_ptr<Transport> transport) {
    auto connection = std::make_shared<Connection>();
    connection->transport = std::move(transport);
    gate_.Accepted(std::move(connection));
  }

 private:
  // On the gate's thread: only decides and hands on.
  void Admit(std::shared_ptr<Connection> c) {
    const auto& admission = settings_.admission;
    const RequestClass cls = admission.classify ? admission.classify(PeekRequestLine(c->received)) : RequestClass::kData;
    Lane& lane = cls == RequestClass::kControl ? control_ : data_;
    if (lane.TryRun([this, c, &lane, cls] { Serve(c, lane, cls); })) return;
    if (admission.on_refused) admission.on_refused(cls);
    if (!refusals_.TryRun([this, c, cls] { RefuseBusy(c, cls); })) c->transport->Close(false);
  }

  void Serve(const std::shared_ptr<Connection>& c, const Lane& lane, RequestClass cls) {
    for (;;) {
      ServerStream stream(std::move(c->transport), std::move(c->received), settings_.timeouts);
      stream.BeginRequest();
      bool last = ++c->requests >= settings_.max_requests;
      bool closed = false;
      bool ok = process_(stream, /*close_connection=*/last, closed);
      if (!ok || closed || last || stream.cut()) {
        stream.Close(ok);
        return;
      }
      c->received = stream.TakeUnread();
      c->transport = stream.ReleaseTransport();
      if (!NextHeadHere(*c, lane, cls)) {
        gate_.KeepAlive(c);
        return;
      }
    }
  }

  // Whether this worker serves the connection's next request too: its whole
  // head arrived within kLinger (or was sent with the last one), it is of
  // this lane's class, another worker of the lane was free for new requests
  // (a lingering worker never makes the lane refuse one) and the server is
  // not stopping. What arrived stays in c.received either way.
  bool NextHeadHere(Connection& c, const Lane& lane, RequestClass cls) {
    if (!lane.HasIdleWorker() || gate_.stopped()) return false;
    const auto until = std::chrono::steady_clock::now() + kLinger;
    char buf[16 * 1024];
    while (c.received.find(kHeadEnd) == std::string::npos) {
      if (c.received.size() > ServerStream::kMaxHeadBytes) return false;  // the gate answers 431
      Transport::Wait wait = Transport::Wait::kNone;
      ssize_t n = c.transport->Recv(buf, sizeof buf, &wait);
      if (n > 0) {
        c.received.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0 || wait != Transport::Wait::kReadable) return false;  // closed or failed: the gate sees it
      const auto left = std::chrono::duration_cast<std::chrono::microseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{c.transport->fd(), POLLIN, 0};
      timespec ts{0, static_cast<long>(left.count()) * 1000};
      if (::ppoll(&p, 1, &ts, nullptr) <= 0) return false;
    }
    const auto& classify = settings_.admission.classify;
    const RequestClass next = classify ? classify(PeekRequestLine(c.received)) : RequestClass::kData;
    return next == cls;
  }

  // 503 with Retry-After, then closed (draining what the client still sends).
  void RefuseBusy(const std::shared_ptr<Connection>& c, RequestClass cls) {
    ServerStream stream(std::move(c->transport), std::string(), {kRefusalTimeout, kRefusalTimeout});
    const std::string answer = BusyAnswer(cls, settings_.admission.retry_after);
    for (size_t sent = 0; sent < answer.size();) {
      ssize_t n = stream.write(answer.data() + sent, answer.size() - sent);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    stream.Close(true);
  }

  const Settings settings_;
  Lane control_;
  Lane data_;
  Lane refusals_;
  const Process process_;
  HeadGate gate_;
};

AdmissionConfig* AdmissionOf(httplib::Server& server) {
  auto* admitting = dynamic_cast<Admitting*>(&server);
  return admitting ? &admitting->admission() : nullptr;
}

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
                                     this->keep_alive_max_count_, this->admission_};
    auto process = [this](ServerStream& stream, bool close, bool& closed) {
      if constexpr (std::is_base_of_v<httplib::SSLServer, Base>) {
        SSL* ssl = SslOf(stream.transport());
        return this->process_request(stream, close, closed, [ssl](httplib::Request& req) { req.ssl = ssl; });
      } else {
        return this->process_request(stream, close, closed, nullptr);
      }
    };
    auto hub = std::make_unique<ConnectionHub>(std::move(settings), process,
                                               [this] { return this->svr_sock_ != INVALID_SOCKET; });
    hub_.reset(hub.release());  // to the deleter that can be declared without the type
  });
  return *hub_;
}

template <class Base>
bool Guarded<Base>::process_and_close_socket(socket_t sock) {
  SetNoDelay(sock);
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
