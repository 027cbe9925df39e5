#include "storage/storage_server.h"

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <vector>

#include "common/http_metrics.h"
#include "common/guarded_server.h"
#include "common/crc32.h"
#include "common/http_util.h"
#include "common/log.h"
#include "storage/bad_copy_report.h"
#include "storage/verified_reader.h"

namespace dfs::storage {

namespace {

std::string RequestId(const httplib::Request& req) {
  std::string id = req.get_header_value(kRequestIdHeader);
  return id.empty() ? "-" : id;
}

std::optional<uint64_t> ContentLength(const httplib::Request& req) {
  if (!req.has_header("Content-Length")) return std::nullopt;
  std::string v = req.get_header_value("Content-Length");
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || ptr != v.data() + v.size()) return std::nullopt;
  return n;
}

// /stats, /healthz, listing, HEAD and DELETE: their own workers, whatever
// the blob transfers (the data lane, `threads`) are doing.
constexpr LaneLimits kControlLane{8, 256};
// Blob transfers that may wait for a data worker; more get 503 + Retry-After.
constexpr size_t kDataQueue = 16;
}  // namespace

RequestClass StorageServer::ClassifyRequest(const RequestLine& line) {
  const bool blob = line.path.substr(0, 7) == "/blobs/";
  return blob && (line.method == "GET" || line.method == "PUT") ? RequestClass::kData : RequestClass::kControl;
}

StorageServer::StorageServer(std::unique_ptr<httplib::Server> server, BlobStore& store, std::string node_id,
                             std::string advertise_url, size_t threads)
    : store_(store), node_id_(std::move(node_id)), advertise_url_(std::move(advertise_url)), server_(std::move(server)) {
  UseThreadPool(*server_, threads);
  if (AdmissionConfig* admission = AdmissionOf(*server_)) {
    admission->control = kControlLane;
    admission->data.queue = kDataQueue;
    admission->classify = ClassifyRequest;
  }
  server_->set_read_timeout(30, 0);
  server_->set_write_timeout(30, 0);
  server_->set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    }
    DFS_LOG(ERROR, "storage") << "exception path=" << req.path << " error=" << what;
    SendError(res, Status::Internal(what));
  });
  InstallJsonErrorHandler(*server_);
  // Nodes take the cluster token only: read-only tokens are for the master's clients.
  InstrumentServer(*server_, metrics_, "storage", {"/healthz", "/stats", "/blobs", "/sync"},
                   AuthPolicy{{"/healthz"}, /*accept_read_token=*/false},
                   RequestLimits{.streams_body = [](const httplib::Request& req) {
                     return req.method == "PUT" && req.path.rfind("/blobs/", 0) == 0;
                   }});
  metrics_.AddCollector([this](metrics::SampleSink& out) {
    Usage u = store_.GetUsage();
    metrics::Labels node = {{"node", node_id_}};
    out.Gauge("dfs_storage_capacity_bytes", "bytes this node may hold", node, static_cast<double>(u.capacity));
    out.Gauge("dfs_storage_used_bytes", "bytes of blobs stored", node, static_cast<double>(u.used));
    out.Gauge("dfs_storage_free_bytes", "bytes still free for blobs", node, static_cast<double>(u.free));
    out.Gauge("dfs_storage_blobs", "blobs stored", node, static_cast<double>(u.blobs));
    out.Gauge("dfs_storage_unsynced_blobs", "blobs written ?sync=0 not yet fsynced", node,
              static_cast<double>(store_.pending_syncs()));
  });
  RegisterRoutes();
}

bool StorageServer::Bind(const std::string& host, int port) {
  if (!BindServer(*server_, host, port)) {
    DFS_LOG(ERROR, "storage") << "cannot listen on " << host << ":" << port;
    return false;
  }
  return true;
}

void StorageServer::Run() { server_->listen_after_bind(); }
void StorageServer::Stop() { server_->stop(); }

