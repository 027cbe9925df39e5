// SpoolFile: a request body parked on the master's disk while it is placed,
// so a failed node write can be retried elsewhere without holding the body in
// memory or asking the client to send it again. Removed on destruction.
// Appends reach the file in writes of up to 256 KiB (common/buffered_writer.h);
// Finish() writes the rest.
//
// A spool folder belongs to one master: LockSpoolDir takes it (a flock on the
// folder, held for the process's life) before the master clears what a crash
// left there, so a second master given the same folder refuses to start
// instead of deleting uploads the first has in flight.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/buffered_writer.h"
#include "common/md5.h"
#include "common/status.h"
#include "common/unique_fd.h"

namespace dfs::master {

// Creates `dir` if needed and locks it for this process (the returned fd
// holds the lock). AlreadyExists when another process holds it.
[[nodiscard]] Result<UniqueFd> LockSpoolDir(const std::string& dir);

class SpoolFile {
 public:
  static Result<std::unique_ptr<SpoolFile>> Create(const std::string& dir);
  ~SpoolFile();
  SpoolFile(const SpoolFile&) = delete;
  SpoolFile& operator=(const SpoolFile&) = delete;

  Status Append(const char* data, size_t len);
  // Closes the file and fixes the md5; no Append afterwards.
  Status Finish();

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  const std::string& md5() const { return md5_hex_; }

 private:
  SpoolFile(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)), out_("spool " + path_) {}
  std::string path_;
  UniqueFd fd_;
  BufferedWriter out_;
  Md5 md5_;
  std::string md5_hex_;
  uint64_t size_ = 0;
};

}  // namespace dfs::master
