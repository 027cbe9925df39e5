#include "fuse_client/chunk_reader.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "common/md5.h"

namespace dfs::fuse_client {

namespace {

// A whole number >= 0 (the master may send signed or unsigned integers).
bool IsCount(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return false;
  const auto& v = j[key];
  return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
}

// Whether some copy of a chunk is one the master would read from.
bool HasGoodCopy(const nlohmann::json& chunk) {
  if (!chunk.contains("replicas") || !chunk["replicas"].is_array()) return false;
  for (const auto& r : chunk["replicas"]) {
    if (r.is_object() && r.value("state", "") == "ok" && !r.value("url", "").empty()) return true;
  }
  return false;
}

}  // namespace

Result<ChunkList> ChunkListFromMeta(const nlohmann::json& meta) {
  const std::string name = meta.is_object() ? meta.value("name", "") : "";
  auto bad = [&](const std::string& why) { return Status::IOError("'" + name + "': " + why); };
  if (!IsCount(meta, "size") || !meta.contains("chunks") || !meta["chunks"].is_array()) {
    return bad("the master sent no chunk list");
  }
  ChunkList list;
  list.size = meta["size"].get<uint64_t>();
  list.version = meta.value("version", int64_t{0});
  list.md5 = meta.value("md5", "");
  if (meta["chunks"].empty()) return bad("no chunks");
  uint64_t expected = 0;
  for (const auto& c : meta["chunks"]) {
    const size_t i = list.chunks.size();
    if (!IsCount(c, "offset") || !IsCount(c, "size") || !c.contains("md5") || !c["md5"].is_string()) {
      return bad("chunk " + std::to_string(i) + " is malformed");
    }
    if (c.contains("index") && (!IsCount(c, "index") || c["index"].get<uint64_t>() != i)) {
      return bad("chunk " + std::to_string(i) + " is out of order");
    }
    ChunkRef chunk{c["offset"].get<uint64_t>(), c["size"].get<uint64_t>(), c["md5"].get<std::string>()};
    if (chunk.offset != expected) return bad("chunk " + std::to_string(i) + " does not start where the last ended");
    if (!Md5::IsValidHex(chunk.md5)) return bad("chunk " + std::to_string(i) + " has no md5");
    if (chunk.size > 0 && !HasGoodCopy(c)) return bad("chunk " + std::to_string(i) + " has no good copy");
    expected += chunk.size;
    list.chunks.push_back(std::move(chunk));
  }
  if (expected != list.size) {
    return bad("chunks add up to " + std::to_string(expected) + " bytes, the file has " + std::to_string(list.size));
  }
  if (list.chunks.size() == 1 && !list.md5.empty() && list.chunks[0].md5 != list.md5) {
    return bad("its one chunk's md5 is not the file's");
  }
  return list;
}

// ---- ReadAhead ----------------------------------------------------------------

ReadAhead::~ReadAhead() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& w : workers_) w.join();
}

void ReadAhead::Want(const std::string& name, const std::string& handle, const ChunkRef& chunk,
                     const Credentials& who) {
  if (cache_.Has(chunk.md5)) return;
  std::lock_guard lock(mu_);
  if (stopping_ || queue_.size() >= kMaxQueued || !pending_.insert(chunk.md5).second) return;
  queue_.push_back({name, handle, chunk, who});
  while (workers_.size() < kWorkers) workers_.emplace_back([this] { Loop(); });
  cv_.notify_one();
}

void ReadAhead::Loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Job job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    {
      CallerScope as(job.who);
      auto fetched = cache_.FetchChunk(client_, job.name, job.handle, job.chunk);
      if (!fetched.ok()) {  // the reader's own fetch will say why, if it gets there
        DFS_LOG(DEBUG, "fuse") << "read-ahead name=" << job.name << " offset=" << job.chunk.offset
                               << " failed: " << fetched.status().ToString();
      }
    }
    lock.lock();
    pending_.erase(job.chunk.md5);
  }
}

// ---- ChunkReader --------------------------------------------------------------

Result<std::shared_ptr<ChunkReader>> ChunkReader::Renewed(const DfsClient& client) const {
  if (handle_.empty()) return std::shared_ptr<ChunkReader>();
  auto entry = client.StatHandle(handle_);
  if (!entry.ok()) return entry.status();
  if (entry->version == list_.version || entry->name.empty()) return std::shared_ptr<ChunkReader>();
  auto meta = client.Meta(entry->name);
  if (!meta.ok()) return meta.status();
  auto list = ChunkListFromMeta(*meta);
  if (!list.ok()) return list.status();
  if (list->version != entry->version) return Status::Unavailable("'" + name_ + "' changed again");
  DFS_LOG(INFO, "fuse") << "read name=" << name_ << ": the file changed while open (version " << list_.version
                        << " -> " << list->version << "), reading what it is now";
  return std::make_shared<ChunkReader>(name_, handle_, std::move(*list), std::move(*entry));
}

