#include "master/http_api.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <optional>

#include "common/guarded_server.h"
#include "common/http_util.h"
#include "common/log.h"
#include "common/path.h"
#include "master/request_parsing.h"
#include "master/sql/database.h"

namespace dfs::master {

namespace {
// The client's X-Request-Id when it is a plain token, else a new one: it is
// logged, sent to nodes and carried in the replication job.
std::string RequestId(const httplib::Request& req) {
  std::string id = req.get_header_value(kRequestIdHeader);
  bool plain = !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_' || c == '.';
  });
  return plain ? id : RandomHex(8);
}

std::string HttpDate(double seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// Heartbeats, reports and metadata calls: their own workers, whatever the
// downloads and uploads (--threads, the data lane) are doing.
constexpr LaneLimits kControlLane{16, 256};
// Data requests that may wait for a data worker; more get 503 + Retry-After.
constexpr size_t kDataQueue = 16;

// The seed system's endpoints answer {"message": ...} bodies.
void SendCompatError(httplib::Response& res, const Status& st) {
  SendJson(res, st.http_status(), {{"message", st.message()}, {"error", std::string(st.code_name())}});
}
}  // namespace

Result<std::string> PathFromRequest(const httplib::Request& req, size_t match) {
  std::string path = req.matches[match];
  Status st = ValidatePath(path);
  if (!st.ok()) return st;
  return path;
}

HttpApi::HttpApi(std::unique_ptr<httplib::Server> server, FileService& files, size_t threads)
    : files_(files), server_(std::move(server)) {
  UseThreadPool(*server_, threads);
  if (AdmissionConfig* admission = AdmissionOf(*server_)) {
    admission->control = kControlLane;
    admission->data.queue = kDataQueue;
    admission->classify = ClassifyRequest;
  }
  server_->set_read_timeout(30, 0);
  server_->set_write_timeout(60, 0);
  server_->set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    }
    DFS_LOG(ERROR, "master") << "exception method=" << req.method << " path=" << req.path << " error=" << what;
    SendError(res, Status::Internal(what));
  });
  InstallJsonErrorHandler(*server_);
  RegisterRoutes();
}

bool HttpApi::Bind(const std::string& host, int port) {
  if (!BindServer(*server_, host, port)) {
    DFS_LOG(ERROR, "master") << "cannot listen on " << host << ":" << port;
    return false;
  }
  return true;
}

void HttpApi::Run() { server_->listen_after_bind(); }
void HttpApi::Stop() { server_->stop(); }

