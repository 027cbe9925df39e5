// StorageServer: the HTTP face of a BlobStore (routes in docs/protocol.md).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <httplib.h>

#include "common/admission.h"
#include "common/http_util.h"
#include "common/master_set.h"
#include "common/metrics.h"
#include "storage/blob_store.h"

namespace dfs::storage {

class StorageServer {
 public:
  // `server`: plain or TLS (MakeServer()). Every route but /healthz wants the cluster token when one is set.
  StorageServer(std::unique_ptr<httplib::Server> server, BlobStore& store, std::string node_id,
                std::string advertise_url, size_t threads = 32);

  // The lane a request is served from (common/admission.h): data for a
  // blob's GET (its /verify too) and PUT, control for everything else.
  static RequestClass ClassifyRequest(const RequestLine& line);

  // Binds host:port; false (and a log line) when it cannot.
  bool Bind(const std::string& host, int port);
  void Run();  // blocks until Stop()
  void Stop();
  metrics::Registry& metrics() { return metrics_; }
  // --max-blob-size and --read-timeout-ms (the whole server's read timeout).
  void set_upload_limits(const UploadLimits& limits);
  // Where to report a copy a read found corrupt (none: only logged and counted).
  void set_master(std::shared_ptr<const MasterSet> masters) { masters_ = std::move(masters); }

 private:
  void RegisterRoutes();
  void HandlePut(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader);
  void HandleGet(const httplib::Request& req, httplib::Response& res);
  void HandleDelete(const httplib::Request& req, httplib::Response& res);
  void HandleVerify(const httplib::Request& req, httplib::Response& res);
  // A read found the copy bad: out of service, counted, reported to the master.
  void OnCorrupt(const std::string& blob_id, int read_fd, const Status& why);

  BlobStore& store_;
  std::string node_id_;
  std::string advertise_url_;
  metrics::Registry metrics_;
  UploadLimits upload_limits_;
  std::shared_ptr<const MasterSet> masters_;  // null: none
  // Last, so it goes first: its destructor waits for the handlers still
  // running on its worker lanes, which use every member above.
  std::unique_ptr<httplib::Server> server_;
};

}  // namespace dfs::storage