void StorageServer::RegisterRoutes() {
  // Anything after /blobs/ reaches the handlers, so a bad id (with '/' or
  // "..") is a 400 from ValidateId rather than a 404.
  static const std::string kBlob = R"(/blobs/([\s\S]+))";
  server_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200, {{"status", "ok"}, {"node_id", node_id_}});
  });
  server_->Get("/stats", [this](const httplib::Request&, httplib::Response& res) {
    Usage u = store_.GetUsage();
    SendJson(res, 200, {{"node_id", node_id_}, {"url", advertise_url_}, {"capacity", u.capacity},
                        {"used", u.used}, {"free", u.free}, {"blobs", u.blobs}});
  });
  server_->Get("/blobs", [this](const httplib::Request&, httplib::Response& res) {
    auto list = store_.List();
    if (!list.ok()) return SendError(res, list.status());
    nlohmann::json blobs = nlohmann::json::array();
    for (const auto& b : *list) {
      blobs.push_back({{"blob_id", b.blob_id}, {"size", b.size}, {"md5", b.md5}, {"mtime", b.mtime}});
    }
    double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    SendJson(res, 200, {{"blobs", blobs}, {"now", now}});
  });
  // Every blob written ?sync=0 so far on the disk (a client's fsync, through the master).
  server_->Post("/sync", [this](const httplib::Request&, httplib::Response& res) {
    Status st = store_.SyncPending();
    if (!st.ok()) return SendError(res, st);
    res.status = 204;
  });
  server_->Put(kBlob, [this](const httplib::Request& req, httplib::Response& res,
                            const httplib::ContentReader& reader) { HandlePut(req, res, reader); });
  // Before kBlob, which would take "<id>/verify" as an id.
  server_->Get(R"(/blobs/([^/]+)/verify)",
              [this](const httplib::Request& req, httplib::Response& res) { HandleVerify(req, res); });
  server_->Get(kBlob, [this](const httplib::Request& req, httplib::Response& res) { HandleGet(req, res); });
  server_->Delete(kBlob, [this](const httplib::Request& req, httplib::Response& res) { HandleDelete(req, res); });
  server_->Post(kBlob, [](const httplib::Request&, httplib::Response& res, const httplib::ContentReader&) {
    res.set_header("Allow", "GET, HEAD, PUT, DELETE");
    SendJsonAndClose(res, 405, {{"error", "method_not_allowed"}, {"message", "POST is not allowed on a blob"}});
  });
}

void StorageServer::HandlePut(const httplib::Request& req, httplib::Response& res,
                              const httplib::ContentReader& reader) {
  const std::string id = req.matches[1];
  UploadGuard guard(upload_limits_);
  if (!guard.CheckDeclaredLength(req)) return guard.SendRefusal(res);
  // cpp-httplib reads a multipart Content-Type only as form parts (a plain
  // read throws bad_function_call): the body cannot even be drained.
  if (req.is_multipart_form_data()) {
    return SendErrorAndClose(res, Status::InvalidArgument("a blob PUT body is not multipart/form-data"));
  }
  if (Status st = BlobStore::ValidateId(id); !st.ok()) return guard.Reject(reader, res, st);
  auto expected = DeclaredMd5(req);  // X-Dfs-Md5 or Content-MD5
  if (!expected.ok()) return guard.Reject(reader, res, expected.status());
  std::optional<uint32_t> expected_crc;
  if (req.has_header(kCrc32Header)) {
    expected_crc = Crc32::FromHex(req.get_header_value(kCrc32Header));
    if (!expected_crc) return guard.Reject(reader, res, Status::InvalidArgument("X-Dfs-Crc32 must be 8 hex digits"));
  }
  if (expected->empty() && !expected_crc) {
    return guard.Reject(reader, res,
                        Status::InvalidArgument("X-Dfs-Md5, Content-MD5 or X-Dfs-Crc32 is required: a blob is only "
                                                "kept verified"));
  }
  auto length = ContentLength(req);
  if (req.has_header("Content-Length") && !length) {
    return guard.Reject(reader, res, Status::InvalidArgument("bad Content-Length"));
  }
  auto writer = store_.BeginWrite(id, length);
  if (!writer.ok()) {
    DFS_LOG(WARN, "storage") << "put refused blob=" << id << " req=" << RequestId(req) << " "
                             << writer.status().ToString();
    return guard.Reject(reader, res, writer.status());
  }
  Status write_status;
  bool complete = reader([&](const char* data, size_t len) {
    if (!guard.Arrived(len)) return false;
    write_status = (*writer)->Append(data, len);
    return write_status.ok();
  });
  // Any early stop leaves the rest of the body unread: answer and close.
  if (guard.refused()) {
    DFS_LOG(WARN, "storage") << "put refused blob=" << id << " req=" << RequestId(req) << " after "
                             << (*writer)->bytes_written() << " bytes";
    return guard.SendRefusal(res);
  }
  if (!write_status.ok()) return SendErrorAndClose(res, write_status);
  if (!complete || (length && (*writer)->bytes_written() != *length)) {
    DFS_LOG(WARN, "storage") << "put truncated blob=" << id << " got=" << (*writer)->bytes_written();
    return SendErrorAndClose(res, Status::InvalidArgument("request body ended before Content-Length bytes"));
  }
  bool existed = store_.Stat(id).ok();
  // ?sync=0: on the disk within a second, or at POST /sync (a client's close(), not its fsync()).
  const BlobSync sync = req.get_param_value("sync") == "0" ? BlobSync::kSoon : BlobSync::kNow;
  auto info = (*writer)->Commit(*expected, expected_crc, sync);
  if (!info.ok()) {
    DFS_LOG(WARN, "storage") << "put failed blob=" << id << " req=" << RequestId(req) << " "
                             << info.status().ToString();
    return SendError(res, info.status());
  }
  DFS_LOG(INFO, "storage") << "put blob=" << id << " size=" << info->size << " md5=" << info->md5
                           << " req=" << RequestId(req);
  SendJson(res, existed ? 200 : 201, {{"blob_id", id}, {"size", info->size}, {"md5", info->md5}});
}