void HttpApi::RegisterRoutes() {
  // [\s\S] rather than '.', so names with a newline reach validation (400)
  // instead of falling through to a 404.
  static const std::string kFile = R"(/api/v1/files/([\s\S]+))";
  // For load balancers: 200 while the metadata store answers (one read of
  // the node table), 503 when it does not, so a master cut off from the
  // database is taken out of rotation.
  server_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    if (auto nodes = files_.Nodes(); !nodes.ok()) {
      return SendError(res, Status::Unavailable("metadata store: " + nodes.status().message()));
    }
    SendJson(res, 200, {{"status", "ok"}});
  });
  server_->Put("/api/v1/files/", [this](const httplib::Request&, httplib::Response& res,
                                       const httplib::ContentReader& reader) {
    UploadGuard guard(upload_limits_);
    guard.Reject(reader, res, Status::InvalidArgument("path is empty"));
  });
  // A file takes GET, HEAD, PUT, PATCH (namespace_api) and DELETE.
  server_->Post(kFile, [](const httplib::Request&, httplib::Response& res, const httplib::ContentReader&) {
    res.set_header("Allow", "GET, HEAD, PUT, PATCH, DELETE");
    SendJsonAndClose(res, 405, {{"error", "method_not_allowed"}, {"message", "POST is not allowed on a file"}});
  });
  server_->Put(kFile, [this](const httplib::Request& req, httplib::Response& res,
                            const httplib::ContentReader& reader) { PutFile(req, res, reader); });
  server_->Post(R"(/api/v1/truncate/([\s\S]+))",
                [this](const httplib::Request& req, httplib::Response& res) { Truncate(req, res); });
  // <path>/locations names the file's copies, unless <path> is not a file
  // (then it is a directory and "locations" a file in it).
  server_->Get(R"(/api/v1/files/([\s\S]+)/locations)", [this](const httplib::Request& req, httplib::Response& res) {
    auto path = PathFromRequest(req);
    if (path.ok()) {
      auto meta = files_.Meta(*path);
      if (meta.ok()) return SendJson(res, 200, *meta);
      if (meta.status().code() != Code::kNotFound) return SendError(res, meta.status());
    }
    std::string whole = std::string(req.matches[1]) + "/locations";
    if (Status st = ValidatePath(whole); !st.ok()) return SendError(res, st);
    GetFile(req, res, whole, false);
  });
  server_->Get(kFile, [this](const httplib::Request& req, httplib::Response& res) {
    auto path = PathFromRequest(req);
    if (!path.ok()) return SendError(res, path.status());
    GetFile(req, res, *path, false);
  });
  server_->Delete(kFile, [this](const httplib::Request& req, httplib::Response& res) {
    auto path = PathFromRequest(req);
    if (!path.ok()) return SendError(res, path.status());
    auto who = ParseCredentials(req);
    if (!who.ok()) return SendError(res, who.status());
    std::optional<RelaxedCommits> relaxed;  // ?sync=0: docs/namespace.md "Durability of commits"
    if (req.get_param_value("sync") == "0") relaxed.emplace();
    auto f = files_.Delete(*path, *who ? &**who : nullptr);
    if (!f.ok()) return SendError(res, f.status());
    res.status = 204;
  });
  // Many names removed in one commit (the mount's deferred unlinks): docs/protocol.md "Unlink in batches".
  server_->Post("/api/v1/unlink", [this](const httplib::Request& req, httplib::Response& res) {
    auto batch = ParseUnlinkBatch(req.body);
    if (!batch.ok()) return SendError(res, batch.status());
    auto who = ParseCredentials(req);
    if (!who.ok()) return SendError(res, who.status());
    std::optional<RelaxedCommits> relaxed;
    if (req.get_param_value("sync") == "0") relaxed.emplace();
    auto done = files_.DeleteMany(batch->entries, *who ? &**who : nullptr);
    if (!done.ok()) return SendError(res, done.status());
    wire::UnlinkAnswer answer;
    for (size_t i = 0; i < done->size(); ++i) {
      const Status& st = (*done)[i].status();
      answer.results.push_back({batch->entries[i].path, std::string(st.ok() ? "" : st.code_name()), st.message()});
    }
    SendJson(res, 200, answer);
  });
  server_->Get("/api/v1/files", [this](const httplib::Request& req, httplib::Response& res) {
    auto list = files_.List(req.get_param_value("prefix"));
    if (!list.ok()) return SendError(res, list.status());
    nlohmann::json files = nlohmann::json::array();
    for (const auto& f : *list) files.push_back(FileToJson(f));
    SendJson(res, 200, {{"files", files}});
  });
  server_->Get(R"(/api/v1/meta/([\s\S]+))", [this](const httplib::Request& req, httplib::Response& res) {
    auto path = PathFromRequest(req);
    if (!path.ok()) return SendError(res, path.status());
    auto meta = files_.Meta(*path);
    if (!meta.ok()) return SendError(res, meta.status());
    SendJson(res, 200, *meta);
  });
  server_->Put(R"(/api/v1/nodes/([0-9A-Za-z_-]{1,64}))", [this](const httplib::Request& req, httplib::Response& res) {
    auto node = ParseNodeReport(req.matches[1], req.body);
    if (!node.ok()) return SendError(res, node.status());
    Status st = files_.Heartbeat(*node);
    if (!st.ok()) return SendError(res, st);
    SendJson(res, 200, {{"node_id", node->node_id}, {"state", ToString(NodeState::kUp)}});
  });
  server_->Get("/api/v1/nodes", [this](const httplib::Request&, httplib::Response& res) {
    auto nodes = files_.Nodes();
    if (!nodes.ok()) return SendError(res, nodes.status());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& n : *nodes) out.push_back(NodeToJson(n));
    SendJson(res, 200, {{"nodes", out}});
  });
  server_->Get("/api/v1/cluster", [this](const httplib::Request&, httplib::Response& res) {
    auto info = files_.ClusterInfo();
    if (!info.ok()) return SendError(res, info.status());
    SendJson(res, 200, *info);
  });
  // The original Python system's endpoints, kept so its client.py works.
  server_->Post("/upload", [this](const httplib::Request& req, httplib::Response& res,
                                 const httplib::ContentReader& reader) { Upload(req, res, reader); });
  server_->Get("/download", [this](const httplib::Request& req, httplib::Response& res) {
    std::string name = req.get_param_value("filename");
    if (Status st = ValidatePath(name); !st.ok()) return SendCompatError(res, st);
    GetFile(req, res, name, true);
  });
}

