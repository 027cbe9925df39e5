#include "master/chunked_upload.h"

#include <algorithm>
#include <vector>

#include "common/log.h"
#include "master/file_service.h"

namespace dfs::master {

ChunkedUpload::ChunkedUpload(FileService& files, std::string name, std::string request_id, bool store,
                             NodeSync sync)
    : files_(files),
      name_(std::move(name)),
      request_id_(std::move(request_id)),
      sync_(sync),
      store_(store),
      chunk_size_(std::max<uint64_t>(files.options().chunk_size, 1)) {}

ChunkedUpload::~ChunkedUpload() {
  while (!storing_.empty()) (void)Collect();  // chunks still being stored are waited for, then removed with the rest
  if (keep_) return;
  for (const auto& s : stored_) files_.DeleteUnusedBlob(s.node_url, s.chunk.blob_id, s.chunk.primary_node);
}

Status ChunkedUpload::Append(const char* data, size_t len) {
  if (finished_) return Status::Internal("append after the upload finished");
  size_ += len;
  md5_.Update(data, len);
  if (!store_) return Status::OK();
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
  const bool empty_file = !current_ && stored_.empty() && storing_.empty();
  if (empty_file) {  // one empty chunk
    auto spool = files_.NewSpool(SpoolDigest::kCrc32);
    if (!spool.ok()) return spool.status();
    current_ = std::move(*spool);
  }
  if (current_ && storing_.empty()) {  // the one chunk left to store (a small file's only one): on this thread
    if (Status st = current_->Finish(); !st.ok()) return st;
    auto placed = files_.StoreBlob(*current_, name_, request_id_, sync_);
    std::unique_ptr<SpoolFile> spool = std::move(current_);
    if (Status st = Record(*spool, std::move(placed)); !st.ok()) return st;
  } else if (current_) {
    if (Status st = StoreCurrent(); !st.ok()) return st;
  }
  while (!storing_.empty()) {
    if (Status st = Collect(); !st.ok()) return st;
  }
  md5_hex_ = md5_.HexDigest();
  return Status::OK();
}

Status ChunkedUpload::StoreCurrent() {
  if (storing_.size() >= kMaxStoring) {
    if (Status st = Collect(); !st.ok()) return st;
  }
  if (Status st = current_->Finish(); !st.ok()) return st;
  // The receiving thread took this chunk's CRC-32 and the whole body's md5
  // as it arrived; the node hashes the chunk's md5 (the one pass it makes
  // anyway) and keeps it only if the CRC matches. So the master makes one
  // md5 pass, compared with the client's, and a spool that changed on disk
  // is caught by the CRC.
  SpoolFile* spool = current_.get();
  auto placed = std::async(std::launch::async, [this, spool]() -> Result<PlacedBlob> {
    return files_.StoreBlob(*spool, name_, request_id_, sync_);
  });
  storing_.push_back({std::move(current_), std::move(placed)});
  return Status::OK();
}

Status ChunkedUpload::Collect() {
  if (storing_.empty()) return Status::OK();
  Storing oldest = std::move(storing_.front());  // its spool file goes when this returns
  storing_.pop_front();
  return Record(*oldest.spool, oldest.placed.get());
}

Status ChunkedUpload::Record(const SpoolFile& spool, Result<PlacedBlob> placed) {
  // A failed chunk fails the upload; the ones after it are still collected
  // (by the destructor), so what they stored is removed with the rest.
  if (!placed.ok()) return placed.status();
  ChunkRecord chunk;
  chunk.index = static_cast<int64_t>(stored_.size());
  chunk.offset = current_offset_;
  chunk.size = spool.size();
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
