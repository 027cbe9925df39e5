// Streaming md5 (OpenSSL EVP): feed bytes as they pass, never a whole file.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

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

}  // namespace dfs
