// dfs-storage: a storage node. Parses flags and wires BlobStore, StorageServer
// and Registrar.
#include <csignal>
#include <chrono>
#include <iostream>
#include <optional>

#include <CLI/CLI.hpp>

#include "common/flag_parsing.h"
#include "common/master_set.h"
#include "common/log.h"
#include "common/security_flags.h"
#include "storage/blob_store.h"
#include "storage/registrar.h"
#include "storage/scrubber.h"
#include "storage/storage_server.h"

namespace {
dfs::storage::StorageServer* g_server = nullptr;
void OnSignal(int) {
  if (g_server) g_server->Stop();
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dfs-storage: a dfs storage node"};
  std::string data_dir, listen = "127.0.0.1:8821", master, advertise, log_level = "info";
  uint64_t capacity = 0;
  int heartbeat_ms = 1000;
  // A later flag wins (so wrappers can append overrides).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.set_config("--config", "", "ini/toml config file with the same keys as the flags");
  app.add_option("--data", data_dir, "data folder")->required()->envname("DFS_STORAGE_DATA");
  app.add_option("--listen", listen, "HOST:PORT to listen on")->envname("DFS_STORAGE_LISTEN");
  app.add_option("--master", master, "master URL to register with, or URL,URL,... (failover)")->envname("DFS_MASTER");
  app.add_option("--advertise", advertise, "URL the master and replicator use to reach this node")
      ->envname("DFS_STORAGE_ADVERTISE");
  app.add_option("--capacity", capacity, "bytes this node may hold (0: disk size)")->envname("DFS_STORAGE_CAPACITY");
  bool sidecar_files = false;
  app.add_flag("--sidecar-files", sidecar_files,
               "keep each blob's md5 and block sums in sidecar files (<id>.meta, <id>.blocks), not in extended "
               "attributes of its file: for file systems or backup tools that drop extended attributes")
      ->envname("DFS_STORAGE_SIDECAR_FILES");
  app.add_option("--heartbeat-ms", heartbeat_ms, "heartbeat interval")->check(CLI::Range(50, 600000));
  app.add_option("--log-level", log_level, "debug|info|warn|error")->envname("DFS_LOG_LEVEL");
  uint64_t scrub_rate = 8ull << 20;
  int64_t scrub_pause_ms = 3600000, quarantine_keep_hours = 168;
  app.add_option("--scrub-rate", scrub_rate, "bytes per second the scrubber re-reads blobs at (0: no scrubbing)");
  app.add_option("--quarantine-keep-hours", quarantine_keep_hours,
                 "corrupt copies are kept in DATA/quarantine this long, then removed by the scrubber")
      ->check(CLI::Range(int64_t{0}, int64_t{24} * 3650));
  app.add_option("--scrub-pause-ms", scrub_pause_ms, "pause before each scrub pass")->check(CLI::Range(int64_t{10}, int64_t{86400000} * 30));
  uint64_t max_blob_size = 0;
  int read_timeout_ms = 30000;
  app.add_option("--max-blob-size", max_blob_size, "largest blob a PUT may send, 413 above (0: no limit)")
      ->envname("DFS_MAX_BLOB_SIZE");
  app.add_option("--read-timeout-ms", read_timeout_ms,
                 "a client silent this long mid-request (or sending a body slower than 4 KiB per this time) is cut off")
      ->check(CLI::Range(100, 3600000));
  dfs::SecurityFlags security;
  security.Add(app, /*server=*/true);
  try {
    dfs::ParseFlags(app, argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; every usage error exits 2 (CLI11's own codes vary).
    return app.exit(e) == 0 ? 0 : 2;
  }

  dfs::LogLevel level;
  if (!dfs::ParseLogLevel(log_level, &level)) {
    std::cerr << "dfs-storage: bad --log-level '" << log_level << "'\n";
    return 2;
  }
  dfs::SetLogLevel(level);
  if (!security.Apply("dfs-storage")) return 2;
  auto ep = dfs::ParseListen(listen);
  if (!ep.ok()) {
    std::cerr << "dfs-storage: " << ep.status().message() << "\n";
    return 2;
  }
  if (advertise.empty()) advertise = (dfs::Security().tls_cert.empty() ? "http://" : "https://") + listen;

  auto store = dfs::storage::BlobStore::Open(
      data_dir, capacity,
      sidecar_files ? dfs::storage::BlobStore::SumsIn::kSidecarFiles : dfs::storage::BlobStore::SumsIn::kAttributes);
  if (!store.ok()) {
    std::cerr << "dfs-storage: " << store.status().ToString() << "\n";
    return 1;
  }
  auto node_id = dfs::storage::LoadOrCreateNodeId(data_dir);
  if (!node_id.ok()) {
    std::cerr << "dfs-storage: " << node_id.status().ToString() << "\n";
    return 1;
  }
  auto http = dfs::MakeServer();
  if (!http.ok()) {
    std::cerr << "dfs-storage: " << http.status().message() << "\n";
    return 2;
  }
  (*store)->StartSyncer(std::chrono::seconds(1));  // blobs written ?sync=0 reach the disk within a second
  dfs::storage::StorageServer server(std::move(*http), **store, *node_id, advertise);
  server.set_upload_limits(dfs::UploadLimits{max_blob_size, std::chrono::milliseconds(read_timeout_ms)});
  if (!server.Bind(ep->host, ep->port)) return 1;

  std::unique_ptr<dfs::storage::Registrar> registrar;
  std::shared_ptr<const dfs::MasterSet> masters;
  if (!master.empty()) {
    auto parsed = dfs::MasterSet::Parse(master);
    if (!parsed.ok()) {
      std::cerr << "dfs-storage: --master: " << parsed.status().message() << "\n";
      return 2;
    }
    masters = *parsed;
    server.set_master(masters);
    registrar = std::make_unique<dfs::storage::Registrar>(**store, masters, *node_id, advertise,
                                                          std::chrono::milliseconds(heartbeat_ms));
    registrar->Start();
  }
  std::unique_ptr<dfs::storage::Scrubber> scrubber;
  if (scrub_rate > 0) {
    scrubber = std::make_unique<dfs::storage::Scrubber>(
        **store, masters, *node_id,
        dfs::storage::ScrubberOptions{scrub_rate, std::chrono::milliseconds(scrub_pause_ms),
                                      std::chrono::hours(quarantine_keep_hours)},
        server.metrics());
    scrubber->Start();
  }
  g_server = &server;
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  dfs::RaiseOpenFileLimit();
  auto usage = (*store)->GetUsage();
  DFS_LOG(INFO, "storage") << "started node=" << *node_id << " listen=" << listen << " data=" << data_dir
                           << " blobs=" << usage.blobs << " free=" << usage.free;
  server.Run();
  if (scrubber) scrubber->Stop();
  if (registrar) registrar->Stop();
  DFS_LOG(INFO, "storage") << "stopped node=" << *node_id;
  return 0;
}
