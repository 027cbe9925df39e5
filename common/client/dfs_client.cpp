// DfsClient: requests, failover rounds and retries (see dfs_client.h).
#include "common/client/dfs_client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "common/buffered_writer.h"
#include "common/md5.h"
#include "common/path.h"
#include "common/unique_fd.h"

namespace dfs {

namespace {
constexpr size_t kChunk = 256 * 1024;
// The slowest master-to-node rate a PUT answer is still waited for at.
constexpr uint64_t kSlowestPutBytesPerSecond = 50ull << 20;

std::string FilesUrl(const std::string& name) { return "/api/v1/files/" + EncodePathForUrl(name); }

}  // namespace

ClientTimeouts PutTimeouts(const ClientTimeouts& base, uint64_t size) {
  ClientTimeouts t = base;
  t.read += std::chrono::milliseconds(size * 1000 / kSlowestPutBytesPerSecond);
  return t;
}

bool ShouldRetry(const Status& status) {
  return status.code() == Code::kUnavailable || status.code() == Code::kIOError || status.code() == Code::kInternal;
}

FileInfo FileInfoFromJson(const nlohmann::json& j) {
  FileInfo f = j.get<FileInfo>();
  if (!j.contains("mode") && f.type == "dir") f.mode = 0755;
  return f;
}

NodeInfo NodeInfoFromJson(const nlohmann::json& j) {
  NodeInfo n;
  n.node_id = j.value("node_id", "");
  n.url = j.value("url", "");
  n.state = j.value("state", "");
  n.capacity = j.value("capacity", uint64_t{0});
  n.used = j.value("used", uint64_t{0});
  n.free = j.value("free", uint64_t{0});
  n.blobs = j.value("blobs", uint64_t{0});
  n.last_heartbeat = j.value("last_heartbeat", 0.0);
  return n;
}

namespace {
thread_local const Credentials* t_caller = nullptr;
}  // namespace

CallerScope::CallerScope(const Credentials& who) : previous_(t_caller) { t_caller = &who; }
CallerScope::~CallerScope() { t_caller = previous_; }
const Credentials* CallerScope::Current() { return t_caller; }

httplib::Headers DfsClient::CallerHeaders() const {
  const Credentials* who = t_caller ? t_caller : (options_.credentials ? &*options_.credentials : nullptr);
  if (!who) return {};
  return {{kUidHeader, std::to_string(who->uid)},
          {kGidHeader, std::to_string(who->gid)},
          {kGroupsHeader, FormatGroupList(who->groups)}};
}

ClientPool::Lease DfsClient::Connect(const Endpoint& master, const ClientTimeouts& timeouts) const {
  auto cli = pool_->Acquire(master);
  cli->set_connection_timeout(timeouts.connect);
  cli->set_read_timeout(timeouts.read);
  cli->set_write_timeout(timeouts.write);
  // Requests made with headers of their own add CallerHeaders() to them
  // (cpp-httplib sends default headers only with requests that have none).
  cli->set_default_headers(CallerHeaders());
  return cli;
}

DfsClient::DfsClient(ClientOptions options)
    : options_(std::move(options)), pool_(std::make_shared<ClientPool>(options_.timeouts)) {
  // A bad URL (only through this constructor: Create refuses it) leaves
  // masters_ null, and every call fails with InvalidArgument.
  if (auto masters = MasterSet::Parse(options_.master_url); masters.ok()) masters_ = *masters;
}

MasterAttempt DfsClient::Round(Resend resend, const Attempt& attempt) const {
  if (!masters_) return Answered(Status::InvalidArgument("bad master URL '" + options_.master_url + "'"));
  return masters_->Call(resend, attempt);
}

Result<DfsClient> DfsClient::Create(ClientOptions options) {
  auto masters = MasterSet::Parse(options.master_url);
  if (!masters.ok()) return masters.status();
  return DfsClient(std::move(options));
}

Status DfsClient::WithRetry(const std::string& what, Resend resend, const Attempt& attempt) const {
  thread_local std::mt19937 rng{std::random_device{}()};
  auto backoff = options_.base_backoff;
  Status st;
  for (int i = 1;; ++i) {
    MasterAttempt a = Round(resend, attempt);
    st = a.status;
    if (st.ok() || !ShouldRetry(st) || !MayResend(a, resend) || i >= options_.max_attempts) break;
    // Full jitter keeps many clients from retrying in lockstep.
    std::uniform_int_distribution<long> jitter(backoff.count() / 2, backoff.count());
    std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng)));
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
  if (!st.ok() && ShouldRetry(st)) {
    return Status(st.code(), what + ": " + st.message() + " (after " + std::to_string(options_.max_attempts) +
                                 " attempts)");
  }
  return st;
}

