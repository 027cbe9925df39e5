// WriteBehind: the upload of a new file that starts while the program is
// still writing it (cp, dd, tar: a file written in order from empty), so
// the bytes go to the master as they arrive instead of all at close.
//
// It is one PUT of the spool (DfsClient::PutGrowing: chunked, md5
// trailing): its body is the spool's bytes up to what has been written,
// and it waits for more; Finish() ends the body with the md5 the writes were
// hashed with and returns the master's answer, so close() still reports an
// upload failure. Nothing is visible on the master until then: the master
// commits a PUT when its body ends. Abort() (any write out of order, a
// truncate, a rename, an unlink, a pause longer than kStall) drops the
// connection, and the master removes what it stored; the file is then
// uploaded at close as before.
//
// Invariants: the spool's bytes [0, end) never change while the upload
// runs (the caller aborts first); the thread is joined before the object
// goes, so the spool fd outlives every read of it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/client/dfs_client.h"
#include "common/status.h"

namespace dfs::fuse_client {

class WriteBehind {
 public:
  // A write-behind starts once a new file has this many bytes, written in
  // order: smaller files are one PUT at close (no thread, no chunked body).
  static constexpr uint64_t kStartAt = 8u << 20;
  // The longest the body waits for the program's next write before the
  // upload is abandoned (the master's read timeout is longer).
  static constexpr std::chrono::seconds kStall{10};

  // Starts uploading the spool `fd` as `path` (bytes [0, written) are there).
  WriteBehind(const DfsClient& client, int fd, std::string path, PutOptions options, uint64_t written);
  ~WriteBehind();  // aborts an upload not finished
  WriteBehind(const WriteBehind&) = delete;
  WriteBehind& operator=(const WriteBehind&) = delete;

  // The spool now holds bytes [0, end).
  void Grew(uint64_t end);
  // The body is the spool's [0, size), whose md5 is `md5`: ends it and
  // waits for the master's answer. Unavailable when the upload had failed
  // or been abandoned, or `size` is not what it was sent up to.
  Result<PutResult> Finish(uint64_t size, const std::string& md5);
  // Abandons the upload (the master keeps nothing) and waits for its thread.
  void Abort();

  const std::string& path() const { return path_; }
  const PutOptions& options() const { return options_; }

 private:
  void Run(const DfsClient& client);
  Result<size_t> Read(uint64_t offset, char* buf, size_t cap);

  const int fd_;
  const std::string path_;
  const PutOptions options_;

  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t end_;
  bool finished_ = false;  // end_ is the body's end, md5_ its md5
  bool aborted_ = false;
  std::string md5_;
  std::optional<Result<PutResult>> result_;  // once the PUT returned
  std::thread thread_;                      // last: started when the rest is set
};

}  // namespace dfs::fuse_client