void HttpApi::PutFile(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
  UploadGuard guard(upload_limits_);
  if (!guard.CheckDeclaredLength(req)) return guard.SendRefusal(res);
  // cpp-httplib reads a multipart Content-Type only as form parts (a plain
  // read throws bad_function_call): the body cannot even be drained.
  if (req.is_multipart_form_data()) {
    return SendErrorAndClose(res, Status::InvalidArgument("a PUT body is the file itself, not multipart/form-data "
                                                          "(POST /upload takes a form)"));
  }
  auto path = PathFromRequest(req);
  if (!path.ok()) return guard.Reject(reader, res, path.status());
  auto conflict = ParseConflictMode(req.get_param_value("conflict"));
  if (!conflict.ok()) return guard.Reject(reader, res, conflict.status());
  // X-Dfs-Md5 or Content-MD5, or the md5 trails the body (Md5Trailer).
  const bool md5_trails = req.get_header_value(kMd5Header) == kMd5Trailing;
  auto md5 = md5_trails ? Result<std::string>(std::string()) : DeclaredMd5(req);
  if (!md5.ok()) return guard.Reject(reader, res, md5.status());
  if (md5_trails && (req.has_param("offset") || req.has_header(kContentMd5Header))) {
    return guard.Reject(reader, res,
                        Status::InvalidArgument("X-Dfs-Md5: trailing is for a whole PUT with no Content-MD5"));
  }
  // cpp-httplib 0.11 takes a chunk followed by anything but CRLF as the end
  // of a chunked body, so a garbled one could be stored cut short: without
  // an md5 to check it against, only a Content-Length body is trusted.
  if (md5->empty() && !md5_trails && req.has_header("Transfer-Encoding")) {
    return SendJsonAndClose(res, 411, {{"error", "length_required"},
                                       {"message", "a chunked PUT needs X-Dfs-Md5 or Content-MD5 (or send a Content-Length)"}});
  }
  auto key = ParseIdempotencyKey(req.get_header_value(kIdempotencyKeyHeader));
  if (!key.ok()) return guard.Reject(reader, res, key.status());
  auto who = ParseCredentials(req);
  if (!who.ok()) return guard.Reject(reader, res, who.status());
  auto mode = ParseModeHeader(req.get_header_value("X-Dfs-Mode"));
  if (!mode.ok()) return guard.Reject(reader, res, mode.status());
  PutRequest put{*path, *conflict, *md5, -1, RequestId(req), *key, std::nullopt, 0644, ""};
  put.who = std::move(*who);
  put.mode = mode->value_or(0644);
  auto handle = ParseHandleParam(req);
  if (!handle.ok()) return guard.Reject(reader, res, handle.status());
  put.handle = *handle;
  put.open = req.get_param_value("open") == "1";
  res.set_header(kRequestIdHeader, put.request_id);
  if (req.has_param("replicas")) {
    auto replicas = ParseReplicasParam(req.get_param_value("replicas"));
    if (!replicas.ok()) return guard.Reject(reader, res, replicas.status());
    put.replicas = *replicas;
  }
  if (req.get_param_value("sync") == "0") put.sync = NodeSync::kSoon;
  if (req.has_param("offset")) return WriteRange(req, res, reader, put, guard);
  // ?sync=0: the commit need not be on the master's disk when this answers
  // (the chunks are on their nodes'): docs/namespace.md "Durability of commits".
  std::optional<RelaxedCommits> relaxed;
  if (req.get_param_value("sync") == "0") relaxed.emplace();
  if (Status st = files_.PrecheckPut(put); !st.ok()) return guard.Reject(reader, res, st);
  // Chunks go to their nodes as they fill: no whole-file spool.
  auto upload = files_.BeginPut(put);
  Status write_status;
  Md5Trailer trailer;
  const auto append = [&](const char* data, size_t len) { return upload->Append(data, len); };
  bool complete = reader([&](const char* data, size_t len) {
    if (!guard.Arrived(len)) return false;
    write_status = md5_trails ? trailer.Pass(data, len, append) : append(data, len);
    return write_status.ok();
  });
  // Any early stop leaves the rest of the body unread: answer and close.
  if (guard.refused()) return guard.SendRefusal(res);
  if (!write_status.ok()) return SendErrorAndClose(res, write_status);
  if (!complete) return SendErrorAndClose(res, Status::InvalidArgument("request body was cut short"));
  if (auto length = RequestContentLength(req); length && upload->size() + trailer.held() != *length) {
    return SendErrorAndClose(res, Status::InvalidArgument("request body length differs from Content-Length"));
  }
  if (md5_trails) {
    auto trailing = trailer.Md5();
    if (!trailing.ok()) return SendError(res, trailing.status());
    put.client_md5 = *trailing;
  }
  if (Status st = upload->Finish(); !st.ok()) return SendError(res, st);
  auto result = files_.Put(put, *upload);
  if (!result.ok()) return SendError(res, result.status());
  if (result->replayed) res.set_header(kReplayedHeader, "true");
  SendJson(res, 201,
           {{"name", result->name}, {"requested_name", result->requested_name}, {"renamed", result->renamed},
            {"size", result->size}, {"md5", result->md5}, {"node", result->node}, {"version", result->version},
            {"replayed", result->replayed}, {"handle", result->handle}});
}

