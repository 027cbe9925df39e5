#include "common/http_util.h"

#include <openssl/rand.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "common/guarded_server.h"
#include "common/log.h"
#include "common/md5.h"
#include "common/security.h"
#include "common/worker_pool.h"

namespace dfs {

std::string Endpoint::ToUrl() const { return scheme + "://" + host + ":" + std::to_string(port); }

namespace {
// A DNS name or IPv4 address (letters, digits, '-', '.', '_'), or an IPv6
// address in brackets. Anything else (a '/', a space, a second scheme) would
// make a URL that means something else.
bool IsValidHost(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return false;
    for (char c : host.substr(1, host.size() - 2)) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
    }
    return true;
  }
  for (char c : host) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') return false;
  }
  return true;
}

Result<int> ParsePort(std::string_view s) {
  int port = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
  if (ec != std::errc() || ptr != s.data() + s.size() || port <= 0 || port > 65535) {
    return Status::InvalidArgument("bad port '" + std::string(s) + "'");
  }
  return port;
}
}  // namespace

Result<Endpoint> ParseEndpoint(std::string_view url) {
  Endpoint ep;
  if (auto pos = url.find("://"); pos != std::string_view::npos) {
    ep.scheme = std::string(url.substr(0, pos));
    url.remove_prefix(pos + 3);
    if (ep.scheme != "http" && ep.scheme != "https") {
      return Status::InvalidArgument("unsupported URL scheme '" + ep.scheme + "'");
    }
  }
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  if (url.find('/') != std::string_view::npos) {
    return Status::InvalidArgument("URL must not have a path: '" + std::string(url) + "'");
  }
  auto colon = url.rfind(':');
  if (colon == std::string_view::npos) {
    ep.host = std::string(url);
    ep.port = ep.scheme == "https" ? 443 : 80;
  } else {
    ep.host = std::string(url.substr(0, colon));
    auto port = ParsePort(url.substr(colon + 1));
    if (!port.ok()) return port.status();
    ep.port = *port;
  }
  if (ep.host.empty()) return Status::InvalidArgument("URL has no host");
  if (!IsValidHost(ep.host)) return Status::InvalidArgument("bad host '" + ep.host + "' in URL");
  return ep;
}

Result<Endpoint> ParseListen(std::string_view listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string_view::npos) return Status::InvalidArgument("--listen wants HOST:PORT");
  Endpoint ep;
  ep.host = std::string(listen.substr(0, colon));
  auto port = ParsePort(listen.substr(colon + 1));
  if (!port.ok()) return port.status();
  ep.port = *port;
  if (ep.host.empty()) return Status::InvalidArgument("--listen wants HOST:PORT");
  if (!IsValidHost(ep.host)) return Status::InvalidArgument("bad host '" + ep.host + "' in --listen");
  return ep;
}

namespace {
void ReuseAddressOnly(socket_t sock) {
  int yes = 1;
  ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}
}  // namespace

bool BindServer(httplib::Server& server, const std::string& host, int port) {
  auto listening = std::make_shared<socket_t>(INVALID_SOCKET);
  server.set_socket_options([listening](socket_t sock) {
    ReuseAddressOnly(sock);
    *listening = sock;  // the last socket tried is the one that was bound
  });
  const bool bound = server.bind_to_port(host, port);
  server.set_socket_options(ReuseAddressOnly);
  // Linux takes a new backlog from a second listen() on a listening socket.
  if (bound && *listening != INVALID_SOCKET) ::listen(*listening, kListenBacklog);
  return bound;
}

std::unique_ptr<httplib::Client> MakeClient(const Endpoint& ep, const ClientTimeouts& t) {
  auto cli = std::make_unique<httplib::Client>(ep.ToUrl());
  const auto& security = Security();
  if (!security.token.empty()) cli->set_bearer_token_auth(security.token.c_str());
  if (ep.scheme == "https") {
    if (!security.tls_ca.empty()) cli->set_ca_cert_path(security.tls_ca.c_str());
    cli->enable_server_certificate_verification(true);
  }
  cli->set_connection_timeout(t.connect);
  cli->set_read_timeout(t.read);
  cli->set_write_timeout(t.write);
  cli->set_url_encode(false);
  cli->set_keep_alive(true);
  // The request head and the body go out as separate writes: without it the
  // body waits for the server's delayed ACK of the head (~40 ms).
  cli->set_tcp_nodelay(true);
  return cli;
}