void StorageServer::set_upload_limits(const UploadLimits& limits) {
  upload_limits_ = limits;
  SetReadTimeout(*server_, limits.read_timeout);
}

void StorageServer::HandleGet(const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  auto info = store_.Stat(id);
  if (!info.ok()) return SendError(res, info.status());
  auto fd = store_.OpenForRead(id);
  if (!fd.ok()) return SendError(res, fd.status());
  const uint64_t size = info->size;
  uint64_t first = 0;
  if (!req.ranges.empty()) {
    // One range only (416 otherwise); cpp-httplib clamps ranges silently, so check them here.
    auto [from, to] = req.ranges[0];
    bool ok = req.ranges.size() == 1 &&
              (from >= 0 ? static_cast<uint64_t>(from) < size && (to < 0 || from <= to) : to > 0 && size > 0);
    if (!ok) {
      res.set_header("Content-Range", "bytes */" + std::to_string(size));
      SendJson(res, 416, {{"error", "bad_range"}, {"message", "range not satisfiable"}});
      return;
    }
    first = from >= 0 ? static_cast<uint64_t>(from) : size - std::min<uint64_t>(size, static_cast<uint64_t>(to));
  }
  std::optional<BlockSums> sums;
  if (auto s = store_.OpenBlockSums(id, size); s.ok()) {
    sums = std::move(*s);
  } else if (s.status().code() != Code::kNotFound) {
    OnCorrupt(id, fd->get(), s.status());
    return SendError(res, Status::NotFound("blob " + id + " is corrupt here"));
  }
  if (sums) res.set_header(kVerifiedHeader, "blocks");
  auto reader = std::make_shared<VerifiedReader>(std::move(*fd), size, std::move(sums));
  // The first block is checked before the headers go out: a bad one is a
  // plain 404 that the master moves on from, not a cut response.
  if (auto head = reader->Read(first, 1); !head.ok()) {
    if (head.status().code() == Code::kChecksumMismatch) {
      OnCorrupt(id, reader->fd(), head.status());
      return SendError(res, Status::NotFound("blob " + id + " is corrupt here"));
    }
    return SendError(res, head.status());
  }
  res.set_header(kMd5Header, info->md5);
  res.set_header("ETag", "\"" + info->md5 + "\"");
  res.set_header(kNodeHeader, node_id_);
  res.set_header("Accept-Ranges", "bytes");
  res.set_content_provider(
      size, "application/octet-stream",
      [this, reader, id](size_t offset, size_t length, httplib::DataSink& sink) {
        auto bytes = reader->Read(offset, length);
        if (!bytes.ok() || bytes->empty()) {
          if (bytes.status().code() == Code::kChecksumMismatch) {
            OnCorrupt(id, reader->fd(), bytes.status());
          } else {
            DFS_LOG(ERROR, "storage") << "read failed blob=" << id << " offset=" << offset << ": "
                                      << bytes.status().ToString();
          }
          return false;  // aborts the response before a bad byte: the reader sees a short body
        }
        return sink.write(bytes->data(), bytes->size());
      });
}

void StorageServer::OnCorrupt(const std::string& blob_id, int read_fd, const Status& why) {
  metrics_.GetCounter("dfs_read_corrupt_total", "reads stopped because a block failed its checksum").Add();
  auto moved = store_.Quarantine(blob_id, read_fd);
  DFS_LOG(ERROR, "storage") << "corrupt blob=" << blob_id << " node=" << node_id_ << ": " << why.message() << "; "
                            << (!moved.ok() ? "could not quarantine: " + moved.status().ToString()
                                            : *moved ? "moved to quarantine" : "already replaced");
  if (!moved.ok() || !*moved || !masters_) return;
  if (Status st = ReportBadCopy(*masters_, node_id_, blob_id); !st.ok()) {
    DFS_LOG(WARN, "storage") << "report corrupt blob=" << blob_id << " to master: " << st.ToString();
  }
}

void StorageServer::HandleDelete(const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  Status st = store_.Delete(id);
  if (!st.ok()) return SendError(res, st);
  DFS_LOG(INFO, "storage") << "delete blob=" << id << " req=" << RequestId(req);
  res.status = 204;
}

void StorageServer::HandleVerify(const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  auto info = store_.Stat(id);
  if (!info.ok()) return SendError(res, info.status());
  auto actual = store_.ComputeMd5(id);
  if (!actual.ok()) return SendError(res, actual.status());
  bool ok = *actual == info->md5;
  if (!ok) DFS_LOG(WARN, "storage") << "verify failed blob=" << id << " md5=" << *actual << " expected=" << info->md5;
  SendJson(res, 200, {{"ok", ok}, {"md5", *actual}, {"expected", info->md5}, {"size", info->size}});
}

}  // namespace dfs::storage
