// See write_behind.h.
#include "fuse_client/write_behind.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace dfs::fuse_client {

WriteBehind::WriteBehind(const DfsClient& client, int fd, std::string path, PutOptions options, uint64_t written)
    : fd_(fd), path_(std::move(path)), options_(std::move(options)), end_(written) {
  // The client is copied: it is a value over the master's address, and the
  // thread must not depend on the caller's copy.
  // The thread speaks for whoever is writing (the master checks their rights).
  std::optional<Credentials> who;
  if (const Credentials* caller = CallerScope::Current()) who = *caller;
  thread_ = std::thread([this, client, who] {
    std::optional<CallerScope> scope;
    if (who) scope.emplace(*who);
    Run(client);
  });
}

WriteBehind::~WriteBehind() { Abort(); }

void WriteBehind::Run(const DfsClient& client) {
  GrowingBody body;
  body.read = [this](uint64_t offset, char* buf, size_t cap) { return Read(offset, buf, cap); };
  body.md5 = [this] {
    std::lock_guard lock(mu_);
    return md5_;
  };
  auto put = client.PutGrowing(path_, options_, body);
  std::lock_guard lock(mu_);
  result_ = std::move(put);
  cv_.notify_all();
}

Result<size_t> WriteBehind::Read(uint64_t offset, char* buf, size_t cap) {
  uint64_t end = 0;
  {
    std::unique_lock lock(mu_);
    bool ready = cv_.wait_for(lock, kStall, [&] { return aborted_ || finished_ || end_ > offset; });
    if (aborted_) return Status::Unavailable("write-behind of " + path_ + " abandoned");
    if (!ready) return Status::Unavailable("write-behind of " + path_ + ": no write for a while");
    end = end_;
  }
  if (offset >= end) return size_t{0};  // finished there
  const size_t n = static_cast<size_t>(std::min<uint64_t>(cap, end - offset));
  ssize_t got = ::pread(fd_, buf, n, static_cast<off_t>(offset));
  if (got <= 0) return Status::IOError("write-behind of " + path_ + ": spool read: " + std::strerror(errno));
  return static_cast<size_t>(got);
}

void WriteBehind::Grew(uint64_t end) {
  std::lock_guard lock(mu_);
  if (end > end_) {
    end_ = end;
    cv_.notify_all();
  }
}

Result<PutResult> WriteBehind::Finish(uint64_t size, const std::string& md5) {
  {
    std::unique_lock lock(mu_);
    if (aborted_ || finished_) return Status::Unavailable("write-behind of " + path_ + " is over");
    if (size != end_) {
      lock.unlock();
      Abort();
      return Status::Unavailable("write-behind of " + path_ + " was sent up to another size");
    }
    finished_ = true;
    md5_ = md5;
    cv_.notify_all();
    cv_.wait(lock, [&] { return result_.has_value(); });
  }
  thread_.join();
  return std::move(*result_);
}

void WriteBehind::Abort() {
  {
    std::lock_guard lock(mu_);
    if (!result_ && !finished_) aborted_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace dfs::fuse_client