namespace {
std::string Encode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    bool unreserved = (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') ||
                      u == '-' || u == '_' || u == '.' || u == '~';
    if (unreserved || (keep_slash && u == '/')) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    }
  }
  return out;
}
}  // namespace

std::string EncodePathForUrl(std::string_view path) { return Encode(path, true); }
std::string EncodeQueryValue(std::string_view value) { return Encode(value, false); }

namespace {
// Messages quote what the client sent (paths, names), which need not be
// UTF-8: replace bad bytes instead of throwing from dump().
std::string DumpLenient(const nlohmann::json& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}
}  // namespace

void SendJson(httplib::Response& res, int http_status, const nlohmann::json& body) {
  res.status = http_status;
  res.set_content(DumpLenient(body), "application/json");
}

namespace {
// Every 503 says when to come back (RFC 9110 15.6.4), as a full lane's does.
void SetRetryAfter(httplib::Response& res, const Status& status) {
  if (status.http_status() == 503) res.set_header("Retry-After", "1");
}
}  // namespace

void SendError(httplib::Response& res, const Status& status) {
  SetRetryAfter(res, status);
  SendJson(res, status.http_status(),
           {{"error", std::string(status.code_name())}, {"message", status.message()}});
}

Status StatusFromResponse(int http_status, const std::string& body) {
  if (http_status >= 200 && http_status < 300) return Status::OK();
  std::string code;
  std::string message = "HTTP " + std::to_string(http_status);
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_object()) {
    if (auto it = json.find("error"); it != json.end() && it->is_string()) code = *it;
    if (auto it = json.find("message"); it != json.end() && it->is_string()) message = *it;
  }
  return Status::FromHttp(http_status, code, message);
}

Status StatusFromResult(const httplib::Result& result) {
  if (!result) return Status::Unavailable("connection failed: " + httplib::to_string(result.error()));
  return StatusFromResponse(result->status, result->body);
}

Result<std::string> DeclaredMd5(const httplib::Request& req) {
  std::string hex = req.get_header_value(kMd5Header);
  if (!hex.empty() && !Md5::IsValidHex(hex)) return Status::InvalidArgument("X-Dfs-Md5 must be 32 hex digits");
  for (char& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!req.has_header(kContentMd5Header)) return hex;
  auto from_base64 = Md5::HexFromBase64(req.get_header_value(kContentMd5Header));
  if (!from_base64) return Status::InvalidArgument("Content-MD5 must be the base64 of 16 bytes (24 characters)");
  if (!hex.empty() && hex != *from_base64) {
    return Status::InvalidArgument("X-Dfs-Md5 and Content-MD5 name different md5s");
  }
  return *from_base64;
}

Status Md5Trailer::Pass(const char* data, size_t len, const std::function<Status(const char*, size_t)>& next) {
  if (len >= kMd5HexLength) {  // everything held and all but the last 32 bytes of this piece go on
    if (!tail_.empty()) {
      if (Status st = next(tail_.data(), tail_.size()); !st.ok()) return st;
    }
    tail_.assign(data + len - kMd5HexLength, kMd5HexLength);
    return len > kMd5HexLength ? next(data, len - kMd5HexLength) : Status::OK();
  }
  tail_.append(data, len);
  if (tail_.size() <= kMd5HexLength) return Status::OK();
  const size_t out = tail_.size() - kMd5HexLength;
  std::string passed = tail_.substr(0, out);
  tail_.erase(0, out);
  return next(passed.data(), passed.size());
}

