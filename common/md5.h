// Streaming md5 (OpenSSL EVP): feed bytes as they pass, never a whole file.
#pragma once

#include <memory>
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

  static std::string Of(std::string_view data);
  // md5 of a file's contents, read in bounded chunks.
  static Result<std::string> OfFile(const std::string& path);
  // 32 lower-case hex digits (upper case is accepted and normalised by callers).
  static bool IsValidHex(std::string_view hex);

 private:
  struct CtxDeleter {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MD_CTX, CtxDeleter> ctx_;
};

}  // namespace dfs
