// Instruments an httplib::Server: every answered request is counted by
// route, method and status, with bytes in and out and a latency histogram,
// logged at DEBUG, and GET /metrics serves the registry.
#pragma once

#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "common/http_util.h"
#include "common/metrics.h"
#include "common/security.h"
#include "common/status.h"

namespace dfs {

// Route label for `path`: the longest of `routes` that is the path itself or
// a folder of it ("/api/v1/files" for "/api/v1/files/a/b.txt"); "/" matches
// only itself; anything else is "other", so user file names never become
// label values.
std::string RouteLabel(const std::string& path, const std::vector<std::string>& routes);

// Also turns away requests `auth` does not allow (401/403, JSON) and
// requests RejectBadRequest() refuses under `limits` before routing. Takes
// over the server's logger and pre-routing handler.
void InstrumentServer(httplib::Server& server, metrics::Registry& registry, const std::string& component,
                      std::vector<std::string> routes, AuthPolicy auth = {}, RequestLimits limits = {});

// GET /metrics and /healthz on their own port, for a process that serves no
// other HTTP (the replicator). Stops and joins when destroyed.
class MetricsServer {
 public:
  MetricsServer(std::unique_ptr<httplib::Server> server, metrics::Registry& registry, std::string component);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  Status Start(const std::string& host, int port);

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace dfs
