#include "fuse_client/file_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
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
  return bytes_;
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
  while (bytes_ > max_bytes_ && lru_.size() > 1) {
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
