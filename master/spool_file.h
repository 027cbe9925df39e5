// SpoolFile: a request body parked while it is placed, so a failed node write
// can be retried elsewhere without asking the client to send it again.
// Up to kInMemory bytes it stays in memory (a small file costs no file on
// the master's disk: creating and removing one is most of a small PUT's
// work there); past that it moves to a file on the master's disk, which it
// reaches in writes of up to 256 KiB (common/buffered_writer.h), and which
// is removed on destruction. Read it with a SpoolReader after Finish().
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

class SpoolFile;

// Reads a finished spool: from its file (opened once) or from its memory.
// Several may read one spool at once; the spool outlives them.
class SpoolReader {
 public:
  static Result<SpoolReader> Open(const SpoolFile& spool);
  // Up to `len` bytes at `offset` into `buf`: how many (0 at the end).
  [[nodiscard]] Result<size_t> ReadAt(uint64_t offset, char* buf, size_t len) const;

 private:
  SpoolReader(const std::string* memory, UniqueFd fd) : memory_(memory), fd_(std::move(fd)) {}
  const std::string* memory_;  // null: the file
  UniqueFd fd_;
};

class SpoolFile {
 public:
  static constexpr size_t kInMemory = 256 * 1024;
  static Result<std::unique_ptr<SpoolFile>> Create(const std::string& dir, SpoolDigest digest = SpoolDigest::kMd5);
  ~SpoolFile();
  SpoolFile(const SpoolFile&) = delete;
  SpoolFile& operator=(const SpoolFile&) = delete;

  Status Append(const char* data, size_t len);
  // Closes the file and fixes the md5; no Append afterwards.
  Status Finish();

  bool in_memory() const { return !fd_ && path_.empty(); }
  uint64_t size() const { return size_; }
  const std::string& md5() const { return md5_hex_; }  // empty with SpoolDigest::kCrc32
  std::optional<uint32_t> crc32() const;               // with SpoolDigest::kCrc32, after Finish

 private:
  friend class SpoolReader;
  SpoolFile(std::string dir, SpoolDigest digest) : dir_(std::move(dir)), out_("spool in " + dir_), digest_(digest) {}
  // Moves the bytes so far from memory to a new file in dir_.
  Status MoveToDisk();
  std::string dir_;
  std::string path_;    // empty while in memory
  std::string memory_;  // the bytes, while in memory
  UniqueFd fd_;
  BufferedWriter out_;
  SpoolDigest digest_;
  Md5 md5_;
  Crc32 crc_;
  std::string md5_hex_;
  uint64_t size_ = 0;
};

}  // namespace dfs::master
