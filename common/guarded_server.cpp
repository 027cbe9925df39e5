#include "common/guarded_server.h"

#include <atomic>
#include <chrono>
#include <functional>

#include "common/server_stream.h"

namespace dfs {
namespace {

using std::chrono::milliseconds;

milliseconds ToMs(time_t sec, time_t usec) { return milliseconds(sec * 1000 + usec / 1000); }

}  // namespace

bool ServeRequests(ServerStream& stream, size_t max_requests, milliseconds idle, const std::function<bool()>& running,
                   const ProcessRequest& process) {
  bool ok = false;
  for (size_t served = 0; served < max_requests; ++served) {
    if (!stream.WaitForRequest(idle, running)) break;
    stream.BeginRequest();
    bool connection_closed = false;
    ok = process(stream, /*close_connection=*/served + 1 == max_requests, connection_closed);
    if (!ok || connection_closed || stream.cut()) break;
  }
  return ok;
}

bool GuardedServer::process_and_close_socket(socket_t sock) {
  auto transport = PlainTransport(UniqueFd(sock));
  if (!transport) return false;
  ServerStream stream(std::move(transport), {ToMs(read_timeout_sec_, read_timeout_usec_),
                                             ToMs(write_timeout_sec_, write_timeout_usec_)});
  bool ok = ServeRequests(stream, keep_alive_max_count_, milliseconds(keep_alive_timeout_sec_ * 1000),
                          [this] { return svr_sock_ != INVALID_SOCKET; },
                          [this](httplib::Stream& strm, bool close, bool& closed) {
                            return process_request(strm, close, closed, nullptr);
                          });
  stream.Close(ok);
  return ok;
}

bool GuardedSslServer::process_and_close_socket(socket_t sock) {
  const milliseconds read_timeout = ToMs(read_timeout_sec_, read_timeout_usec_);
  auto transport = AcceptTls(UniqueFd(sock), ssl_context(), read_timeout);
  if (!transport) return false;
  SSL* ssl = SslOf(*transport);
  ServerStream stream(std::move(transport), {read_timeout, ToMs(write_timeout_sec_, write_timeout_usec_)});
  bool ok = ServeRequests(stream, keep_alive_max_count_, milliseconds(keep_alive_timeout_sec_ * 1000),
                          [this] { return svr_sock_ != INVALID_SOCKET; },
                          [this, ssl](httplib::Stream& strm, bool close, bool& closed) {
                            return process_request(strm, close, closed, [ssl](httplib::Request& req) { req.ssl = ssl; });
                          });
  stream.Close(ok);
  return ok;
}

}  // namespace dfs
