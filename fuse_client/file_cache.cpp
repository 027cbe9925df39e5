#include "fuse_client/file_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <vector>

#include "common/http_util.h"
#include "common/log.h"
#include "common/md5.h"

namespace dfs::fuse_client {

namespace fs = std::filesystem;

Result<std::unique_ptr<FileCache>> FileCache::Open(const std::string& dir, uint64_t max_bytes) {
  std::error_code ec;
  fs::create_directories(dir + "/blobs", ec);
  if (!ec) fs::create_directories(dir + "/spool", ec);
  if (ec) return Status::IOError("cannot create cache folder " + dir + ": " + ec.message());
  std::unique_ptr<FileCache> cache(new FileCache(dir, max_bytes));
  // Spool files of an earlier mount were never acknowledged: nothing refers to them.
  for (const auto& e : fs::directory_iterator(dir + "/spool", ec)) fs::remove(e.path(), ec);
  std::vector<std::pair<fs::file_time_type, std::string>> found;
  for (const auto& e : fs::directory_iterator(dir + "/blobs", ec)) {
    std::string name = e.path().filename().string();
    if (!e.is_regular_file() || !Md5::IsValidHex(name)) {
      fs::remove(e.path(), ec);  // a download cut short
      continue;
    }
    found.emplace_back(e.last_write_time(ec), name);
  }
  std::sort(found.begin(), found.end());
  for (const auto& [time, md5] : found) cache->Touch(md5, fs::file_size(cache->PathOf(md5), ec));
  return cache;
}

uint64_t FileCache::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_ + reserved_;
}

bool FileCache::Has(const std::string& md5) const {
  std::lock_guard lock(mu_);
  return entries_.count(md5) > 0;
}

UniqueFd FileCache::OpenIfCached(const std::string& md5) {
  if (!Has(md5)) return UniqueFd();
  return OpenCached(md5);  // none if it was evicted meanwhile
}

size_t FileCache::downloads_in_flight() const {
  std::lock_guard lock(mu_);
  return downloading_.size();
}

void FileCache::Touch(const std::string& md5, uint64_t size) {
  std::lock_guard lock(mu_);
  TouchLocked(md5, size);
}

void FileCache::TouchLocked(const std::string& md5, uint64_t size) {
  auto it = entries_.find(md5);
  if (it != entries_.end()) {
    lru_.splice(lru_.end(), lru_, it->second.pos);
    return;
  }
  lru_.push_back(md5);
  entries_[md5] = {std::prev(lru_.end()), size};
  bytes_ += size;
  EvictLocked();
}

void FileCache::EvictLocked() {
  // The newest entry always stays, even when it alone is over the bound:
  // it is about to be opened. Open files survive eviction (unlinked, not gone).
  while (bytes_ + reserved_ > max_bytes_ && lru_.size() > 1) {
    const std::string victim = lru_.front();
    lru_.pop_front();
    bytes_ -= entries_[victim].size;
    entries_.erase(victim);
    ::unlink(PathOf(victim).c_str());
    DFS_LOG(DEBUG, "fuse") << "cache evicted md5=" << victim;
  }
}

