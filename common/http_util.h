// Small helpers shared by every HTTP edge (servers and clients).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "common/status.h"

namespace dfs {

// Header names used between dfs processes.
inline constexpr const char* kMd5Header = "X-Dfs-Md5";          // md5 hex of the whole body/file
inline constexpr const char* kNodeHeader = "X-Dfs-Node";        // node id that served a read
inline constexpr const char* kRequestIdHeader = "X-Request-Id";  // follows a request across hops

struct Endpoint {
  std::string scheme = "http";
  std::string host;
  int port = 0;
  std::string ToUrl() const;  // "http://host:port"
};

// Accepts "http://host:port", "host:port", "http://host:port/"; port defaults to 80.
Result<Endpoint> ParseEndpoint(std::string_view url);
// "127.0.0.1:8820" -> host and port (for --listen).
Result<Endpoint> ParseListen(std::string_view listen);

struct ClientTimeouts {
  std::chrono::milliseconds connect{2000};
  std::chrono::milliseconds read{30000};
  std::chrono::milliseconds write{30000};
};

// A client with our defaults: timeouts, no automatic URL encoding (callers
// pass paths already encoded with EncodePathForUrl), keep-alive.
std::unique_ptr<httplib::Client> MakeClient(const Endpoint& ep, const ClientTimeouts& t = {});

// Percent-encodes everything but unreserved characters and '/'.
std::string EncodePathForUrl(std::string_view path);
// Percent-encodes for a query parameter value ('/' is encoded too).
std::string EncodeQueryValue(std::string_view value);

// {"error": code_name, "message": message} with the status's HTTP code.
void SendError(httplib::Response& res, const Status& status);
void SendJson(httplib::Response& res, int http_status, const nlohmann::json& body);

// Turns a client call's outcome into a Status: transport errors become
// Unavailable, HTTP errors are decoded from the JSON error body.
Status StatusFromResult(const httplib::Result& result);
Status StatusFromResponse(int http_status, const std::string& body);

// Retry decision shared by the master (node writes), the CLI and the mount:
// transport failures, 5xx and 507 may succeed elsewhere or later; 4xx never.
bool IsRetryable(const Status& status);

// Installs a thread pool of `threads` workers on the server (cpp-httplib's
// default is max(8, cores-1), too few for many slow streaming clients).
void UseThreadPool(httplib::Server& server, size_t threads);

// Errors cpp-httplib produces itself (no route: 404, bad request line: 400)
// get the same JSON body as ours.
void InstallJsonErrorHandler(httplib::Server& server);

std::string RandomHex(size_t bytes);

}  // namespace dfs
