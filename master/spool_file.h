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
#include <optional>
#include <string>

#include "common/buffered_writer.h"
#include "common/crc32.h"
#include "common/md5.h"
#include "common/status.h"
#include "common/unique_fd.h"

namespace dfs::master {

// Creates `dir` if needed and locks it for this process (the returned fd
// holds the lock). AlreadyExists when another process holds it.
[[nodiscard]] Result<UniqueFd> LockSpoolDir(const std::string& dir);

// What a spool hashes its bytes with as they arrive: an md5 (the chunk's
// md5 is known before it goes to a node), or only a CRC-32, when something
// else hashes the md5 (ChunkedUpload: the node answers the chunk's md5, and
// the CRC is what it checks the transfer by).
enum class SpoolDigest { kMd5, kCrc32 };

class SpoolFile {
 public:
  static Result<std::unique_ptr<SpoolFile>> Create(const std::string& dir, SpoolDigest digest = SpoolDigest::kMd5);
  ~SpoolFile();
  SpoolFile(const SpoolFile&) = delete;
  SpoolFile& operator=(const SpoolFile&) = delete;

  Status Append(const char* data, size_t len);
  // Closes the file and fixes the md5; no Append afterwards.
  Status Finish();

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  const std::string& md5() const { return md5_hex_; }  // empty with SpoolDigest::kCrc32
  std::optional<uint32_t> crc32() const;               // with SpoolDigest::kCrc32, after Finish

 private:
  SpoolFile(std::string path, UniqueFd fd, SpoolDigest digest)
      : path_(std::move(path)), fd_(std::move(fd)), out_("spool " + path_), digest_(digest) {}
  std::string path_;
  UniqueFd fd_;
  BufferedWriter out_;
  SpoolDigest digest_;
  Md5 md5_;
  Crc32 crc_;
  std::string md5_hex_;
  uint64_t size_ = 0;
};

}  // namespace dfs::master
