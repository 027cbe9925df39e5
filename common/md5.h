// Streaming md5 (OpenSSL EVP): feed bytes as they pass, never a whole file.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <openssl/evp.h>

#include "common/status.h"

namespace dfs {

class Md5 {
 public:
  Md5();
  void Update(const void* data, size_t len);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // Lower-case hex digest; the object may not be updated afterwards.
  std::string HexDigest();
  // The digest of what was added so far, leaving this one open for more.
  std::string HexDigestSoFar() const;

  static std::string Of(std::string_view data);
  // md5 of a file's contents, read in bounded chunks.
  static Result<std::string> OfFile(const std::string& path);
  // 32 lower-case hex digits (upper case is accepted and normalised by callers).
  static bool IsValidHex(std::string_view hex);
  // A Content-MD5 value (RFC 1864: base64 of the 16 digest bytes, 24
  // characters ending in "==") as 32 lower-case hex digits; nullopt when it
  // is anything else.
  static std::optional<std::string> HexFromBase64(std::string_view base64);

 private:
  struct CtxDeleter {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MD_CTX, CtxDeleter> ctx_;
};

// An Md5 fed on a thread of its own, so hashing overlaps the caller's
// receiving and writing (a download's md5 no longer adds to its time).
// Update copies the bytes into one of kBlocks blocks of kBlockBytes and
// waits only when all of them are still being hashed. Not copyable; the
// destructor joins the thread.
class BackgroundMd5 {
 public:
  static constexpr size_t kBlockBytes = 256 * 1024;
  static constexpr size_t kBlocks = 4;

  BackgroundMd5();
  ~BackgroundMd5();
  BackgroundMd5(const BackgroundMd5&) = delete;
  BackgroundMd5& operator=(const BackgroundMd5&) = delete;

  void Update(const void* data, size_t len);
  // Waits for every byte to be hashed; no Update afterwards.
  std::string HexDigest();

 private:
  void Hand();  // queues the block being filled
  void Run();

  Md5 md5_;
  std::vector<std::string> free_;  // empty blocks (capacity kBlockBytes), under mu_
  std::deque<std::string> full_;   // to hash, in order, under mu_
  std::string filling_;            // the caller's block
  bool done_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace dfs
