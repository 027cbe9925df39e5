#include "master/chunked_upload.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/log.h"
#include "master/file_service.h"

namespace dfs::master {
namespace {
Status HashFile(const std::string& path, Md5& md5) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Status::IOError("spool " + path + ": " + std::strerror(errno));
  std::vector<char> buf(256 << 10);
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) return Status::IOError("spool " + path + ": " + std::strerror(errno));
    if (n == 0) return Status::OK();
    md5.Update(buf.data(), static_cast<size_t>(n));
  }
}
}  // namespace

ChunkedUpload::ChunkedUpload(FileService& files, std::string name, std::string request_id, bool store)
    : files_(files),
      name_(std::move(name)),
      request_id_(std::move(request_id)),
      store_(store),
      chunk_size_(std::max<uint64_t>(files.options().chunk_size, 1)) {}

ChunkedUpload::~ChunkedUpload() {
  (void)Collect();  // a chunk still being stored is waited for, then removed with the rest
  if (keep_) return;
  for (const auto& s : stored_) files_.DeleteUnusedBlob(s.node_url, s.chunk.blob_id, s.chunk.primary_node);
}

Status ChunkedUpload::Append(const char* data, size_t len) {
  if (finished_) return Status::Internal("append after the upload finished");
  size_ += len;
  if (!store_) {
    md5_.Update(data, len);
    return Status::OK();
  }
  while (len > 0) {
    if (!current_) {
      auto spool = files_.NewSpool(SpoolDigest::kCrc32);
      if (!spool.ok()) return spool.status();
      current_ = std::move(*spool);
    }
    const size_t room = static_cast<size_t>(std::min<uint64_t>(chunk_size_ - current_->size(), len));
    if (Status st = current_->Append(data, room); !st.ok()) return st;
    data += room;
    len -= room;
    if (current_->size() == chunk_size_) {
      if (Status st = StoreCurrent(); !st.ok()) return st;
    }
  }
  return Status::OK();
}

Status ChunkedUpload::Finish() {
  if (finished_) return Status::OK();
  finished_ = true;
  if (!store_) {
    md5_hex_ = md5_.HexDigest();
    return Status::OK();
  }
  const bool empty_file = !current_ && stored_.empty() && !in_flight_.valid();
  if (empty_file) {  // one empty chunk
    auto spool = files_.NewSpool(SpoolDigest::kCrc32);
    if (!spool.ok()) return spool.status();
    current_ = std::move(*spool);
  }
  if (current_) {
    if (Status st = StoreCurrent(); !st.ok()) return st;
  }
  if (Status st = Collect(); !st.ok()) return st;
  md5_hex_ = md5_.HexDigest();
  return Status::OK();
}

Status ChunkedUpload::StoreCurrent() {
  if (Status st = Collect(); !st.ok()) return st;
  if (Status st = current_->Finish(); !st.ok()) return st;
  storing_ = std::move(current_);
  SpoolFile* spool = storing_.get();
  // The whole file's md5 is taken here, from the spool, on this upload's
  // second thread. The first takes only each chunk's CRC-32 as it arrives;
  // the node hashes the chunk's md5 (the one pass it makes anyway) and keeps
  // it only if the CRC matches. So the master makes one md5 pass, compared
  // with the client's, and a spool that changed on disk is caught by the
  // CRC, the md5, or both.
  in_flight_ = std::async(std::launch::async, [this, spool]() -> Result<PlacedBlob> {
    if (Status st = HashFile(spool->path(), md5_); !st.ok()) return st;
    return files_.StoreBlob(*spool, name_, request_id_);
  });
  return Status::OK();
}

Status ChunkedUpload::Collect() {
  if (!in_flight_.valid()) return Status::OK();
  auto placed = in_flight_.get();
  std::unique_ptr<SpoolFile> spool = std::move(storing_);  // its file goes when this returns
  if (!placed.ok()) return placed.status();
  ChunkRecord chunk;
  chunk.index = static_cast<int64_t>(stored_.size());
  chunk.offset = current_offset_;
  chunk.size = spool->size();
  chunk.md5 = placed->md5;
  chunk.blob_id = placed->blob_id;
  chunk.primary_node = placed->node_id;
  current_offset_ += chunk.size;
  stored_.push_back({std::move(chunk), placed->node_url});
  return Status::OK();
}

std::vector<ChunkRecord> ChunkedUpload::chunks() const {
  std::vector<ChunkRecord> out;
  out.reserve(stored_.size());
  for (const auto& s : stored_) out.push_back(s.chunk);
  return out;
}

}  // namespace dfs::master