void HttpApi::WriteRange(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader,
                         const PutRequest& put, UploadGuard& guard) {
  auto offset = ParseOffsetParam(req.get_param_value("offset"));
  if (!offset.ok()) return guard.Reject(reader, res, offset.status());
  const uint64_t limit = files_.options().chunk_size;
  if (auto length = RequestContentLength(req); length && *length > limit) {
    return SendErrorAndClose(res, Status::TooLarge("a range write is at most one chunk (" + std::to_string(limit) +
                                                   " bytes)"));
  }
  auto spool = files_.NewSpool();
  if (!spool.ok()) return SendErrorAndClose(res, spool.status());
  Status write_status;
  bool complete = reader([&](const char* data, size_t len) {
    if (!guard.Arrived(len)) return false;
    if ((*spool)->size() + len > limit) {
      write_status = Status::TooLarge("a range write is at most one chunk (" + std::to_string(limit) + " bytes)");
      return false;
    }
    write_status = (*spool)->Append(data, len);
    return write_status.ok();
  });
  if (guard.refused()) return guard.SendRefusal(res);
  if (!write_status.ok()) return SendErrorAndClose(res, write_status);
  if (!complete) return SendErrorAndClose(res, Status::InvalidArgument("request body was cut short"));
  if (Status st = (*spool)->Finish(); !st.ok()) return SendError(res, st);
  if (!put.client_md5.empty() && put.client_md5 != (*spool)->md5()) {
    return SendError(res, Status::ChecksumMismatch("md5 of the received body is " + (*spool)->md5() +
                                                   ", the client sent " + put.client_md5));
  }
  auto written = files_.WriteRange(put, *offset, **spool);
  if (!written.ok()) return SendError(res, written.status());
  SendJson(res, 200,
           {{"name", written->path}, {"size", written->size}, {"version", written->version},
            {"md5", written->md5}, {"chunks", written->chunks.size()}});
}

