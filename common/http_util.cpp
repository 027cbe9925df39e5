#include "common/http_util.h"

#include "common/security.h"

#include <openssl/rand.h>

#include <charconv>

namespace dfs {

std::string Endpoint::ToUrl() const { return scheme + "://" + host + ":" + std::to_string(port); }

namespace {
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
  return ep;
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

void SendError(httplib::Response& res, const Status& status) {
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
  // cpp-httplib owns the queue it is given and frees it with delete.
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
}

void InstallJsonErrorHandler(httplib::Server& server) {
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string code = res.status == 404 ? "not_found" : res.status == 413 ? "too_large" : "bad_request";
    std::string message = res.status == 404 ? "no such resource: " + req.method + " " + req.path
                                            : "request rejected (HTTP " + std::to_string(res.status) + ")";
    if (res.status >= 500) code = "internal";
    res.set_content(DumpLenient({{"error", code}, {"message", message}}), "application/json");
  });
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

}  // namespace dfs
