// HttpApi: the master's HTTP routes (docs/protocol.md). Routing and
// translation only: request parsing, JSON, status codes; the work is done by
// FileService.
#pragma once

#include <functional>
#include <string>

#include <memory>

#include <httplib.h>

#include "common/admission.h"
#include "common/http_util.h"
#include "master/file_service.h"

namespace dfs::master {

class HttpApi {
 public:
  // `server`: plain or TLS (MakeServer()).
  HttpApi(std::unique_ptr<httplib::Server> server, FileService& files, size_t threads);

  bool Bind(const std::string& host, int port);
  void Run();
  void Stop();
  // For extensions (replication, namespace routes) to add their own routes.
  httplib::Server& server() { return *server_; }
  // --max-file-size and --read-timeout-ms: PUT /api/v1/files and /upload
  // bodies; the read timeout is the whole server's.
  void set_upload_limits(const UploadLimits& limits);

 private:
  void RegisterRoutes();
  void PutFile(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader);
  void GetFile(const httplib::Request& req, httplib::Response& res, const std::string& path,
               bool compat_headers);
  void Upload(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader);
  // POST /api/v1/truncate/<path>?size=N: FileService::Truncate.
  void Truncate(const httplib::Request& req, httplib::Response& res);
  // PUT ?offset=N: a range write (FileService::WriteRange).
  void WriteRange(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader,
                  const PutRequest& put, UploadGuard& guard);

  FileService& files_;
  UploadLimits upload_limits_;
  // Last, so it goes first: its destructor waits for the handlers still
  // running on its worker lanes, which use the members above.
  std::unique_ptr<httplib::Server> server_;
};

// The routes whose handlers stream the request body themselves (file PUTs
// and /upload); everything else is read into memory by cpp-httplib.
bool StreamsBody(const httplib::Request& req);

// The lane a request is served from (common/admission.h): data for what
// moves file bytes (GET and PUT of /api/v1/files/<path>, POST /upload, GET
// /download), control for everything else (heartbeats, registration,
// replication reports, metadata and namespace calls, HEAD, status).
RequestClass ClassifyRequest(const RequestLine& line);

// The path part of /api/v1/files/<path>, validated; errors are 400s.
Result<std::string> PathFromRequest(const httplib::Request& req, size_t match = 1);

}  // namespace dfs::master