UniqueFd FileCache::OpenCached(const std::string& md5) {
  std::lock_guard lock(mu_);
  UniqueFd fd(::open(PathOf(md5).c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0) return UniqueFd();
  TouchLocked(md5, static_cast<uint64_t>(st.st_size));
  return fd;
}

std::shared_ptr<std::mutex> FileCache::AcquireGate(const std::string& md5) {
  std::lock_guard lock(mu_);
  auto& gate = downloading_[md5];
  if (!gate) gate = std::make_shared<std::mutex>();
  return gate;
}

void FileCache::ReleaseGate(const std::string& md5, std::shared_ptr<std::mutex> gate) {
  std::lock_guard lock(mu_);
  auto it = downloading_.find(md5);
  gate.reset();
  // Copies are only made under mu_: a count of one is the map's own.
  if (it != downloading_.end() && it->second.use_count() == 1) downloading_.erase(it);
}

Result<UniqueFd> FileCache::Fetch(const DfsClient& client, const std::string& path, const std::string& md5) {
  if (md5.empty()) return FetchPending(client, path);
  if (!Md5::IsValidHex(md5)) return Status::IOError("master sent no md5 for '" + path + "'");
  struct GateHolder {
    FileCache* cache;
    const std::string& md5;
    std::shared_ptr<std::mutex> gate;
    ~GateHolder() { cache->ReleaseGate(md5, std::move(gate)); }
  } holder{this, md5, AcquireGate(md5)};
  std::lock_guard download_lock(*holder.gate);
  if (UniqueFd fd = OpenCached(md5)) return fd;
  const std::string local = PathOf(md5);
  auto info = client.Get(path, local);
  if (!info.ok()) return info.status();
  if (info->md5 != md5) {
    // The file changed between stat and download: keep what we got under
    // its own md5, and let the caller decide.
    std::string actual = PathOf(info->md5);
    ::rename(local.c_str(), actual.c_str());
    Touch(info->md5, info->size);
    return Status::Unavailable("'" + path + "' changed while it was opened; try again");
  }
  UniqueFd fd = OpenCached(md5);
  if (!fd) return Status::IOError("cached copy of '" + path + "' vanished: " + std::strerror(errno));
  DFS_LOG(DEBUG, "fuse") << "cached name=" << path << " md5=" << md5 << " size=" << info->size;
  return fd;
}

Result<UniqueFd> FileCache::FetchPending(const DfsClient& client, const std::string& path) {
  // The download's answer carries the md5 (the master settles it first),
  // checked by the client: the copy is kept under that.
  const std::string local = dir_ + "/spool/pending-" + RandomHex(8);
  auto info = client.Get(path, local);
  if (!info.ok()) return info.status();
  const std::string target = PathOf(info->md5);
  if (::rename(local.c_str(), target.c_str()) != 0) {
    ::unlink(local.c_str());
    return Status::IOError("cache: " + std::string(std::strerror(errno)));
  }
  Touch(info->md5, info->size);
  UniqueFd fd = OpenCached(info->md5);
  if (!fd) return Status::IOError("cached copy of '" + path + "' vanished: " + std::strerror(errno));
  return fd;
}

bool FileCache::Reserve(uint64_t size) {
  std::lock_guard lock(mu_);
  if (size + reserved_ > max_bytes_) return false;
  while (bytes_ + reserved_ + size > max_bytes_ && !lru_.empty()) {
    const std::string victim = lru_.front();
    lru_.pop_front();
    bytes_ -= entries_[victim].size;
    entries_.erase(victim);
    ::unlink(PathOf(victim).c_str());  // a reader holding it open keeps reading it
    DFS_LOG(DEBUG, "fuse") << "cache evicted md5=" << victim << " for a chunk of " << size << " bytes";
  }
  reserved_ += size;
  return true;
}

Status FileCache::DownloadChunk(const DfsClient& client, const std::string& name, const std::string& handle,
                                const ChunkRef& chunk, int fd) {
  std::optional<Md5> md5;
  uint64_t at = 0;
  Status write_status;
  Status st = client.GetRange(
      name, handle, chunk.offset, chunk.size,
      [&](const char* data, size_t len) {
        md5->Update(data, len);
        for (size_t done = 0; done < len;) {
          ssize_t n = ::pwrite(fd, data + done, len - done, static_cast<off_t>(at + done));
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) {
            write_status = Status::IOError(std::string("cache: ") + std::strerror(errno));
            return false;
          }
          done += static_cast<size_t>(n);
        }
        at += len;
        return true;
      },
      [&] {
        md5.emplace();
        at = 0;
        if (::ftruncate(fd, 0) != 0) write_status = Status::IOError(std::string("cache: ") + std::strerror(errno));
      });
  if (!write_status.ok()) return write_status;
  if (!st.ok()) return st;
  if (!md5) md5.emplace();  // an empty chunk: nothing was asked for
  const std::string actual = md5->HexDigest();
  if (actual != chunk.md5) {
    return Status::ChecksumMismatch("bytes " + std::to_string(chunk.offset) + ".." +
                                    std::to_string(chunk.offset + chunk.size) + " of '" + name + "' have md5 " +
                                    actual + ", the chunk's is " + chunk.md5);
  }
  return Status::OK();
}

