// Small helpers shared by every HTTP edge (servers and clients).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "common/status.h"

namespace dfs {

// Header names used between dfs processes.
inline constexpr const char* kMd5Header = "X-Dfs-Md5";          // md5 hex of the whole body/file
inline constexpr const char* kContentMd5Header = "Content-MD5";  // RFC 1864: md5 base64 of the body
// On a blob PUT to a node, instead of an md5: the CRC-32 of the body
// (common/crc32.h); the node hashes the md5 itself and answers it.
inline constexpr const char* kCrc32Header = "X-Dfs-Crc32";
inline constexpr const char* kNodeHeader = "X-Dfs-Node";        // node id that served a read
// On a node's blob GET: "blocks" when every byte of the answer is checked
// against its block's md5 before it leaves the node (absent for old blobs
// without block sums, which the master then hashes itself).
inline constexpr const char* kVerifiedHeader = "X-Dfs-Verified";
inline constexpr const char* kRequestIdHeader = "X-Request-Id";  // follows a request across hops
// A client's name for one upload, the same on every retry of it: a PUT whose
// answer was lost is answered again instead of being stored twice.
inline constexpr const char* kIdempotencyKeyHeader = "Idempotency-Key";
inline constexpr const char* kReplayedHeader = "Idempotent-Replayed";  // "true" on such an answer

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

// Binds `server` to host:port, for listen_after_bind(). Unlike cpp-httplib's
// defaults: no SO_REUSEPORT (with it a second process silently shares a port
// already in use, and gets half its connections), and a listen backlog of
// kListenBacklog instead of 5 (a burst of clients then waits in the kernel
// instead of having its SYNs dropped and retried after seconds).
constexpr int kListenBacklog = 1024;
bool BindServer(httplib::Server& server, const std::string& host, int port);

// Percent-encodes everything but unreserved characters and '/'.
std::string EncodePathForUrl(std::string_view path);
// Percent-encodes for a query parameter value ('/' is encoded too).
std::string EncodeQueryValue(std::string_view value);

// {"error": code_name, "message": message} with the status's HTTP code
// (and Retry-After: 1 on a 503).
void SendError(httplib::Response& res, const Status& status);
void SendJson(httplib::Response& res, int http_status, const nlohmann::json& body);

// Turns a client call's outcome into a Status: transport errors become
// Unavailable, HTTP errors are decoded from the JSON error body.
Status StatusFromResult(const httplib::Result& result);
Status StatusFromResponse(int http_status, const std::string& body);

// The md5 a request declares for its body, as 32 lower-case hex digits:
// X-Dfs-Md5 (hex, any case) and/or the standard Content-MD5 (base64); empty
// when it has neither. InvalidArgument (400) when one is malformed or the
// two disagree.
Result<std::string> DeclaredMd5(const httplib::Request& req);

// `X-Dfs-Md5: trailing` (a PUT whose sender learns the md5 only as the body
// ends: the mount's write-behind): the body is the file's bytes followed by
// their md5 as 32 hex digits. A server that does not know this framing
// refuses the header (not an md5), so it never stores the md5 as file bytes.
inline constexpr const char* kMd5Trailing = "trailing";
inline constexpr size_t kMd5HexLength = 32;

// Splits such a body as it arrives: Pass hands `next` every byte except the
// last kMd5HexLength seen so far; at the end, Md5() is those held back.
class Md5Trailer {
 public:
  [[nodiscard]] Status Pass(const char* data, size_t len, const std::function<Status(const char*, size_t)>& next);
  // The trailing md5 (lower case); InvalidArgument when the body was shorter
  // than one or its last 32 bytes are not hex.
  Result<std::string> Md5() const;
  size_t held() const { return tail_.size(); }

