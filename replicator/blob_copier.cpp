#include "replicator/blob_copier.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "replicator/byte_pipe.h"

namespace dfs::replication {

namespace {
constexpr size_t kChunk = 64 * 1024;
}

CopyOutcome BlobCopier::Copy(const std::string& source_url, const std::string& target_url,
                             const std::string& blob_id, const std::string& md5, uint64_t size,
                             const std::string& request_id, const std::function<void()>& progress) const {
  auto src = ParseEndpoint(source_url);
  if (!src.ok()) return {CopyFault::kSourceUnreachable, src.status()};
  auto dst = ParseEndpoint(target_url);
  if (!dst.ok()) return {CopyFault::kTarget, dst.status()};

  if (size <= kInMemory) return CopyThroughMemory(*src, *dst, source_url, blob_id, md5, size, request_id);

  BytePipe pipe(pipe_bytes_);
  Status source_status;
  bool pipe_refused = false;  // the upload gave up first: not the source's fault

  std::thread downloader([&] {
    source_status = ReadSource(*src, source_url, blob_id, size, request_id, [&](const char* data, size_t len) {
      if (pipe.Write(data, len)) return true;
      pipe_refused = true;
      return false;
    });
    if (pipe_refused) source_status = Status::Unavailable("upload stopped");
    // A failed download fails the pipe, so the target never gets a clean end.
    pipe.CloseWrite(source_status.ok());
  });

  auto cli = Connect(*dst, timeouts_);
  httplib::Headers headers = {{kMd5Header, md5}, {kRequestIdHeader, request_id}};
  auto last_progress = std::chrono::steady_clock::now();
  auto upload = [&]() -> httplib::Result {
    if (size == 0) return cli->Put("/blobs/" + blob_id, headers, std::string(), "application/octet-stream");
    return cli->Put(
        "/blobs/" + blob_id, headers, size,
        [&](size_t, size_t length, httplib::DataSink& sink) {
          std::vector<char> buf(std::min(length, kChunk));
          long n = pipe.Read(buf.data(), buf.size());
          if (n <= 0) return false;
          if (progress && std::chrono::steady_clock::now() - last_progress > std::chrono::seconds(5)) {
            last_progress = std::chrono::steady_clock::now();
            progress();
          }
          return sink.write(buf.data(), static_cast<size_t>(n));
        },
        "application/octet-stream");
  };
  httplib::Result res = upload();
  pipe.CloseRead();
  downloader.join();
  if (res) cli.Keep();
  return Judge(source_status, pipe_refused, StatusFromResult(res), source_url, blob_id, md5, size);
}

ClientPool::Lease BlobCopier::Connect(const Endpoint& ep, const ClientTimeouts& timeouts) const {
  auto cli = pool_->Acquire(ep);
  cli->set_connection_timeout(timeouts.connect);
  cli->set_read_timeout(timeouts.read);
  cli->set_write_timeout(timeouts.write);
  return cli;
}

Status BlobCopier::ReadSource(const Endpoint& src, const std::string& source_url, const std::string& blob_id,
                              uint64_t size, const std::string& request_id,
                              const std::function<bool(const char*, size_t)>& sink) const {
  auto cli = Connect(src, timeouts_);
  int http = 0;
  std::string error_body;
  uint64_t received = 0;
  bool sink_refused = false;
  auto res = cli->Get(
      "/blobs/" + blob_id, httplib::Headers{{kRequestIdHeader, request_id}},
      [&](const httplib::Response& r) {
        http = r.status;
        return true;
      },
      [&](const char* data, size_t len) {
        if (http != 200) {
          error_body.append(data, len);
          return error_body.size() < 4096;
        }
        received += len;
        if (received > size) return false;  // never more than the blob
        sink_refused = !sink(data, len);
        return !sink_refused;
      });
  if (sink_refused) return Status::Unavailable("the copy stopped taking bytes");
  if (!res) return Status::Unavailable("source " + source_url + ": " + httplib::to_string(res.error()));
  cli.Keep();
  if (http != 200) return StatusFromResponse(http, error_body);
  if (received != size) {
    return Status::Unavailable("source " + source_url + " sent " + std::to_string(received) + " of " +
                               std::to_string(size) + " bytes");
  }
  return Status::OK();
}

CopyOutcome BlobCopier::CopyThroughMemory(const Endpoint& src, const Endpoint& dst, const std::string& source_url,
                                          const std::string& blob_id, const std::string& md5, uint64_t size,
                                          const std::string& request_id) const {
  std::string body;
  Status source_status = ReadSource(src, source_url, blob_id, size, request_id, [&](const char* data, size_t len) {
    body.append(data, len);
    return true;
  });
  if (!source_status.ok()) return Judge(source_status, false, Status::OK(), source_url, blob_id, md5, size);
  auto cli = Connect(dst, timeouts_);
  auto res = cli->Put("/blobs/" + blob_id, {{kMd5Header, md5}, {kRequestIdHeader, request_id}}, body,
                      "application/octet-stream");
  if (res) cli.Keep();
  return Judge(Status::OK(), false, StatusFromResult(res), source_url, blob_id, md5, size);
}

CopyOutcome BlobCopier::Judge(const Status& source_status, bool upload_gave_up_first, const Status& upload_status,
                              const std::string& source_url, const std::string& blob_id, const std::string& md5,
                              uint64_t size) const {
  if ((!upload_gave_up_first || upload_status.ok()) && !source_status.ok()) {
    if (source_status.code() == Code::kNotFound) return {CopyFault::kSourceBad, source_status};
    return {CopyFault::kSourceUnreachable, source_status};
  }
  if (upload_status.code() == Code::kChecksumMismatch) {
    // The target hashed what arrived and it is not the blob. The source's
    // block sums passed, so either its copy is bad as a whole (a blob from
    // before block sums, or sums written over bad bytes) or the bytes broke
    // on the way: the source re-hashing its copy tells which.
    if (Status st = Verify(source_url, blob_id, md5, size); st.code() == Code::kChecksumMismatch) {
      return {CopyFault::kSourceBad, st};
    }
  }
  // The target answered 2xx only after hashing every byte it wrote and
  // finding `md5`: that is the check after the copy.
  if (!upload_status.ok()) return {CopyFault::kTarget, upload_status};
  return {};
}

Status BlobCopier::Verify(const std::string& node_url, const std::string& blob_id, const std::string& md5,
                          uint64_t size) const {
  auto ep = ParseEndpoint(node_url);
  if (!ep.ok()) return ep.status();
  ClientTimeouts timeouts = timeouts_;
  timeouts.read += std::chrono::milliseconds(size / ((50u << 20) / 1000));
  auto cli = Connect(*ep, timeouts);
  auto res = cli->Get("/blobs/" + blob_id + "/verify");
  if (res) cli.Keep();
  if (Status st = StatusFromResult(res); !st.ok()) return st;
  auto json = nlohmann::json::parse(res->body, nullptr, false);
  if (!json.is_object()) return Status::Internal("node " + node_url + " sent a bad verify answer");
  std::string actual = json.value("md5", "");
  if (!json.value("ok", false) || actual != md5) {
    return Status::ChecksumMismatch("copy on " + node_url + " has md5 " + actual + ", expected " + md5);
  }
  return Status::OK();
}

Status BlobCopier::Delete(const std::string& node_url, const std::string& blob_id) const {
  auto ep = ParseEndpoint(node_url);
  if (!ep.ok()) return ep.status();
  auto cli = Connect(*ep, timeouts_);
  auto res = cli->Delete("/blobs/" + blob_id);
  if (res) cli.Keep();
  Status st = StatusFromResult(res);
  return st.code() == Code::kNotFound ? Status::OK() : st;
}

}  // namespace dfs::replication
