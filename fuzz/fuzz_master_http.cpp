// The master's HTTP front door, whole: the input is raw HTTP requests (up to
// 8 on one keep-alive connection, so sequences like mkdir + rename happen),
// handed to cpp-httplib's request processing (Server::process_request, the
// same code a socket goes through, minus the socket) with every route the
// master registers: PUT/GET/DELETE files (headers X-Dfs-Md5, Range,
// ?conflict=, ?replicas=), the seed-compatible multipart POST /upload and
// GET /download, node registration/heartbeat, replica and bad-copy reports,
// drain, mkdir/rmdir/rename/setattr, list/stat, status.
//
// Each input gets a fresh master: an in-memory SQLite store holding one node
// (http://127.0.0.1:1, where nothing listens, so uploads and reads fail fast
// and nothing leaves the machine) and one file "docs/a.txt" on it.
// Metrics, the auth check (no token configured) and the request guard run
// before routing, as in dfs-master.
// Properties: no request makes the master answer 500 (a 500 here is an
// exception escaping a handler, i.e. a parser that trusted its input), and
// afterwards the store passes its fsck (MetadataStore::CheckConsistency):
// every name valid, every inode named, link counts and totals right.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <httplib.h>

#include "common/http_metrics.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/path.h"
#include "fuzz/fuzz_target.h"
#include "fuzz/http_harness.h"
#include "master/cluster_metrics.h"
#include "master/file_service.h"
#include "master/http_api.h"
#include "master/metadata_store.h"
#include "master/namespace_api.h"
#include "master/replication_api.h"
#include "master/status_page.h"

namespace {

using namespace dfs::master;

struct Master {
  std::unique_ptr<dfs::metrics::Registry> registry;  // outlives the server
  std::unique_ptr<MetadataStore> store;
  std::unique_ptr<FileService> files;
  std::unique_ptr<HttpApi> api;
  dfs::fuzz::FuzzServer* server = nullptr;
};

void Seed(MetadataStore& store) {
  NodeRecord node;
  node.node_id = "n1";
  node.url = "http://127.0.0.1:1";
  node.capacity = node.free = uint64_t{1} << 40;
  node.last_heartbeat = NowSeconds();
  if (!store.UpsertNode(node).ok()) std::abort();
  FileRecord file;
  file.path = "docs/a.txt";
  file.size = 11;
  file.md5 = "5eb63bbbe01eeed093cb22bb8f5acdc3";  // "hello world"
  file.mtime = NowSeconds();
  file.chunks = {ChunkRecord{0, 0, file.size, file.md5, "0123456789abcdef0123456789abcdef", "n1"}};
  if (!store.CommitFile(file, ConflictMode::kFail, [](const std::string& p) { return p + "_x"; }).ok()) std::abort();
}

Master MakeMaster(const std::string& spool) {
  Master m;
  auto store = MetadataStore::Open(":memory:");
  if (!store.ok()) std::abort();
  m.store = std::move(*store);
  FileServiceOptions options;
  options.spool_dir = spool;
  options.replicas = 1;
  options.node_timeouts = {std::chrono::milliseconds(200), std::chrono::milliseconds(500),
                           std::chrono::milliseconds(500)};
  m.files = std::make_unique<FileService>(*m.store, options);
  auto server = std::make_unique<dfs::fuzz::FuzzServer>();
  m.server = server.get();
  m.api = std::make_unique<HttpApi>(std::move(server), *m.files, 4);
  RegisterReplicationRoutes(m.api->server(), *m.files, nullptr);
  RegisterNamespaceRoutes(m.api->server(), *m.store);
  RegisterStatusRoutes(m.api->server(), *m.files, nullptr);
  // As dfs-master does: metrics, the (open, no token set) auth check and the
  // request guard run before routing.
  m.registry = std::make_unique<dfs::metrics::Registry>();
  dfs::InstrumentServer(m.api->server(), *m.registry, "master", MasterRoutes(), dfs::AuthPolicy{{"/healthz", "/"}, true},
                        dfs::RequestLimits{.streams_body = StreamsBody});
  return m;
}

// The fsck of the store: names the path API accepts, every inode named,
// link counts and totals that agree.
void CheckConsistent(MetadataStore& store) {
  auto problems = store.CheckConsistency();
  FUZZ_CHECK(problems.ok(), "the store can be read");
  for (const auto& p : *problems) std::fprintf(stderr, "fsck: %s\n", p.c_str());
  FUZZ_CHECK(problems->empty(), "the store is consistent after every request");
}

}  // namespace

DFS_FUZZ_TARGET(master_http) {
  static dfs::fuzz::TempDir spool("master");
  static bool quiet = (dfs::SetLogLevel(dfs::LogLevel::ERROR), true);
  (void)quiet;
  static const bool verbose = std::getenv("DFS_FUZZ_VERBOSE") != nullptr;  // print the responses
  Master master = MakeMaster(spool.path);
  Seed(*master.store);
  std::string_view request = dfs::fuzz::AsText(data, size);
  for (const auto& response : master.server->Handle(request)) {
    if (verbose) std::fprintf(stderr, "%s\n---- (%zu bytes)\n", response.substr(0, 600).c_str(), response.size());
    if (dfs::fuzz::StatusCode(response) == 500) std::fprintf(stderr, "response: %.600s\n", response.c_str());
    FUZZ_CHECK(dfs::fuzz::StatusCode(response) != 500, "no request makes the master answer 500");
  }
  CheckConsistent(*master.store);
  return 0;
}