void HttpApi::Truncate(const httplib::Request& req, httplib::Response& res) {
  auto path = PathFromRequest(req);
  if (!path.ok()) return SendError(res, path.status());
  if (!req.has_param("size")) return SendError(res, Status::InvalidArgument("?size= is missing"));
  auto size = ParseOffsetParam(req.get_param_value("size"));
  if (!size.ok()) return SendError(res, Status::InvalidArgument("?size= is a byte count (a decimal number)"));
  auto handle = ParseHandleParam(req);
  if (!handle.ok()) return SendError(res, handle.status());
  auto who = ParseCredentials(req);
  if (!who.ok()) return SendError(res, who.status());
  PutRequest put;
  put.path = *path;
  put.handle = *handle;
  put.who = std::move(*who);
  put.request_id = RequestId(req);
  res.set_header(kRequestIdHeader, put.request_id);
  auto cut = files_.Truncate(put, *size);
  if (!cut.ok()) return SendError(res, cut.status());
  SendJson(res, 200,
           {{"name", cut->path}, {"size", cut->size}, {"version", cut->version}, {"md5", cut->md5},
            {"chunks", cut->chunks.size()}});
}

void HttpApi::GetFile(const httplib::Request& req, httplib::Response& res, const std::string& path,
                      bool compat_headers) {
  auto handle = compat_headers ? Result<std::string>(std::string()) : ParseHandleParam(req);
  if (!handle.ok()) return SendError(res, handle.status());
  auto plan = files_.PlanRead(path, *handle, /*partial=*/req.method == "GET" && !req.ranges.empty());
  if (!plan.ok()) return compat_headers ? SendCompatError(res, plan.status()) : SendError(res, plan.status());
  const uint64_t size = plan->file.size;
  if (!req.ranges.empty()) {
    if (!RangeIsSatisfiable(req.ranges, size)) {
      res.set_header("Content-Range", "bytes */" + std::to_string(size));
      SendJson(res, 416, {{"error", "bad_range"}, {"message", "range not satisfiable"}});
      return;
    }
  }
  if (size > 0 && req.method != "HEAD") {
    // The first bytes are fetched before the headers, so X-Dfs-Node names
    // the node that serves them and a file no node can serve is a clean 503.
    auto [offset, length] = req.ranges.empty() ? std::pair<uint64_t, uint64_t>{0, size} : RangeBounds(req.ranges[0], size);
    if (Status st = files_.Start(*plan, offset, length); !st.ok()) {
      return compat_headers ? SendCompatError(res, st) : SendError(res, st);
    }
  }
  if (!plan->file.md5.empty()) {
    res.set_header(kMd5Header, plan->file.md5);
    res.set_header("ETag", "\"" + plan->file.md5 + "\"");
  } else {  // a Range GET of a file whose md5 is pending: named by its version until it is settled
    res.set_header("ETag", "W/\"" + std::to_string(plan->file.ino) + "." + std::to_string(plan->file.version) + "\"");
  }
  res.set_header("Last-Modified", HttpDate(plan->file.mtime));
  res.set_header("Accept-Ranges", "bytes");
  res.set_header(kNodeHeader, plan->FirstNode());
  if (compat_headers && !plan->file.md5.empty()) res.set_header("file_hash", plan->file.md5);
  if (size == 0) {
    res.set_content("", "application/octet-stream");
    return;
  }
  auto shared_plan = std::make_shared<ReadPlan>(std::move(*plan));
  res.set_content_provider(
      size, "application/octet-stream",
      [this, shared_plan](size_t offset, size_t length, httplib::DataSink& sink) {
        Status st = files_.Read(*shared_plan, offset, length,
                                [&sink](const char* data, size_t len) { return sink.write(data, len); });
        if (!st.ok()) {
          DFS_LOG(WARN, "master") << "get name=" << shared_plan->file.path << " aborted: " << st.ToString();
          return false;  // closes the connection: the client sees a short body, never a wrong one
        }
        return true;
      });
}