size_t ChunkReader::ChunkAt(uint64_t offset) const {
  auto after = std::upper_bound(list_.chunks.begin(), list_.chunks.end(), offset,
                                [](uint64_t off, const ChunkRef& c) { return off < c.offset; });
  return static_cast<size_t>(after - list_.chunks.begin()) - 1;
}

Result<size_t> ChunkReader::ReadFromChunk(const DfsClient& client, FileCache& cache, size_t index, char* buf,
                                          size_t size, uint64_t offset) {
  const ChunkRef& chunk = list_.chunks[index];
  auto fd = cache.FetchChunk(client, name_, handle_, chunk);
  if (!fd.ok()) return fd.status();
  const uint64_t within = offset - chunk.offset;
  const size_t want = static_cast<size_t>(std::min<uint64_t>(size, chunk.size - within));
  size_t done = 0;
  while (done < want) {
    ssize_t n = ::pread(fd->get(), buf + done, want - done, static_cast<off_t>(within + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IOError(std::string("cached chunk: ") + std::strerror(errno));
    if (n == 0) return Status::IOError("cached chunk of '" + name_ + "' is shorter than its size");
    done += static_cast<size_t>(n);
  }
  return done;
}

std::optional<Result<size_t>> ChunkReader::ReadFromWholeCopy(FileCache& cache, char* buf, size_t size,
                                                             uint64_t offset) {
  // One chunk: its md5 is the file's, so FetchChunk finds the whole copy itself.
  if (list_.chunks.size() < 2 || list_.md5.empty()) return std::nullopt;
  int fd = -1;
  {
    std::lock_guard lock(mu_);
    if (!looked_for_whole_) {
      whole_ = cache.OpenIfCached(list_.md5);
      looked_for_whole_ = true;
    }
    if (!whole_) return std::nullopt;
    fd = whole_.get();
  }
  const size_t want = static_cast<size_t>(std::min<uint64_t>(size, list_.size - offset));
  size_t done = 0;
  while (done < want) {
    ssize_t n = ::pread(fd, buf + done, want - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Result<size_t>(Status::IOError(std::string("cached copy: ") + std::strerror(errno)));
    if (n == 0) return Result<size_t>(Status::IOError("cached copy of '" + name_ + "' is shorter than its size"));
    done += static_cast<size_t>(n);
  }
  return Result<size_t>(done);
}

Result<size_t> ChunkReader::Read(const DfsClient& client, FileCache& cache, ReadAhead* read_ahead, char* buf,
                                 size_t size, uint64_t offset) {
  if (offset >= list_.size || size == 0) return size_t{0};
  if (auto whole = ReadFromWholeCopy(cache, buf, size, offset)) return std::move(*whole);
  const uint64_t end = std::min<uint64_t>(list_.size, offset + size);
  size_t done = 0;
  for (uint64_t at = offset; at < end;) {
    auto n = ReadFromChunk(client, cache, ChunkAt(at), buf + done, static_cast<size_t>(end - at), at);
    if (!n.ok()) {
      DFS_LOG(WARN, "fuse") << "read name=" << name_ << " offset=" << at << " failed: " << n.status().ToString();
      return n.status();
    }
    done += *n;
    at += *n;
  }
  MaybeReadAhead(cache, read_ahead, offset, end);
  return done;
}

void ChunkReader::MaybeReadAhead(FileCache& cache, ReadAhead* read_ahead, uint64_t offset, uint64_t end) {
  size_t next = 0;
  {
    std::lock_guard lock(mu_);
    const bool sequential = offset == next_offset_;
    next_offset_ = end;
    if (!sequential || !read_ahead || end >= list_.size) return;
    next = ChunkAt(end - 1) + 1;
    if (next >= list_.chunks.size() || next == read_ahead_of_) return;
    // Only when the cache holds several chunks: else the next one would
    // push out the one being read.
    if (cache.max_bytes() / 4 < list_.chunks[next].size) return;
    read_ahead_of_ = next;
  }
  // The next chunk, and the one after it when the cache holds six of them
  // (the chunk being read, two ahead, and room for other files).
  const Credentials* who = CallerScope::Current();
  read_ahead->Want(name_, handle_, list_.chunks[next], who ? *who : Credentials{});
  if (next + 1 < list_.chunks.size() && cache.max_bytes() / 6 >= list_.chunks[next + 1].size) {
    read_ahead->Want(name_, handle_, list_.chunks[next + 1], who ? *who : Credentials{});
  }
}

}  // namespace dfs::fuse_client