Status DfsClient::Healthz() const {
  return Round(Resend::kSafe, [&](const Endpoint& master) {
    auto cli = Connect(master, options_.timeouts);
    auto res = cli->Get("/healthz");
    if (res) cli.Keep();
    return AttemptFrom(res);
  }).status;
}

namespace {

std::string PutUrl(const std::string& name, const PutOptions& options) {
  std::string url = FilesUrl(name) + "?conflict=" + EncodeQueryValue(options.conflict);
  if (!options.handle.empty()) url += "&handle=" + EncodeQueryValue(options.handle);
  if (options.open_handle) url += "&open=1";
  if (options.relaxed) url += "&sync=0";
  if (options.replicas >= 0) url += "&replicas=" + std::to_string(options.replicas);
  return url;
}

// The headers of every PUT attempt: the md5 (or kMd5Trailing), the key, the mode.
httplib::Headers PutHeaders(httplib::Headers headers, const std::string& md5, const std::string& key,
                            const PutOptions& options) {
  headers.emplace(kMd5Header, md5);
  headers.emplace(kIdempotencyKeyHeader, key);
  if (options.mode) {
    char mode_text[8] = "";
    std::snprintf(mode_text, sizeof mode_text, "%o", *options.mode & 07777);
    headers.emplace("X-Dfs-Mode", mode_text);
  }
  return headers;
}

// The master's answer to a PUT that stored bytes whose md5 is `md5`.
Status ParsePutAnswer(const std::string& body, const std::string& name, const std::string& md5, PutResult* result) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) return Status::IOError("master sent a malformed answer");
  result->name = j.value("name", "");
  result->requested_name = j.value("requested_name", name);
  result->renamed = j.value("renamed", false);
  result->size = j.value("size", uint64_t{0});
  result->md5 = j.value("md5", "");
  result->node = j.value("node", "");
  result->handle = j.value("handle", "");
  if (result->md5 != md5) return Status::ChecksumMismatch("master stored md5 " + result->md5 + ", expected " + md5);
  return Status::OK();
}

}  // namespace