Result<std::string> Md5Trailer::Md5() const {
  if (tail_.size() < kMd5HexLength || !Md5::IsValidHex(tail_)) {
    return Status::InvalidArgument("the body does not end with its md5 (32 hex digits), as X-Dfs-Md5: trailing says");
  }
  std::string hex = tail_;
  for (char& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return hex;
}

bool IsRetryable(const Status& status) {
  switch (status.code()) {
    case Code::kUnavailable:
    case Code::kIOError:
    case Code::kInternal:
    case Code::kNoSpace:
      return true;
    default:
      return false;
  }
}

void UseThreadPool(httplib::Server& server, size_t threads) {
  if (AdmissionConfig* admission = AdmissionOf(server)) {
    admission->data.threads = threads;
    return;
  }
  // cpp-httplib owns the queue it is given and frees it with delete.
  server.new_task_queue = [threads] { return new WorkerPool(threads); };
}

namespace {
bool IsServedMethod(const std::string& method) {
  return method == "GET" || method == "HEAD" || method == "POST" || method == "PUT" || method == "PATCH" ||
         method == "DELETE";
}

// cpp-httplib adds these to every request it has parsed the headers of.
constexpr size_t kLibraryHeaders = 4;  // REMOTE_ADDR, REMOTE_PORT, LOCAL_ADDR, LOCAL_PORT

}  // namespace

const char* ErrorCodeForStatus(int status) {
  switch (status) {
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 408: return "timeout";
    case 411: return "length_required";
    case 413: return "too_large";
    case 414: return "uri_too_long";
    case 416: return "bad_range";
    case 431: return "headers_too_large";
    case 503: return "unavailable";
    default: return status >= 500 ? "internal" : "bad_request";
  }
}

void InstallJsonErrorHandler(httplib::Server& server) {
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    // cpp-httplib applies the request's Range to whatever body is sent, error
    // bodies included (a 404 would arrive as a slice of its JSON). The
    // Request object is the server's own non-const one.
    const_cast<httplib::Request&>(req).ranges.clear();
    if (!res.body.empty() || res.content_provider_) return;
    std::string message;
    if (res.status == 400 && !req.has_header("REMOTE_ADDR")) {
      // Rejected before routing. A parsed request line (path set) means the
      // headers failed: cpp-httplib refuses a header line over 8 KiB (or the
      // client went silent mid-headers). Otherwise the request line was bad:
      // an unknown method token is 405, anything else 400.
      bool token_method = !req.method.empty() && req.method.size() <= 32 &&
                          std::all_of(req.method.begin(), req.method.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
      if (!req.path.empty()) {
        res.status = 431;
        message = "a request header line is longer than 8192 bytes";
      } else if (token_method && !IsServedMethod(req.method) && req.target.size() > 0 &&
                 (req.version == "HTTP/1.1" || req.version == "HTTP/1.0")) {
        res.status = 405;
      } else {
        message = "malformed request line";
      }
    } else if ((res.status == 400 || res.status == 404) && !IsServedMethod(req.method)) {
      res.status = 405;  // TRACE, OPTIONS, CONNECT: no route serves them
    }
    if (res.status == 405) {
      res.set_header("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE");
      message = "method " + req.method + " is not allowed";
    }
    if (res.status == 404) message = "no such resource: " + req.method + " " + req.path;
    if (res.status == 414) message = "request line is longer than 8192 bytes";
    if (res.status == 416) message = "malformed Range header";
    if (message.empty()) message = "request rejected (HTTP " + std::to_string(res.status) + ")";
    res.set_content(DumpLenient({{"error", ErrorCodeForStatus(res.status)}, {"message", message}}), "application/json");
  });
}

void SendJsonAndClose(httplib::Response& res, int http_status, const nlohmann::json& body) {
  res.status = http_status;
  res.set_header("Connection", "close");
  auto text = std::make_shared<std::string>(DumpLenient(body));
  // The provider writes the whole body, then fails: cpp-httplib then closes
  // the connection instead of reading the rest of the request as a new one.
  res.set_content_provider(text->size(), "application/json",
                           [text](size_t offset, size_t length, httplib::DataSink& sink) {
                             sink.write(text->data() + offset, length);
                             return false;
                           });
}

void SendErrorAndClose(httplib::Response& res, const Status& status) {
  SetRetryAfter(res, status);
  SendJsonAndClose(res, status.http_status(),
                   {{"error", std::string(status.code_name())}, {"message", status.message()}});
}

std::optional<uint64_t> RequestContentLength(const httplib::Request& req) {
  if (req.get_header_value_count("Content-Length") != 1) return std::nullopt;
  const std::string v = req.get_header_value("Content-Length");
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || ptr != v.data() + v.size()) return std::nullopt;
  return n;
}

