#include "common/http_metrics.h"

#include <charconv>
#include <chrono>

#include "common/guarded_server.h"
#include "common/http_util.h"
#include "common/log.h"

namespace dfs {

namespace {
// cpp-httplib runs a request's routing and its logger on the same thread.
thread_local std::chrono::steady_clock::time_point t_request_start{};

uint64_t HeaderNumber(const httplib::Headers& headers, const char* name) {
  auto it = headers.find(name);
  if (it == headers.end()) return 0;
  uint64_t n = 0;
  std::from_chars(it->second.data(), it->second.data() + it->second.size(), n);
  return n;
}
}  // namespace

std::string RouteLabel(const std::string& path, const std::vector<std::string>& routes) {
  const std::string* best = nullptr;
  for (const auto& r : routes) {
    bool match = path == r || (r != "/" && path.size() > r.size() && path.compare(0, r.size(), r) == 0 &&
                               path[r.size()] == '/');
    if (match && (!best || r.size() > best->size())) best = &r;
  }
  return best ? *best : "other";
}

void InstrumentServer(httplib::Server& server, metrics::Registry& registry, const std::string& component,
                      std::vector<std::string> routes, AuthPolicy auth, RequestLimits limits) {
  routes.push_back("/metrics");
  if (AdmissionConfig* admission = AdmissionOf(server)) {
    auto busy = [&registry](const char* cls) {
      return &registry.GetCounter("dfs_http_busy_total", "requests answered 503 + Retry-After: their lane was full",
                                  {{"class", cls}});
    };
    admission->on_refused = [control = busy("control"), data = busy("data")](RequestClass c) {
      (c == RequestClass::kControl ? control : data)->Add();
    };
  }
  server.Get("/metrics", [&registry](const httplib::Request&, httplib::Response& res) {
    res.set_content(registry.Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server.set_pre_routing_handler([auth = std::move(auth), limits = std::move(limits)](const httplib::Request& req,
                                                                                      httplib::Response& res) {
    t_request_start = std::chrono::steady_clock::now();
    Status allowed = Authorize(req, auth);
    if (allowed.ok()) {
      return RejectBadRequest(req, res, limits) ? httplib::Server::HandlerResponse::Handled
                                                : httplib::Server::HandlerResponse::Unhandled;
    }
    if (allowed.code() == Code::kUnauthenticated) res.set_header("WWW-Authenticate", "Bearer realm=\"dfs\"");
    // The body is not read: close rather than parse it as the next request.
    bool has_body = RequestContentLength(req).value_or(0) > 0 || req.has_header("Transfer-Encoding");
    has_body ? SendErrorAndClose(res, allowed) : SendError(res, allowed);
    return httplib::Server::HandlerResponse::Handled;
  });
  server.set_logger([&registry, component, routes](const httplib::Request& req, const httplib::Response& res) {
    const std::string route = RouteLabel(req.path, routes);
    const std::string status = std::to_string(res.status);
    registry
        .GetCounter("dfs_http_requests_total", "HTTP requests answered, by route, method and status",
                    {{"route", route}, {"method", req.method}, {"status", status}})
        .Add();
    uint64_t in = std::max<uint64_t>(HeaderNumber(req.headers, "Content-Length"), req.body.size());
    uint64_t out = std::max<uint64_t>(HeaderNumber(res.headers, "Content-Length"), res.body.size());
    registry.GetCounter("dfs_http_received_bytes_total", "request body bytes received", {{"route", route}}).Add(in);
    registry.GetCounter("dfs_http_sent_bytes_total", "response body bytes sent", {{"route", route}}).Add(out);
    double seconds = -1;
    if (t_request_start != std::chrono::steady_clock::time_point{}) {
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_request_start).count();
      t_request_start = {};
      registry
          .GetHistogram("dfs_http_request_duration_seconds", "time from routing to the end of the response",
                        {{"route", route}, {"method", req.method}})
          .Observe(seconds);
    }
    std::string id = req.get_header_value(kRequestIdHeader);
    DFS_LOG(DEBUG, component) << "http " << req.method << " " << req.path << " status=" << res.status
                              << " bytes_in=" << in << " bytes_out=" << out << " ms="
                              << static_cast<long>(seconds * 1000) << " req=" << (id.empty() ? "-" : id);
  });
}

MetricsServer::MetricsServer(std::unique_ptr<httplib::Server> server, metrics::Registry& registry,
                             std::string component)
    : server_(std::move(server)) {
  UseThreadPool(*server_, 4);
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) { SendJson(res, 200, {{"status", "ok"}}); });
  InstrumentServer(*server_, registry, component, {"/healthz"});
  InstallJsonErrorHandler(*server_);
}

MetricsServer::~MetricsServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

Status MetricsServer::Start(const std::string& host, int port) {
  if (!BindServer(*server_, host, port)) {
    return Status::Unavailable("cannot listen on " + host + ":" + std::to_string(port));
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return Status::OK();
}

}  // namespace dfs