Result<PutResult> DfsClient::Put(const std::string& local_file, const std::string& remote_name,
                                 const PutOptions& options) const {
  auto name = NormalizeUserPath(remote_name);
  if (!name.ok()) return Status::InvalidArgument("bad name '" + remote_name + "': " + name.status().message());
  struct stat sb {};
  if (::stat(local_file.c_str(), &sb) != 0) return Status::NotFound(local_file + ": " + std::strerror(errno));
  if (!S_ISREG(sb.st_mode)) return Status::InvalidArgument(local_file + " is not a regular file");
  auto md5 = options.md5.empty() ? Md5::OfFile(local_file) : Result<std::string>(options.md5);
  if (!md5.ok()) return md5.status();
  const uint64_t size = static_cast<uint64_t>(sb.st_size);
  const std::string url = PutUrl(*name, options);
  PutResult result;
  // One key for every attempt: when an answer is lost after the master
  // stored the file, the retry gets that answer instead of storing a copy.
  const std::string idempotency_key = RandomHex(16);
  // The key makes a resend harmless, on this master or any other (they share the database).
  Status st = WithRetry("put " + *name, Resend::kSafe, [&](const Endpoint& master) -> MasterAttempt {
    // Re-opened on every attempt: the body can always be sent again.
    auto fd = std::make_shared<UniqueFd>(::open(local_file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!*fd) return Answered(Status::IOError(local_file + ": " + std::strerror(errno)));
    auto cli = Connect(master, PutTimeouts(options_.timeouts, size));
    auto res = cli->Put(
        url, PutHeaders(CallerHeaders(), *md5, idempotency_key, options), size,
        [fd, size, &options](size_t offset, size_t length, httplib::DataSink& sink) {
          std::vector<char> buf(std::min(length, kChunk));
          ssize_t n = ::pread(fd->get(), buf.data(), buf.size(), static_cast<off_t>(offset));
          if (n <= 0) return false;
          if (options.progress) options.progress(offset + static_cast<uint64_t>(n), size);
          return sink.write(buf.data(), static_cast<size_t>(n));
        },
        "application/octet-stream");
    if (res) cli.Keep();
    MasterAttempt sent = AttemptFrom(res);
    if (!sent.status.ok()) return sent;
    return Answered(ParsePutAnswer(res->body, *name, *md5, &result));
  });
  if (!st.ok()) return st;
  return result;
}

Result<PutResult> DfsClient::PutGrowing(const std::string& remote_name, const PutOptions& options,
                                        const GrowingBody& body) const {
  auto name = NormalizeUserPath(remote_name);
  if (!name.ok()) return Status::InvalidArgument("bad name '" + remote_name + "': " + name.status().message());
  const std::string url = PutUrl(*name, options);
  const std::string idempotency_key = RandomHex(16);
  PutResult result;
  Status st = WithRetry("put " + *name, Resend::kSafe, [&](const Endpoint& master) -> MasterAttempt {
    Status body_status;  // the body's own failure: answered, never retried
    std::string md5;
    std::vector<char> buf(kChunk);
    // However long the body takes to grow, its last bytes reach the master
    // well within this; the writer's own limit (GrowingBody) is shorter.
    auto cli = Connect(master, PutTimeouts(options_.timeouts, uint64_t{1} << 36));
    auto res = cli->Put(
        url, PutHeaders(CallerHeaders(), kMd5Trailing, idempotency_key, options),
        [&](size_t offset, httplib::DataSink& sink) {
          auto n = body.read(offset, buf.data(), buf.size());
          if (!n.ok()) {
            body_status = n.status();
            return false;
          }
          if (*n > 0) return sink.write(buf.data(), *n);
          md5 = body.md5();
          if (!sink.write(md5.data(), md5.size())) return false;
          sink.done();
          return true;
        },
        "application/octet-stream");
    if (!body_status.ok()) return Answered(body_status);
    if (res) cli.Keep();
    MasterAttempt sent = AttemptFrom(res);
    if (!sent.status.ok()) return sent;
    return Answered(ParsePutAnswer(res->body, *name, md5, &result));
  });
  if (!st.ok()) return st;
  return result;
}

Result<FileInfo> DfsClient::Download(const std::string& remote_name,
                                     const std::function<bool(const char*, size_t)>& sink,
                                     const std::function<void()>& restart, const ProgressFn& progress,
                                     bool retry_after_bytes) const {
  auto name = NormalizeUserPath(remote_name);
  if (!name.ok()) return Status::InvalidArgument("bad name '" + remote_name + "': " + name.status().message());
  FileInfo info;
  info.name = *name;
  bool delivered_any = false;
  Status st = WithRetry("get " + *name, Resend::kSafe, [&](const Endpoint& master) -> MasterAttempt {
    if (delivered_any && !retry_after_bytes) {
      return Answered(Status::IOError("download of " + *name + " was interrupted"));
    }
    if (restart) restart();
    auto cli = Connect(master, options_.timeouts);
    int status = 0;
    uint64_t total = 0, done = 0;
    std::string expected_md5, error_body;
    BackgroundMd5 md5;  // hashed beside the receiving and writing
    bool sink_failed = false;
    auto res = cli->Get(
        FilesUrl(*name), CallerHeaders(),
        [&](const httplib::Response& r) {
          status = r.status;
          expected_md5 = r.get_header_value(kMd5Header);
          total = std::strtoull(r.get_header_value("Content-Length").c_str(), nullptr, 10);
          return true;
        },
        [&](const char* data, size_t len) {
          if (status != 200) {
            error_body.append(data, len);
            return error_body.size() < 65536;
          }
          md5.Update(data, len);
          done += len;
          delivered_any = true;
          if (!sink(data, len)) {
            sink_failed = true;
            return false;
          }
          if (progress) progress(done, total);
          return true;
        });
    if (res && !sink_failed) cli.Keep();
    if (sink_failed) return Answered(Status::IOError("cannot write the downloaded data"));
    if (!res) {
      MasterAttempt failed = AttemptFrom(res);
      failed.status = Status::Unavailable("download of " + *name + " failed: " + httplib::to_string(res.error()));
      return failed;
    }
    if (status != 200) return AttemptFromResponse(status, error_body.empty() ? res->body : error_body);
    if (done != total) {
      return {Status::Unavailable("download of " + *name + " was cut short (" + std::to_string(done) + " of " +
                                  std::to_string(total) + " bytes)"),
              Reach::kMaybeDone};
    }
    std::string actual = md5.HexDigest();
    if (expected_md5.empty()) return Answered(Status::IOError("master sent no md5 for " + *name));
    if (actual != expected_md5) {
      return Answered(
          Status::ChecksumMismatch("md5 of downloaded " + *name + " is " + actual + ", expected " + expected_md5));
    }
    info.size = done;
    info.md5 = actual;
    return Answered(Status::OK());
  });
  if (!st.ok()) return st;
  return info;
}

Result<FileInfo> DfsClient::Get(const std::string& remote_name, const std::string& local_dest,
                                const ProgressFn& progress, bool durable) const {
  namespace fs = std::filesystem;
  fs::path dest(local_dest);
  fs::path dir = dest.has_parent_path() ? dest.parent_path() : fs::path(".");
  std::string tmpl = (dir / ("." + dest.filename().string() + ".dfs-part-XXXXXX")).string();
  int raw = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (raw < 0) return Status::IOError("cannot create a temp file in " + dir.string() + ": " + std::strerror(errno));
  UniqueFd fd(raw);
  // Removes the temp file unless it was renamed into place.
  struct TempGuard {
    std::string path;
    bool keep = false;
    ~TempGuard() {
      if (!keep) ::unlink(path.c_str());
    }
  } guard{tmpl};
  Status write_status;
  BufferedWriter out(tmpl);  // one write(2) per 256 KiB, not per 4 KiB piece
  auto info = Download(
      remote_name,
      [&](const char* data, size_t len) {
        write_status = out.Append(fd.get(), data, len);
        return write_status.ok();
      },
      [&] {
        out = BufferedWriter(tmpl);
        if (::ftruncate(fd.get(), 0) != 0 || ::lseek(fd.get(), 0, SEEK_SET) != 0) {
          write_status = Status::IOError("cannot reset temp file");
        }
      },
      progress, /*retry_after_bytes=*/true);
  if (write_status.ok() && info.ok()) write_status = out.Flush(fd.get());
  if (!write_status.ok()) return write_status;
  if (!info.ok()) return info.status();
  ::fchmod(fd.get(), 0644 & ~[] { mode_t m = ::umask(0); ::umask(m); return m; }());
  if (durable && ::fsync(fd.get()) != 0) return Status::IOError(std::string("fsync: ") + std::strerror(errno));
  if (fd.Close() != 0) return Status::IOError(std::string("close: ") + std::strerror(errno));
  if (::rename(tmpl.c_str(), local_dest.c_str()) != 0) {
    return Status::IOError("rename to " + local_dest + ": " + std::strerror(errno));
  }
  guard.keep = true;
  return info;
}

Result<FileInfo> DfsClient::GetStream(const std::string& remote_name,
                                      const std::function<bool(const char*, size_t)>& sink,
                                      const ProgressFn& progress) const {
  return Download(remote_name, sink, nullptr, progress, /*retry_after_bytes=*/false);
}

Status DfsClient::GetRange(const std::string& remote_name, const std::string& handle, uint64_t offset,
                           uint64_t length, const std::function<bool(const char*, size_t)>& sink,
                           const std::function<void()>& restart) const {
  auto name = NormalizeUserPath(remote_name);
  if (!name.ok()) return Status::InvalidArgument("bad name '" + remote_name + "': " + name.status().message());
  if (length == 0) return Status::OK();
  std::string url = FilesUrl(*name);
  if (!handle.empty()) url += "?handle=" + EncodeQueryValue(handle);
  const std::string range = "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1);
  const std::string what = "get " + *name + " " + range;
  return WithRetry(what, Resend::kSafe, [&](const Endpoint& master) -> MasterAttempt {
    if (restart) restart();
    auto cli = Connect(master, options_.timeouts);
    httplib::Headers headers = CallerHeaders();
    headers.emplace("Range", range);
    int status = 0;
    uint64_t declared = 0, done = 0;
    std::string error_body;
    bool sink_failed = false;
    auto res = cli->Get(
        url, headers,
        [&](const httplib::Response& r) {
          status = r.status;
          declared = std::strtoull(r.get_header_value("Content-Length").c_str(), nullptr, 10);
          // 200 is the whole file: only what was asked for when it starts at 0 and is that long.
          return status != 200 || (offset == 0 && declared == length);
        },
        [&](const char* data, size_t len) {
          if (status != 206 && status != 200) {
            error_body.append(data, len);
            return error_body.size() < 65536;
          }
          if (done + len > length || !sink(data, len)) {
            sink_failed = true;
            return false;
          }
          done += len;
          return true;
        });
    if (res && !sink_failed) cli.Keep();
    if (sink_failed) return Answered(Status::IOError(what + ": the answer could not be kept"));
    if (!res) {
      MasterAttempt failed = AttemptFrom(res);
      failed.status = Status::Unavailable(what + " failed: " + httplib::to_string(res.error()));
      return failed;
    }
    if (status != 206 && status != 200) return AttemptFromResponse(status, error_body.empty() ? res->body : error_body);
    if (done != length) {
      return {Status::Unavailable(what + " was cut short (" + std::to_string(done) + " of " + std::to_string(length) +
                                  " bytes)"),
              Reach::kMaybeDone};
    }
    return Answered(Status::OK());
  });
}

Result<FileInfo> DfsClient::Stat(const std::string& remote_name) const {
  auto meta = Meta(remote_name);
  if (!meta.ok()) return meta.status();
  return FileInfoFromJson(*meta);
}

Result<nlohmann::json> DfsClient::GetJson(const std::string& path) const {
  nlohmann::json out;
  Status st = WithRetry("GET " + path, Resend::kSafe, [&](const Endpoint& master) -> MasterAttempt {
    auto cli = Connect(master, options_.timeouts);
    auto res = cli->Get(path);
    if (res) cli.Keep();
    MasterAttempt a = AttemptFrom(res);
    if (!a.status.ok()) return a;
    out = nlohmann::json::parse(res->body, nullptr, false);
    if (out.is_discarded()) return Answered(Status::IOError("master sent malformed JSON"));
    return a;
  });
  if (!st.ok()) return st;
  return out;
}

Result<nlohmann::json> DfsClient::RequestJson(const std::string& method, const std::string& path,
                                              const nlohmann::json& body, Resend resend) const {
  nlohmann::json answer;
  Status st = WithRetry(method + " " + path, resend, [&](const Endpoint& master) -> MasterAttempt {
    auto cli = Connect(master, options_.timeouts);
    std::string payload = body.is_null() ? "" : body.dump();
    httplib::Result res = method == "POST"     ? cli->Post(path, payload, "application/json")
                          : method == "PATCH"  ? cli->Patch(path, payload, "application/json")
                          : method == "DELETE" ? cli->Delete(path)
                                               : cli->Put(path, payload, "application/json");
    if (res) cli.Keep();
    MasterAttempt a = AttemptFrom(res);
    if (!a.status.ok()) return a;
    answer = res->body.empty() ? nlohmann::json() : nlohmann::json::parse(res->body, nullptr, false);
    if (answer.is_discarded()) {
      return Answered(Status::IOError("master sent a malformed answer to " + method + " " + path));
    }
    return a;
  });
  if (!st.ok()) return st;
  return answer;
}

Status DfsClient::SendJsonRequest(const std::string& method, const std::string& path, const nlohmann::json& body,
                                  Resend resend) const {
  return RequestJson(method, path, body, resend).status();
}

Result<nlohmann::json> DfsClient::Meta(const std::string& remote_name) const {
  auto name = NormalizeUserPath(remote_name);
  if (!name.ok()) return Status::InvalidArgument("bad name '" + remote_name + "': " + name.status().message());
  return GetJson("/api/v1/meta/" + EncodePathForUrl(*name));
}

Result<std::vector<FileInfo>> DfsClient::List(const std::string& prefix) const {
  std::string p = prefix;
  if (!p.empty() && p.front() == '/') p.erase(0, 1);
  auto j = GetJson("/api/v1/files?prefix=" + EncodeQueryValue(p));
  if (!j.ok()) return j.status();
  std::vector<FileInfo> out;
  for (const auto& f : (*j)["files"]) out.push_back(FileInfoFromJson(f));
  return out;
}

Status DfsClient::Remove(const std::string& remote_name, bool relaxed) const {
  auto name = NormalizeUserPath(remote_name);
  if (!name.ok()) return Status::InvalidArgument("bad name '" + remote_name + "': " + name.status().message());
  return SendJsonRequest("DELETE", FilesUrl(*name) + (relaxed ? "?sync=0" : ""), nullptr);
}

Result<std::vector<Status>> DfsClient::RemoveMany(const std::vector<wire::UnlinkEntry>& entries, bool relaxed) const {
  // Sent again when the answer is lost: what the first one removed is then NotFound.
  auto j = RequestJson("POST", std::string("/api/v1/unlink") + (relaxed ? "?sync=0" : ""), wire::UnlinkBatch{entries});
  if (!j.ok()) return j.status();
  wire::UnlinkAnswer answer;
  try {
    answer = j->get<wire::UnlinkAnswer>();
  } catch (const nlohmann::json::exception&) {
    return Status::IOError("master sent a malformed unlink answer");
  }
  if (answer.results.size() != entries.size()) return Status::IOError("master answered for other names than asked");
  std::vector<Status> out;
  for (const auto& r : answer.results) {
    out.push_back(r.error.empty() ? Status::OK() : Status::FromHttp(500, r.error, r.message));
  }
  return out;
}

Status DfsClient::Sync() const {
  Status st = SendJsonRequest("POST", "/api/v1/sync", nullptr);
  return st.code() == Code::kNotFound ? Status::OK() : st;
}

Result<std::vector<NodeInfo>> DfsClient::Nodes() const {
  auto j = GetJson("/api/v1/nodes");
  if (!j.ok()) return j.status();
  std::vector<NodeInfo> out;
  for (const auto& n : (*j)["nodes"]) out.push_back(NodeInfoFromJson(n));
  return out;
}

Result<nlohmann::json> DfsClient::Cluster() const { return GetJson("/api/v1/cluster"); }

Status DfsClient::SetNodeDraining(const std::string& node_id, bool draining) const {
  return SendJsonRequest("POST", "/api/v1/nodes/" + EncodeQueryValue(node_id) + (draining ? "/drain" : "/undrain"),
                         nullptr);
}

Result<nlohmann::json> DfsClient::Replication() const { return GetJson("/api/v1/replication"); }
Result<nlohmann::json> DfsClient::DeadJobs() const { return GetJson("/api/v1/replication/dead"); }

Status DfsClient::RequeueDead(const std::string& id) const {
  return SendJsonRequest("POST", "/api/v1/replication/dead/" + EncodeQueryValue(id) + "/requeue", nullptr);
}

Result<std::vector<FileInfo>> DfsClient::ListDirPage(const std::string& dir, const std::string& after, size_t limit,
                                                     std::string* next) const {
  std::string url = (dir.empty() ? "/api/v1/list" : "/api/v1/list/" + EncodePathForUrl(dir)) +
                    "?limit=" + std::to_string(limit);
  if (!after.empty()) url += "&after=" + EncodeQueryValue(after);
  auto j = GetJson(url);
  if (!j.ok()) return j.status();
  std::vector<FileInfo> out;
  for (const auto& e : (*j)["entries"]) out.push_back(FileInfoFromJson(e));
  *next = j->value("next", "");
  return out;
}

Result<std::vector<FileInfo>> DfsClient::ListDir(const std::string& dir) const {
  // The master answers a page at a time; `next` names where the following one starts.
  std::vector<FileInfo> out;
  std::string after;
  do {
    auto page = ListDirPage(dir, after, 1000, &after);
    if (!page.ok()) return page.status();
    out.insert(out.end(), std::make_move_iterator(page->begin()), std::make_move_iterator(page->end()));
  } while (!after.empty());
  return out;
}

Result<FileInfo> DfsClient::StatPath(const std::string& path) const {
  auto j = GetJson("/api/v1/stat/" + EncodePathForUrl(path));
  if (!j.ok()) return j.status();
  return FileInfoFromJson(*j);
}

Status DfsClient::MakeDir(const std::string& path, int mode) const {
  return SendJsonRequest("POST", "/api/v1/dirs/" + EncodePathForUrl(path), {{"mode", mode & 07777}});
}

Status DfsClient::RemoveDir(const std::string& path) const {
  return SendJsonRequest("DELETE", "/api/v1/dirs/" + EncodePathForUrl(path), nullptr);
}

Status DfsClient::Rename(const std::string& from, const std::string& to, const std::string& flags) const {
  nlohmann::json body = {{"from", from}, {"to", to}};
  if (!flags.empty()) body["flags"] = flags;
  // A rename carried out twice is not one rename (an exchange swaps back).
  return SendJsonRequest("POST", "/api/v1/rename", body, Resend::kUnsafe);
}

Status DfsClient::SetAttr(const std::string& path, const SetAttrRequest& attrs) const {
  nlohmann::json body = nlohmann::json::object();
  if (attrs.mode) body["mode"] = *attrs.mode;
  if (attrs.uid) body["uid"] = *attrs.uid;
  if (attrs.gid) body["gid"] = *attrs.gid;
  if (attrs.atime_now) {
    body["atime"] = "now";
  } else if (attrs.atime_ns) {
    body["atime_ns"] = *attrs.atime_ns;
  }
  if (attrs.mtime_now) {
    body["mtime"] = "now";
  } else if (attrs.mtime_ns) {
    body["mtime_ns"] = *attrs.mtime_ns;
  } else if (attrs.mtime) {
    body["mtime"] = *attrs.mtime;
  }
  if (attrs.size) body["size"] = *attrs.size;
  return SendJsonRequest("PATCH", FilesUrl(path), body);
}

Status DfsClient::Symlink(const std::string& path, const std::string& target) const {
  return SendJsonRequest("POST", "/api/v1/symlink", {{"path", path}, {"target", target}});
}

Status DfsClient::Link(const std::string& existing, const std::string& path) const {
  return SendJsonRequest("POST", "/api/v1/link", {{"from", existing}, {"to", path}});
}

Status DfsClient::MakeNode(const std::string& path, const std::string& type, int mode, uint64_t rdev) const {
  return SendJsonRequest("POST", "/api/v1/mknod", {{"path", path}, {"type", type}, {"mode", mode & 07777}, {"rdev", rdev}});
}

Result<wire::OpenedHandle> DfsClient::OpenHandle(const std::string& path) const {
  auto j = RequestJson("POST", "/api/v1/open/" + EncodePathForUrl(path), nullptr);
  if (!j.ok()) return j.status();
  if (!j->is_object() || !j->contains("handle")) return Status::IOError("master sent a malformed open answer");
  return j->get<wire::OpenedHandle>();
}

Result<FileInfo> DfsClient::StatHandle(const std::string& handle) const {
  auto j = GetJson("/api/v1/handles/" + EncodeQueryValue(handle));
  if (!j.ok()) return j.status();
  return FileInfoFromJson(*j);
}

Status DfsClient::WriteRange(const std::string& path, const std::string& handle, uint64_t offset,
                             const std::string& data) const {
  std::string url = FilesUrl(path) + "?offset=" + std::to_string(offset);
  if (!handle.empty()) url += "&handle=" + EncodeQueryValue(handle);
  const std::string md5 = Md5::Of(data);
  // No Idempotency-Key: a range write whose answer was lost is not sent again
  // (another writer may have written there since).
  return WithRetry("write " + path, Resend::kUnsafe, [&](const Endpoint& master) -> MasterAttempt {
    auto cli = Connect(master, PutTimeouts(options_.timeouts, data.size()));
    httplib::Headers headers = CallerHeaders();
    headers.emplace(kMd5Header, md5);
    auto res = cli->Put(url, headers, data, "application/octet-stream");
    if (res) cli.Keep();
    return AttemptFrom(res);
  });
}

Status DfsClient::Truncate(const std::string& path, const std::string& handle, uint64_t size) const {
  std::string url = "/api/v1/truncate/" + EncodePathForUrl(path) + "?size=" + std::to_string(size);
  if (!handle.empty()) url += "&handle=" + EncodeQueryValue(handle);
  // Not sent again when the answer is lost: another writer may have appended since.
  return WithRetry("truncate " + path, Resend::kUnsafe, [&](const Endpoint& master) -> MasterAttempt {
    auto cli = Connect(master, options_.timeouts);
    return AttemptFrom(cli->Post(url, CallerHeaders(), "", "application/json"));
  });
}

Status DfsClient::CloseHandle(const std::string& handle) const {
  return SendJsonRequest("DELETE", "/api/v1/handles/" + EncodeQueryValue(handle), nullptr);
}

Result<std::vector<std::string>> DfsClient::RenewHandles(const std::vector<std::string>& handles) const {
  auto j = RequestJson("POST", "/api/v1/handles/renew", wire::HandleList{handles});
  if (!j.ok()) return j.status();
  if (!j->is_object() || !(*j)["gone"].is_array()) return Status::IOError("master sent a malformed renew answer");
  return (*j)["gone"].get<std::vector<std::string>>();
}

}  // namespace dfs
