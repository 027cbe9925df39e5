#include "common/md5.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/unique_fd.h"

namespace dfs {

Md5::Md5() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_.get(), EVP_md5(), nullptr); }

void Md5::Update(const void* data, size_t len) { EVP_DigestUpdate(ctx_.get(), data, len); }

std::string Md5::HexDigestSoFar() const {
  Md5 copy;
  EVP_MD_CTX_copy_ex(copy.ctx_.get(), ctx_.get());
  return copy.HexDigest();
}

std::string Md5::HexDigest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_.get(), digest, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

std::string Md5::Of(std::string_view data) {
  Md5 md5;
  md5.Update(data);
  return md5.HexDigest();
}

Result<std::string> Md5::OfFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Status::IOError("open " + path + ": " + std::strerror(errno));
  Md5 md5;
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError("read " + path + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    md5.Update(buf.data(), static_cast<size_t>(n));
  }
  return md5.HexDigest();
}

bool Md5::IsValidHex(std::string_view hex) {
  if (hex.size() != 32) return false;
  for (char c : hex) {
    bool digit = c >= '0' && c <= '9';
    bool lower = c >= 'a' && c <= 'f';
    bool upper = c >= 'A' && c <= 'F';
    if (!digit && !lower && !upper) return false;
  }
  return true;
}

namespace {
int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace

std::optional<std::string> Md5::HexFromBase64(std::string_view base64) {
  // 16 bytes are 22 base64 digits (the last one carries 2 bits) and "==".
  if (base64.size() != 24 || base64.substr(22) != "==") return std::nullopt;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  uint32_t bits = 0;
  int held = 0;
  for (char c : base64.substr(0, 22)) {
    const int v = Base64Value(c);
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<uint32_t>(v);
    held += 6;
    if (held >= 8) {
      held -= 8;
      const uint32_t byte = (bits >> held) & 0xff;
      hex += kHex[byte >> 4];
      hex += kHex[byte & 0xf];
    }
  }
  if ((bits & ((1u << held) - 1)) != 0) return std::nullopt;  // non-canonical: stray low bits
  return hex;
}

BackgroundMd5::BackgroundMd5() {
  for (size_t i = 0; i + 1 < kBlocks; ++i) {
    free_.emplace_back();
    free_.back().reserve(kBlockBytes);
  }
  filling_.reserve(kBlockBytes);
  thread_ = std::thread([this] { Run(); });
}

BackgroundMd5::~BackgroundMd5() {
  {
    std::lock_guard lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BackgroundMd5::Update(const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    const size_t n = std::min(len, kBlockBytes - filling_.size());
    filling_.append(p, n);
    p += n;
    len -= n;
    if (filling_.size() == kBlockBytes) Hand();
  }
}

void BackgroundMd5::Hand() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !free_.empty(); });
  full_.push_back(std::move(filling_));
  filling_ = std::move(free_.back());
  free_.pop_back();
  filling_.clear();
  cv_.notify_all();
}

void BackgroundMd5::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return done_ || !full_.empty(); });
    if (full_.empty()) return;  // done_ and nothing left
    std::string block = std::move(full_.front());
    full_.pop_front();
    lock.unlock();
    md5_.Update(block.data(), block.size());
    block.clear();
    lock.lock();
    free_.push_back(std::move(block));
    cv_.notify_all();
  }
}

std::string BackgroundMd5::HexDigest() {
  {
    std::lock_guard lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  md5_.Update(filling_.data(), filling_.size());
  return md5_.HexDigest();
}

}  // namespace dfs
