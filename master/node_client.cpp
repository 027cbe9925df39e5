#include "master/node_client.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/crc32.h"
#include "common/unique_fd.h"

namespace dfs::master {

namespace {
constexpr size_t kChunk = 256 * 1024;
}

Result<StoredBlob> NodeClient::PutBlob(const std::string& node_url, const std::string& blob_id,
                                       const SpoolFile& spool, const std::string& request_id,
                                       NodeSync sync) const {
  auto cli = pool_->Acquire(node_url);
  if (!cli.ok()) return cli.status();
  auto reader = SpoolReader::Open(spool);
  if (!reader.ok()) return reader.status();
  httplib::Headers headers = {{kRequestIdHeader, request_id}};
  if (!spool.md5().empty()) headers.emplace(kMd5Header, spool.md5());
  if (auto crc32 = spool.crc32()) headers.emplace(kCrc32Header, Crc32::ToHex(*crc32));
  std::vector<char> buf(std::min<uint64_t>(std::max<uint64_t>(spool.size(), 1), kChunk));
  auto res = (*cli)->Put(
      "/blobs/" + blob_id + (sync == NodeSync::kSoon ? "?sync=0" : ""), headers, spool.size(),
      [&](size_t offset, size_t length, httplib::DataSink& sink) {
        auto n = reader->ReadAt(offset, buf.data(), std::min(length, buf.size()));
        if (!n.ok() || *n == 0) return false;
        return sink.write(buf.data(), *n);
      },
      "application/octet-stream");
  if (res) cli->Keep();  // answered: cpp-httplib closed the connection itself if it could not be reused
  Status st = StatusFromResult(res);
  if (!st.ok()) return st;
  auto json = nlohmann::json::parse(res->body, nullptr, false);
  if (!json.is_object() || !json.contains("md5")) return Status::IOError("node " + node_url + " sent a bad answer");
  return StoredBlob{json["md5"].get<std::string>(), json.value("size", uint64_t{0})};
}

Status NodeClient::GetBlob(const std::string& node_url, const std::string& blob_id, uint64_t offset,
                           uint64_t length, const std::function<bool(const char*, size_t)>& receiver,
                           uint64_t* delivered, bool* verified) const {
  *delivered = 0;
  if (verified) *verified = false;
  if (length == 0) return Status::OK();
  auto cli = pool_->Acquire(node_url);
  if (!cli.ok()) return cli.status();
  httplib::Headers headers = {
      {"Range", "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1)}};
  int status = 0;
  std::string error_body;
  bool receiver_failed = false;
  auto res = (*cli)->Get(
      "/blobs/" + blob_id, headers,
      [&](const httplib::Response& r) {
        status = r.status;
        if (verified) *verified = r.get_header_value(kVerifiedHeader) == "blocks";
        return true;
      },
      [&](const char* data, size_t len) {
        if (status != 206 && status != 200) {
          error_body.append(data, len);
          return error_body.size() < 4096;
        }
        len = static_cast<size_t>(std::min<uint64_t>(len, length - *delivered));
        if (!receiver(data, len)) {
          receiver_failed = true;
          return false;
        }
        *delivered += len;
        return true;
      });
  if (receiver_failed) return Status::Unavailable("reader went away");
  if (res) cli->Keep();
  if (!res) return Status::Unavailable("node " + node_url + ": " + httplib::to_string(res.error()));
  if (status != 206 && status != 200) return StatusFromResponse(status, error_body);
  if (*delivered != length) {
    return Status::Unavailable("node " + node_url + " sent " + std::to_string(*delivered) + " of " +
                               std::to_string(length) + " bytes");
  }
  return Status::OK();
}

Status NodeClient::Sync(const std::string& node_url) const {
  auto cli = pool_->Acquire(node_url);
  if (!cli.ok()) return cli.status();
  auto res = (*cli)->Post("/sync");
  if (res) cli->Keep();
  return StatusFromResult(res);
}

Status NodeClient::DeleteBlob(const std::string& node_url, const std::string& blob_id) const {
  auto cli = pool_->Acquire(node_url);
  if (!cli.ok()) return cli.status();
  auto res = (*cli)->Delete("/blobs/" + blob_id);
  if (res) cli->Keep();
  Status st = StatusFromResult(res);
  if (st.code() == Code::kNotFound) return Status::OK();  // already gone
  return st;
}

Result<std::vector<NodeBlob>> NodeClient::ListBlobs(const std::string& node_url) const {
  auto cli = pool_->Acquire(node_url);
  if (!cli.ok()) return cli.status();
  auto res = (*cli)->Get("/blobs");
  if (res) cli->Keep();
  if (Status st = StatusFromResult(res); !st.ok()) return st;
  auto json = nlohmann::json::parse(res->body, nullptr, false);
  if (!json.is_object() || !json.contains("blobs") || !json["blobs"].is_array()) {
    return Status::IOError("node " + node_url + " sent a malformed blob list");
  }
  const double now = json.value("now", 0.0);
  std::vector<NodeBlob> out;
  for (const auto& b : json["blobs"]) {
    if (!b.is_object() || !b.contains("blob_id") || !b["blob_id"].is_string()) continue;
    NodeBlob blob;
    blob.blob_id = b["blob_id"];
    blob.size = b.value("size", uint64_t{0});
    // A node too old to say when (no "now"/"mtime") gives age 0: never collected.
    double mtime = b.value("mtime", 0.0);
    blob.age_seconds = now > 0 && mtime > 0 ? now - mtime : 0;
    out.push_back(std::move(blob));
  }
  return out;
}

}  // namespace dfs::master
