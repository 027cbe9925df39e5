// dfs-master: parses flags and wires MetadataStore, FileService, HttpApi and
// the background maintenance loops.
#include <csignal>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>

#include "common/flag_parsing.h"
#include "common/http_metrics.h"
#include "common/http_util.h"
#include "common/log.h"
#include "common/security_flags.h"
#include "master/cluster_metrics.h"
#include "master/file_service.h"
#include "master/garbage_collector.h"
#include "master/http_api.h"
#include "master/maintenance.h"
#include "master/metadata_store.h"
#include "master/namespace_api.h"
#include "master/outbox_publisher.h"
#include "master/replication_api.h"
#include "master/status_page.h"
#include "replicator/queue_metrics.h"

namespace {
dfs::master::HttpApi* g_api = nullptr;
void OnSignal(int) {
  if (g_api) g_api->Stop();
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dfs-master: the dfs namespace and front door"};
  std::string listen = "127.0.0.1:8820", db_path = "dfs-master.db", spool_dir, redis,
              log_level = "info";
  dfs::SecurityFlags security;
  int replicas = 2, node_timeout_ms = 5000, node_dead_ms = 60000, heal_interval_ms = 10000,
      heal_retry_ms = 30000, gc_interval_ms = 600000, gc_grace_ms = 3600000;
  size_t threads = 64;
  uint64_t max_file_size = 0;
  int read_timeout_ms = 30000, node_io_timeout_ms = 15000;
  // A later flag wins (so wrappers can append overrides).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.set_config("--config", "", "ini/toml config file with the same keys as the flags");
  app.add_option("--listen", listen, "HOST:PORT to listen on")->envname("DFS_MASTER_LISTEN");
  app.add_option("--db", db_path, "SQLite database file")->envname("DFS_DB");
  std::string metadata;
  app.add_option("--metadata", metadata, "metadata store: sqlite:PATH (default: sqlite:<--db>), or postgres://USER@HOST:PORT/DBNAME for many masters sharing one PostgreSQL")
      ->envname("DFS_METADATA");
  uint64_t chunk_size = uint64_t{64} << 20;
  app.add_option("--chunk-size", chunk_size, "a file's content is stored in chunks of at most this many bytes")
      ->envname("DFS_CHUNK_SIZE")
      ->check(CLI::Range(uint64_t{4096}, uint64_t{1} << 34));
  int settle_after_ms = 1000, compact_after_ms = 5000;
  app.add_option("--settle-after-ms", settle_after_ms,
                 "a file unchanged this long after a range write has its whole-file md5 computed in the background")
      ->envname("DFS_SETTLE_AFTER_MS")
      ->check(CLI::Range(0, 86400000));
  app.add_option("--compact-after-ms", compact_after_ms,
                 "a file unchanged this long after appends has its small chunks merged in the background")
      ->envname("DFS_COMPACT_AFTER_MS")
      ->check(CLI::Range(0, 86400000));
  int handle_lease_ms = 60000;
  app.add_option("--handle-lease-ms", handle_lease_ms,
                 "an open-file handle a client stops renewing lapses after this (its nameless file then goes)")
      ->envname("DFS_HANDLE_LEASE_MS")
      ->check(CLI::Range(1000, 86400000));
  app.add_option("--spool", spool_dir, "folder for uploads in flight (default: <db dir>/spool)")
      ->envname("DFS_SPOOL");
  app.add_option("--replicas", replicas, "extra copies of each file")->envname("DFS_REPLICAS")->check(CLI::Range(0, 16));
  app.add_option("--redis", redis, "HOST:PORT of the replication queue")->envname("DFS_REDIS");
  dfs::RedisPasswordFlags redis_password;
  redis_password.Add(app);
  security.Add(app, /*server=*/true, /*master=*/true);
  app.add_option("--node-timeout-ms", node_timeout_ms, "a node silent this long is marked down")
      ->check(CLI::Range(100, 3600000));
  app.add_option("--node-dead-ms", node_dead_ms, "a node down this long has its files re-replicated")
      ->check(CLI::Range(100, 86400000));
  app.add_option("--heal-interval-ms", heal_interval_ms, "how often to scan for under-replicated files")
      ->check(CLI::Range(100, 86400000));
  app.add_option("--heal-retry-ms", heal_retry_ms,
                 "queue an under-replicated file again only if its last job is older than this")
      ->check(CLI::Range(100, 86400000));
  app.add_option("--gc-interval-ms", gc_interval_ms, "how often to look for orphaned blobs on the nodes (0: never)")
      ->check(CLI::Range(0, 86400000));
  app.add_option("--gc-grace-ms", gc_grace_ms, "an unreferenced blob younger than this is left alone (an upload in flight)")
      ->check(CLI::Range(0, 86400000 * 7));
  app.add_option("--node-io-timeout-ms", node_io_timeout_ms,
                 "a request to a storage node that moves no byte this long fails (a PUT then goes to another node)")
      ->envname("DFS_NODE_IO_TIMEOUT_MS")
      ->check(CLI::Range(100, 3600000));
  app.add_option("--threads", threads, "HTTP worker threads")->check(CLI::Range(4, 1024));
  app.add_option("--max-file-size", max_file_size, "largest file (request body) a PUT or /upload may send, 413 above (0: no limit)")
      ->envname("DFS_MAX_FILE_SIZE");
  app.add_option("--read-timeout-ms", read_timeout_ms,
                 "a client silent this long mid-request (or sending a body slower than 4 KiB per this time) is cut off")
      ->check(CLI::Range(100, 3600000));
  app.add_option("--log-level", log_level, "debug|info|warn|error")->envname("DFS_LOG_LEVEL");
  try {
    dfs::ParseFlags(app, argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; every usage error exits 2 (CLI11's own codes vary).
    return app.exit(e) == 0 ? 0 : 2;
  }

  dfs::LogLevel level;
  if (!dfs::ParseLogLevel(log_level, &level)) {
    std::cerr << "dfs-master: bad --log-level '" << log_level << "'\n";
    return 2;
  }
  dfs::SetLogLevel(level);
  if (!security.Apply("dfs-master")) return 2;
  auto ep = dfs::ParseListen(listen);
  if (!ep.ok()) {
    std::cerr << "dfs-master: " << ep.status().message() << "\n";
    return 2;
  }
  if (metadata.empty()) metadata = "sqlite:" + db_path;
  if (metadata.rfind("sqlite:", 0) == 0) db_path = metadata.substr(7);
  if (spool_dir.empty()) {
    auto parent = std::filesystem::absolute(db_path).parent_path();
    spool_dir = (parent / "spool").string();
  }
  auto store = dfs::master::MetadataStore::Open(metadata);
  if (!store.ok()) {
    std::cerr << "dfs-master: " << store.status().ToString() << "\n";
    return 1;
  }
  // Masters sharing one database (PostgreSQL) run each background task on
  // one of them at a time, by lease; a SQLite database is this master's own.
  const bool shared_store = metadata.rfind("postgres", 0) == 0;
  const std::string holder = shared_store ? dfs::master::NewHolderId() : "";
  // Replication jobs go from the outbox to Redis; without --redis they wait
  // in the outbox (files still get stored, with one copy).
  std::unique_ptr<dfs::replication::ReplicationQueue> queue;
  std::unique_ptr<dfs::master::OutboxPublisher> publisher;
  if (!redis.empty()) {
    auto address = dfs::replication::ParseRedisAddress(redis);
    if (!address.ok()) {
      std::cerr << "dfs-master: --redis: " << address.status().message() << "\n";
      return 2;
    }
    auto password = redis_password.Load();
    if (!password.ok()) {
      std::cerr << "dfs-master: " << password.status().message() << "\n";
      return 2;
    }
    address->password = *password;
    queue = std::make_unique<dfs::replication::ReplicationQueue>(*address);
    publisher = std::make_unique<dfs::master::OutboxPublisher>(**store, *queue, std::chrono::milliseconds(1000), holder);
  } else {
    DFS_LOG(WARN, "master") << "no --redis: files are not replicated (jobs wait in the outbox)";
  }

  auto spool_lock = dfs::master::LockSpoolDir(spool_dir);
  if (!spool_lock.ok()) {
    std::cerr << "dfs-master: " << spool_lock.status().message() << "\n";
    return 1;
  }
  dfs::master::FileServiceOptions options;
  options.spool_dir = spool_dir;
  options.replicas = replicas;
  options.node_dead = std::chrono::milliseconds(node_dead_ms);
  options.node_timeouts.read = options.node_timeouts.write = std::chrono::milliseconds(node_io_timeout_ms);
  if (publisher) options.on_jobs_queued = [&publisher] { publisher->Notify(); };
  dfs::metrics::Registry registry;  // outlives the server that renders it
  options.handle_lease_s = handle_lease_ms / 1000.0;
  options.chunk_size = chunk_size;
  options.settle_after = std::chrono::milliseconds(settle_after_ms);
  options.compact_after = std::chrono::milliseconds(compact_after_ms);
  dfs::master::FileService files(**store, options);
  auto server = dfs::MakeServer();
  if (!server.ok()) {
    std::cerr << "dfs-master: " << server.status().message() << "\n";
    return 2;
  }
  dfs::master::HttpApi api(std::move(*server), files, threads);
  api.set_upload_limits(dfs::UploadLimits{max_file_size, std::chrono::milliseconds(read_timeout_ms)});
  dfs::master::RegisterReplicationRoutes(api.server(), files, queue.get());
  dfs::master::RegisterNamespaceRoutes(api.server(), **store, handle_lease_ms / 1000.0,
                                       [&files] { return files.SyncNodes(); });
  dfs::master::RegisterStatusRoutes(api.server(), files, queue.get());
  // "/" is the status page's static HTML; its data comes from
  // /api/v1/status, which wants a token like everything else.
  dfs::InstrumentServer(api.server(), registry, "master", dfs::master::MasterRoutes(),
                        dfs::AuthPolicy{{"/healthz", "/"}, /*accept_read_token=*/true},
                        dfs::RequestLimits{.streams_body = dfs::master::StreamsBody});
  dfs::master::AddClusterMetrics(registry, files);
  if (queue) dfs::replication::AddQueueMetrics(registry, *queue);
  if (!api.Bind(ep->host, ep->port)) return 1;

  dfs::master::Maintenance maintenance(shared_store ? store->get() : nullptr, holder);
  maintenance.Add("node-liveness", std::chrono::milliseconds(std::max(50, node_timeout_ms / 4)), [&] {
    dfs::master::CheckNodeLiveness(**store, std::chrono::milliseconds(node_timeout_ms));
  });
  maintenance.Add("blob-deletions", std::chrono::milliseconds(500),
                  [&] { dfs::master::ProcessBlobDeletions(**store, files.node_client()); });
  maintenance.Add("handle-expiry", std::chrono::milliseconds(std::max(500, handle_lease_ms / 4)),
                  [&] { dfs::master::ExpireHandles(**store); });
  maintenance.Add("md5-settle", std::chrono::milliseconds(1000), [&] { dfs::master::SettlePendingMd5(files); });
  maintenance.Add("compaction", std::chrono::milliseconds(1000), [&] { dfs::master::CompactChunks(files); });
  maintenance.Add("healing", std::chrono::milliseconds(heal_interval_ms), [&] {
    dfs::master::QueueUnderReplicated(files, std::chrono::milliseconds(heal_retry_ms));
  });

  dfs::master::RegisterGcRoute(api.server(), files, std::chrono::milliseconds(gc_grace_ms), &registry);
  if (gc_interval_ms > 0) {
    maintenance.Add("garbage-collection", std::chrono::milliseconds(gc_interval_ms), [&] {
      auto r = dfs::master::CollectGarbage(files, std::chrono::milliseconds(gc_grace_ms), &registry);
      if (r.deleted > 0) DFS_LOG(INFO, "master") << "gc: removed " << r.deleted << " orphaned blob(s), " << r.bytes << " bytes";
    });
  }
  g_api = &api;
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  dfs::RaiseOpenFileLimit();
  DFS_LOG(INFO, "master") << "started listen=" << listen << " metadata=" << metadata << " replicas=" << replicas
                          << " auth=" << (dfs::Security().token.empty() ? "off" : "token")
                          << " tls=" << (dfs::Security().tls_cert.empty() ? "off" : "on");
  api.Run();
  maintenance.Stop();
  publisher.reset();
  DFS_LOG(INFO, "master") << "stopped";
  return 0;
}
