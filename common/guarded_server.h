// cpp-httplib servers whose connections are served through ServerStream
// (server_stream.h), so slow or trickling clients are cut off by deadlines
// instead of holding a thread. Routes, handlers, thread pool, timeouts
// (set_read_timeout, set_write_timeout, set_keep_alive_*) are configured as
// on any httplib::Server; only reading and writing the connection differ.
#pragma once

#include <chrono>
#include <functional>

#include <httplib.h>

namespace dfs {

class ServerStream;

// cpp-httplib's keep-alive loop (detail::process_server_socket_core) over a
// ServerStream: up to `max_requests` requests, each within `idle` of the
// previous one, while `running` and until the connection is cut. `process`
// is Server::process_request. GuardedServer runs it for each connection (and
// the HTTP fuzz targets on their input).
using ProcessRequest = std::function<bool(httplib::Stream&, bool close_connection, bool& connection_closed)>;
bool ServeRequests(ServerStream& stream, size_t max_requests, std::chrono::milliseconds idle,
                   const std::function<bool()>& running, const ProcessRequest& process);

class GuardedServer : public httplib::Server {
 private:
  // cpp-httplib's accept loop hands each accepted socket to this virtual.
  bool process_and_close_socket(socket_t sock) override;
};

class GuardedSslServer : public httplib::SSLServer {
 public:
  GuardedSslServer(const char* cert_path, const char* key_path) : httplib::SSLServer(cert_path, key_path) {}

 private:
  bool process_and_close_socket(socket_t sock) override;
};

}  // namespace dfs