void HttpApi::Upload(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
  // --max-file-size is about the file: the other fields and the multipart
  // framing get 64 KiB on top.
  constexpr uint64_t kMultipartOverhead = 64 * 1024;
  UploadGuard guard(upload_limits_);
  if (!guard.CheckDeclaredLength(req, kMultipartOverhead)) return guard.SendRefusal(res);
  if (!req.is_multipart_form_data()) {
    return guard.Reject(reader, res, Status::InvalidArgument("expected a multipart/form-data body"));
  }
  // Made when the file part starts (its name is the file's): chunks go to
  // their nodes as they fill.
  std::unique_ptr<ChunkedUpload> upload;
  std::string part, filename, file_hash;
  bool saw_file = false;
  Status write_status;
  bool complete = reader(
      [&](const httplib::MultipartFormData& header) {
        part = header.name;
        if (part == "input_file") {
          if (saw_file) {
            write_status = Status::InvalidArgument("more than one input_file part");
            return false;
          }
          saw_file = true;
          filename = header.filename;
          PutRequest naming;
          naming.path = filename;
          naming.request_id = RequestId(req);
          upload = files_.BeginPut(naming);
        }
        return true;
      },
      [&](const char* data, size_t len) {
        if (!guard.Arrived(len, part == "input_file")) return false;
        if (part == "input_file") {
          write_status = upload->Append(data, len);
          return write_status.ok();
        }
        if (part == "file_hash") {
          file_hash.append(data, len);
          if (file_hash.size() > 64) {
            write_status = Status::InvalidArgument("file_hash is too long");
            return false;
          }
        }
        return true;
      });
  // An early stop leaves the rest of the body unread: answer and close.
  if (guard.refused()) return guard.SendRefusal(res);
  if (!write_status.ok()) return SendErrorAndClose(res, write_status);
  if (!complete) {
    return SendErrorAndClose(res, Status::InvalidArgument("multipart body is malformed or cut short"));
  }
  if (!saw_file) return SendCompatError(res, Status::InvalidArgument("no input_file part"));
  if (Status st = ValidatePath(filename); !st.ok()) {
    return SendCompatError(res, Status::InvalidArgument("bad filename '" + filename + "': " + st.message()));
  }
  if (file_hash.empty()) return SendCompatError(res, Status::InvalidArgument("no file_hash field"));
  auto md5 = ParseMd5Header(file_hash);
  if (!md5.ok()) return SendCompatError(res, Status::InvalidArgument("file_hash must be an md5 hex digest"));
  if (Status st = upload->Finish(); !st.ok()) return SendCompatError(res, st);
  PutRequest put{filename, ConflictMode::kRename, *md5, -1, RequestId(req), "", std::nullopt, 0644, ""};
  auto result = files_.Put(put, *upload);
  if (!result.ok()) return SendCompatError(res, result.status());
  // 200, not 201: what the original answered, and what its client checks.
  SendJson(res, 200, {{"message", "File uploaded as " + result->name}, {"name", result->name},
                      {"renamed", result->renamed}, {"md5", result->md5}});
}

RequestClass ClassifyRequest(const RequestLine& line) {
  const bool get = line.method == "GET", put = line.method == "PUT";
  const bool file = line.path.substr(0, 14) == "/api/v1/files/";
  if ((get || put) && file) return RequestClass::kData;
  if ((line.method == "POST" && line.path == "/upload") || (get && line.path == "/download")) {
    return RequestClass::kData;
  }
  return RequestClass::kControl;
}

bool StreamsBody(const httplib::Request& req) {
  return (req.method == "PUT" && req.path.rfind("/api/v1/files/", 0) == 0) ||
         (req.method == "POST" && req.path == "/upload");
}

void HttpApi::set_upload_limits(const UploadLimits& limits) {
  upload_limits_ = limits;
  SetReadTimeout(*server_, limits.read_timeout);
}

}  // namespace dfs::master