bool RejectBadRequest(const httplib::Request& req, httplib::Response& res, const RequestLimits& limits) {
  auto reject = [&res](int status, const std::string& message, bool close) {
    nlohmann::json body = {{"error", ErrorCodeForStatus(status)}, {"message", message}};
    if (close) return SendJsonAndClose(res, status, body), true;
    return SendJson(res, status, body), true;
  };
  if (limits.max_headers > 0 && req.headers.size() > limits.max_headers + kLibraryHeaders) {
    return reject(431, "more than " + std::to_string(limits.max_headers) + " request headers", true);
  }
  const bool has_length = req.has_header("Content-Length");
  const auto length = RequestContentLength(req);
  if (has_length && !length) {
    bool same = true;  // repeated headers are fine only when they agree
    for (size_t i = 1; i < req.get_header_value_count("Content-Length"); ++i) {
      same = same && req.get_header_value("Content-Length", i) == req.get_header_value("Content-Length");
    }
    if (!same || req.get_header_value_count("Content-Length") == 1) {
      return reject(400, "malformed or conflicting Content-Length", true);
    }
  }
  const bool has_encoding = req.has_header("Transfer-Encoding");
  if (has_encoding) {
    std::string te = req.get_header_value("Transfer-Encoding");
    for (char& c : te) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (te != "chunked" || req.get_header_value_count("Transfer-Encoding") != 1) {
      return reject(400, "only Transfer-Encoding: chunked is supported", true);
    }
    if (has_length) return reject(400, "both Content-Length and Transfer-Encoding", true);
  }
  const bool wants_body = req.method == "POST" || req.method == "PUT" || req.method == "PATCH";
  if (wants_body && !has_length && !has_encoding) {
    return reject(411, "a " + req.method + " needs a Content-Length (or a chunked body)", true);
  }
  if (limits.streams_body && limits.streams_body(req)) return false;
  if (has_encoding) return reject(411, "this route needs a Content-Length, not a chunked body", true);
  if (length && limits.max_buffered_body > 0 && *length > limits.max_buffered_body) {
    return reject(413, "request body is larger than " + std::to_string(limits.max_buffered_body) + " bytes",
                  true);
  }
  return false;
}

void SetReadTimeout(httplib::Server& server, std::chrono::milliseconds timeout) {
  server.set_read_timeout(timeout);
  auto seconds = std::clamp<time_t>((timeout.count() + 999) / 1000, 1, 5);
  server.set_keep_alive_timeout(seconds);
  // cpp-httplib closes a connection after 5 requests by default: a mount,
  // master or replicator making hundreds a second would then pay a new TCP
  // connection (and the server a TIME_WAIT socket) every fifth request.
  server.set_keep_alive_max_count(kKeepAliveRequests);
}

BodyPace::BodyPace(std::chrono::milliseconds window) : window_(window), last_(std::chrono::steady_clock::now()) {}

void BodyPace::Waiting() { last_ = std::chrono::steady_clock::now(); }

bool BodyPace::Arrived(size_t bytes) {
  waited_ += std::chrono::steady_clock::now() - last_;
  bytes_ += bytes;
  if (waited_ < window_) return true;
  if (bytes_ < kMinBytes) return false;
  waited_ = {};
  bytes_ = 0;
  return true;
}


bool UploadGuard::CheckDeclaredLength(const httplib::Request& req, uint64_t overhead) {
  auto length = RequestContentLength(req);
  if (limits_.max_bytes > 0 && length && *length > limits_.max_bytes + overhead) {
    refusal_status_ = 413;
    refusal_message_ = "request body of " + std::to_string(*length) + " bytes is over the limit of " +
                       std::to_string(limits_.max_bytes) + " bytes";
    return false;
  }
  return true;
}

bool UploadGuard::Arrived(size_t len, bool counts) {
  if (counts) received_ += len;
  if (limits_.max_bytes > 0 && received_ > limits_.max_bytes) {
    refusal_status_ = 413;
    refusal_message_ = "request body is over the limit of " + std::to_string(limits_.max_bytes) + " bytes";
    return false;
  }
  return true;
}

void UploadGuard::Reject(const httplib::ContentReader& reader, httplib::Response& res, const Status& status) {
  reader([this](const char*, size_t len) { return Arrived(len); });
  refused() ? SendErrorAndClose(res, status) : SendError(res, status);
}

void UploadGuard::SendRefusal(httplib::Response& res) const {
  SendJsonAndClose(res, refusal_status_, {{"error", ErrorCodeForStatus(refusal_status_)}, {"message", refusal_message_}});
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    DFS_LOG(WARN, "http") << "cannot raise the open-file limit: " << std::strerror(errno);
  }
}

}  // namespace dfs
