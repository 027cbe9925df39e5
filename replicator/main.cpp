// dfs-replicator: parses flags and runs ReplicatorService, or one of the
// queue admin commands (status, dead list, dead requeue ID).
#include <csignal>
#include <iostream>
#include <memory>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/flag_parsing.h"
#include "common/http_metrics.h"
#include "common/http_util.h"
#include "common/log.h"
#include "common/security_flags.h"
#include "replicator/queue_metrics.h"
#include "replicator/replication_queue.h"
#include "replicator/replicator_service.h"

namespace {
volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

int PrintStatus(dfs::replication::ReplicationQueue& queue) {
  auto stats = queue.Stats();
  if (!stats.ok()) {
    std::cerr << "dfs-replicator: " << stats.status().message() << "\n";
    return 1;
  }
  std::cout << nlohmann::json{{"queued", stats->length}, {"pending", stats->pending}, {"dead", stats->dead}}.dump()
            << "\n";
  return 0;
}

int ListDead(dfs::replication::ReplicationQueue& queue, bool json) {
  auto dead = queue.ListDead();
  if (!dead.ok()) {
    std::cerr << "dfs-replicator: " << dead.status().message() << "\n";
    return 1;
  }
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& d : *dead) {
      out.push_back({{"id", d.id}, {"job", d.payload}, {"reason", d.reason}, {"original_id", d.original_id}});
    }
    std::cout << nlohmann::json{{"dead", out}}.dump() << "\n";
    return 0;
  }
  for (const auto& d : *dead) std::cout << d.id << "\t" << d.reason << "\t" << d.payload << "\n";
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dfs-replicator: copies blobs between storage nodes for replication jobs queued in Redis"};
  std::string redis = "127.0.0.1:6379", master = "http://127.0.0.1:8820", log_level = "info",
              metrics_listen;
  dfs::replication::ReplicatorOptions options;
  int max_attempts = 5;
  app.set_config("--config", "", "ini/toml config file with the same keys as the flags");
  app.add_option("--redis", redis, "HOST:PORT of Redis (the job queue)")->envname("DFS_REDIS");
  dfs::RedisPasswordFlags redis_password;
  redis_password.Add(app);
  app.add_option("--master", master, "URL of dfs-master, or URL,URL,... (failover)")->envname("DFS_MASTER");
  app.add_option("--workers", options.workers, "concurrent copy workers")->check(CLI::Range(1, 256));
  app.add_option("--claim-idle-ms", options.claim_idle_ms, "take over jobs another worker left pending this long")
      ->check(CLI::Range(100, 86400000));
  app.add_option("--max-attempts", max_attempts, "failed copy attempts before a job goes to the dead letters")
      ->check(CLI::Range(1, 1000));
  app.add_option("--consumer", options.consumer_prefix, "consumer name prefix (default: hostname-pid)");
  app.add_option("--metrics-listen", metrics_listen, "HOST:PORT to serve /metrics and /healthz on (default: off)")
      ->envname("DFS_REPLICATOR_METRICS");
  app.add_option("--log-level", log_level, "debug|info|warn|error")->envname("DFS_LOG_LEVEL");
  dfs::SecurityFlags security;
  security.Add(app, /*server=*/true);  // TLS for --metrics-listen
  app.require_subcommand(0, 1);
  auto* status_cmd = app.add_subcommand("status", "print queue depth, pending and dead-letter counts (JSON)");
  auto* dead_cmd = app.add_subcommand("dead", "dead-letter jobs");
  dead_cmd->require_subcommand(1);
  bool json = false;
  auto* dead_list = dead_cmd->add_subcommand("list", "list dead-letter jobs: id, reason, job");
  dead_list->add_flag("--json", json, "print JSON");
  std::string requeue_id;
  auto* dead_requeue = dead_cmd->add_subcommand("requeue", "move a dead-letter job back to the queue");
  dead_requeue->add_option("ID", requeue_id, "dead-letter id (from `dead list`), or 'all'")->required();
  try {
    dfs::ParseFlags(app, argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; every usage error exits 2 (CLI11's own codes vary).
    return app.exit(e) == 0 ? 0 : 2;
  }

  dfs::LogLevel level;
  if (!dfs::ParseLogLevel(log_level, &level)) {
    std::cerr << "dfs-replicator: bad --log-level '" << log_level << "'\n";
    return 2;
  }
  dfs::SetLogLevel(level);
  if (!security.Apply("dfs-replicator")) return 2;
  auto address = dfs::replication::ParseRedisAddress(redis);
  if (!address.ok()) {
    std::cerr << "dfs-replicator: " << address.status().message() << "\n";
    return 2;
  }
  auto password = redis_password.Load();
  if (!password.ok()) {
    std::cerr << "dfs-replicator: " << password.status().message() << "\n";
    return 2;
  }
  address->password = *password;

  if (*status_cmd || *dead_cmd) {
    dfs::replication::ReplicationQueue queue(*address);
    if (*status_cmd) return PrintStatus(queue);
    if (*dead_list) return ListDead(queue, json);
    std::vector<std::string> ids;
    if (requeue_id == "all") {
      auto dead = queue.ListDead(100000);
      if (!dead.ok()) {
        std::cerr << "dfs-replicator: " << dead.status().message() << "\n";
        return 1;
      }
      for (const auto& d : *dead) ids.push_back(d.id);
    } else {
      ids.push_back(requeue_id);
    }
    for (const auto& id : ids) {
      auto new_id = queue.Requeue(id);
      if (!new_id.ok()) {
        std::cerr << "dfs-replicator: " << new_id.status().message() << "\n";
        return new_id.status().code() == dfs::Code::kNotFound ? 3 : 1;
      }
      std::cout << id << " -> " << *new_id << "\n";
    }
    return 0;
  }

  auto masters = dfs::MasterSet::Parse(master);
  if (!masters.ok()) {
    std::cerr << "dfs-replicator: --master: " << masters.status().message() << "\n";
    return 2;
  }
  options.redis = *address;
  options.masters = *masters;
  options.worker.max_attempts = max_attempts;

  dfs::metrics::Registry registry;
  options.metrics = &registry;
  std::unique_ptr<dfs::replication::ReplicationQueue> stats_queue;
  std::unique_ptr<dfs::MetricsServer> metrics_server;
  if (!metrics_listen.empty()) {
    auto ep = dfs::ParseListen(metrics_listen);
    if (!ep.ok()) {
      std::cerr << "dfs-replicator: --metrics-listen: " << ep.status().message() << "\n";
      return 2;
    }
    stats_queue = std::make_unique<dfs::replication::ReplicationQueue>(*address);
    dfs::replication::AddQueueMetrics(registry, *stats_queue);
    auto http = dfs::MakeServer();
    if (!http.ok()) {
      std::cerr << "dfs-replicator: " << http.status().message() << "\n";
      return 2;
    }
    metrics_server = std::make_unique<dfs::MetricsServer>(std::move(*http), registry, "replicator");
    if (auto st = metrics_server->Start(ep->host, ep->port); !st.ok()) {
      std::cerr << "dfs-replicator: " << st.message() << "\n";
      return 1;
    }
  }

  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  dfs::RaiseOpenFileLimit();
  dfs::replication::ReplicatorService service(options);
  service.Start();
  DFS_LOG(INFO, "replicator") << "started redis=" << redis << " master=" << master << " workers=" << options.workers;
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  DFS_LOG(INFO, "replicator") << "stopping";
  service.Stop();
  DFS_LOG(INFO, "replicator") << "stopped";
  return 0;
}
