// A storage node's HTTP front door, whole: raw HTTP requests (up to 8 per
// input on one keep-alive connection) through cpp-httplib's request
// processing with every route and the request guard a dfs-storage serves:
// PUT/GET/HEAD/DELETE /blobs/<id> (X-Dfs-Md5, Content-Length, Range),
// /blobs/<id>/verify, GET /blobs, /stats, /healthz, /metrics.
//
// One node on a temporary folder with 1 MiB of room, emptied before each
// input. Properties: no request gets a 500 (an exception escaping a
// handler), and every blob the node keeps has exactly the bytes its recorded
// md5 says (a node never keeps a corrupt or cut-short write).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "common/log.h"
#include "fuzz/fuzz_target.h"
#include "fuzz/http_harness.h"
#include "storage/blob_store.h"
#include "storage/storage_server.h"

namespace {

using namespace dfs::storage;

struct Node {
  std::unique_ptr<BlobStore> store;
  std::unique_ptr<StorageServer> server;
  dfs::fuzz::FuzzServer* http = nullptr;
};

Node MakeNode(const std::string& dir) {
  Node n;
  auto store = BlobStore::Open(dir, uint64_t{1} << 20);
  if (!store.ok()) std::abort();
  n.store = std::move(*store);
  auto http = std::make_unique<dfs::fuzz::FuzzServer>();
  n.http = http.get();
  n.server = std::make_unique<StorageServer>(std::move(http), *n.store, "fuzznode", "http://127.0.0.1:8830", 4);
  return n;
}

void Empty(BlobStore& store) {
  auto blobs = store.List();
  if (!blobs.ok()) std::abort();
  for (const auto& b : *blobs) {
    if (!store.Delete(b.blob_id).ok()) std::abort();
  }
}

}  // namespace

DFS_FUZZ_TARGET(storage_http) {
  static dfs::fuzz::TempDir dir("storage");
  static bool quiet = (dfs::SetLogLevel(dfs::LogLevel::ERROR), true);
  (void)quiet;
  static const bool verbose = std::getenv("DFS_FUZZ_VERBOSE") != nullptr;  // print the responses
  static Node node = MakeNode(dir.path);
  Empty(*node.store);
  for (const auto& response : node.http->Handle(dfs::fuzz::AsText(data, size))) {
    if (verbose) std::fprintf(stderr, "%s\n---- (%zu bytes)\n", response.substr(0, 600).c_str(), response.size());
    if (dfs::fuzz::StatusCode(response) == 500) std::fprintf(stderr, "response: %.600s\n", response.c_str());
    FUZZ_CHECK(dfs::fuzz::StatusCode(response) != 500, "no request makes a node answer 500");
  }
  auto blobs = node.store->List();
  FUZZ_CHECK(blobs.ok(), "the node can list its blobs");
  for (const auto& b : *blobs) {
    auto md5 = node.store->ComputeMd5(b.blob_id);
    FUZZ_CHECK(md5.ok() && *md5 == b.md5, "a kept blob has the bytes of its recorded md5");
  }
  return 0;
}