 private:
  std::string tail_;  // at most kMd5HexLength bytes
};

// Retry decision shared by the master (node writes), the CLI and the mount:
// transport failures, 5xx and 507 may succeed elsewhere or later; 4xx never.
bool IsRetryable(const Status& status);

// Installs a thread pool of `threads` workers on the server (cpp-httplib's
// default is max(8, cores-1), too few for many slow streaming clients); on a
// Guarded server (guarded_server.h) these are the data lane's workers.
void UseThreadPool(httplib::Server& server, size_t threads);

// Errors cpp-httplib produces itself get the same JSON body as ours, with a
// code for each status: 400 bad_request, 404 not_found, 405
// method_not_allowed (a method no route serves), 413 too_large, 414
// uri_too_long (request line over 8 KiB), 416 bad_range (malformed Range),
// 431 headers_too_large (a header line over 8 KiB). Error bodies are never
// cut by a Range header.
void InstallJsonErrorHandler(httplib::Server& server);
// The "error" code of our JSON error bodies for an HTTP status (see above).
const char* ErrorCodeForStatus(int status);

// Sends the JSON error and then closes the connection: for answers given
// before (or instead of) reading the whole request body, whose unread rest
// must not be parsed as the next request.
void SendErrorAndClose(httplib::Response& res, const Status& status);
void SendJsonAndClose(httplib::Response& res, int http_status, const nlohmann::json& body);

// Framing and size checks made before routing (see RejectBadRequest).
struct RequestLimits {
  size_t max_headers = 100;              // more header lines: 431
  uint64_t max_buffered_body = 1 << 20;  // bodies cpp-httplib reads into memory: 413 above this
  // Routes whose handlers stream the body themselves (file and blob
  // uploads): they take chunked bodies and check their own size limit.
  std::function<bool(const httplib::Request&)> streams_body;
};

// Answers (and returns true) when the request must not reach its handler:
// too many headers (431), a malformed or repeated Content-Length, a
// Transfer-Encoding other than chunked or together with Content-Length
// (400), a POST/PUT/PATCH with no length at all (411; cpp-httplib would read
// it until the client hangs up), a chunked body or one over
// max_buffered_body for a route that is not streamed (411/413).
bool RejectBadRequest(const httplib::Request& req, httplib::Response& res, const RequestLimits& limits);

// The request's Content-Length when it has a valid one.
std::optional<uint64_t> RequestContentLength(const httplib::Request& req);

// Requests one kept-alive connection serves before the server closes it (as nginx's keepalive_requests).
inline constexpr size_t kKeepAliveRequests = 1000;

// Read timeout of the server (a client silent this long mid-request is cut
// off with 400 and its thread freed); idle keep-alive connections are closed
// after the same time (at least 1 s, at most cpp-httplib's default 5 s), and
// any after kKeepAliveRequests requests.
void SetReadTimeout(httplib::Server& server, std::chrono::milliseconds timeout);

// Guards a request body against clients that trickle it (a client that
// stops entirely is cut by the read timeout): while the server waits for
// the body, every `window` (the read timeout) must bring at least kMinBytes,
// else Arrived() answers false (408). Time the handler spends on the data
// (between Arrived() and the next Waiting()) does not count. ServerStream
// applies it to every request body.
class BodyPace {
 public:
  static constexpr uint64_t kMinBytes = 4096;
  explicit BodyPace(std::chrono::milliseconds window);
  void Waiting();
  bool Arrived(size_t bytes);

 private:
  std::chrono::steady_clock::duration window_;
  std::chrono::steady_clock::duration waited_{0};
  std::chrono::steady_clock::time_point last_;
  uint64_t bytes_ = 0;
};

// Limits on a streamed upload (a file PUT on the master, a blob PUT on a node).
struct UploadLimits {
  uint64_t max_bytes = 0;  // 0: no limit; above it: 413
  std::chrono::milliseconds read_timeout{30000};  // the server's (SetReadTimeout)
};

// Reads a streamed upload under UploadLimits: Content-Length is checked
// before anything is read, the byte count as the body arrives (the pace is
// the server's: ServerStream). A refusal is answered with SendRefusal(),
// which closes the connection (the rest of the body is never read).
class UploadGuard {
 public:
  explicit UploadGuard(const UploadLimits& limits) : limits_(limits) {}
  // False (and a refusal) when the declared Content-Length is over the limit
  // (plus `overhead`: framing around the data, as in a multipart body).
  bool CheckDeclaredLength(const httplib::Request& req, uint64_t overhead = 0);
  // For each chunk before it is used: false (and a refusal) when the data
  // goes over the limit (chunks with `counts` false are framing).
  bool Arrived(size_t len, bool counts = true);
  bool refused() const { return refusal_status_ != 0; }
  void SendRefusal(httplib::Response& res) const;
  // Answers `status` for a request refused before its body was used. The
  // body is read and dropped first: many HTTP clients (cpp-httplib among
  // them) report a server that answers mid-upload as a broken connection
  // and never see the answer. A body over the limit is not drained: the
  // connection is closed.
  void Reject(const httplib::ContentReader& reader, httplib::Response& res, const Status& status);

 private:
  UploadLimits limits_;
  uint64_t received_ = 0;
  int refusal_status_ = 0;
  std::string refusal_message_;
};

std::string RandomHex(size_t bytes);

// Raises this process's open-file limit to its hard limit: every client
// waiting for a server (HeadGate) holds a descriptor, and the usual soft
// limit of 1024 would make a few hundred slow clients lock everyone out.
void RaiseOpenFileLimit();

}  // namespace dfs