Result<UniqueFd> FileCache::FetchChunkIntoMemory(const DfsClient& client, const std::string& name,
                                                 const std::string& handle, const ChunkRef& chunk) {
  UniqueFd fd(::memfd_create("dfs-chunk", MFD_CLOEXEC));
  if (!fd) return Status::IOError(std::string("memfd_create: ") + std::strerror(errno));
  if (Status st = DownloadChunk(client, name, handle, chunk, fd.get()); !st.ok()) return st;
  return fd;
}

Result<UniqueFd> FileCache::FetchChunk(const DfsClient& client, const std::string& name, const std::string& handle,
                                       const ChunkRef& chunk) {
  if (!Md5::IsValidHex(chunk.md5)) return Status::IOError("master sent no md5 for a chunk of '" + name + "'");
  struct GateHolder {
    FileCache* cache;
    const std::string& md5;
    std::shared_ptr<std::mutex> gate;
    ~GateHolder() { cache->ReleaseGate(md5, std::move(gate)); }
  } holder{this, chunk.md5, AcquireGate(chunk.md5)};
  std::lock_guard download_lock(*holder.gate);
  if (UniqueFd fd = OpenCached(chunk.md5)) return fd;
  if (!Reserve(chunk.size)) {
    DFS_LOG(DEBUG, "fuse") << "chunk of " << chunk.size << " bytes does not fit in the cache: read from memory";
    return FetchChunkIntoMemory(client, name, handle, chunk);
  }
  const std::string part = dir_ + "/blobs/.part-" + RandomHex(8);
  UniqueFd fd(::open(part.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  Status st = fd ? DownloadChunk(client, name, handle, chunk, fd.get())
                 : Status::IOError("cache: " + std::string(std::strerror(errno)));
  if (!st.ok()) {
    ::unlink(part.c_str());
    std::lock_guard lock(mu_);
    reserved_ -= chunk.size;
    return st;
  }
  return Keep(part, chunk);
}

Result<UniqueFd> FileCache::Keep(const std::string& part, const ChunkRef& chunk) {
  std::lock_guard lock(mu_);
  reserved_ -= chunk.size;
  if (::rename(part.c_str(), PathOf(chunk.md5).c_str()) != 0) {
    int err = errno;
    ::unlink(part.c_str());
    return Status::IOError("cache: " + std::string(std::strerror(err)));
  }
  UniqueFd fd(::open(PathOf(chunk.md5).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Status::IOError("cached chunk vanished: " + std::string(std::strerror(errno)));
  TouchLocked(chunk.md5, chunk.size);  // its room was reserved: nothing else is evicted for it
  return fd;
}

void FileCache::Adopt(const std::string& local_file, const std::string& md5) {
  const std::string target = PathOf(md5);
  if (::link(local_file.c_str(), target.c_str()) != 0 && errno != EEXIST) return;
  struct stat st {};
  if (::stat(target.c_str(), &st) == 0) Touch(md5, static_cast<uint64_t>(st.st_size));
}

std::string FileCache::NewSpoolPath() {
  std::lock_guard lock(mu_);
  return dir_ + "/spool/" + std::to_string(::getpid()) + "-" + std::to_string(++spool_counter_) + "-" + RandomHex(4);
}

}  // namespace dfs::fuse_client
