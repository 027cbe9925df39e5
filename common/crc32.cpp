#include "common/crc32.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>

namespace dfs {

void Crc32::Update(const char* data, size_t len) {
  while (len > 0) {  // zlib takes a uInt length
    const uInt take = static_cast<uInt>(std::min<size_t>(len, 1u << 30));
    crc_ = static_cast<uint32_t>(::crc32(crc_, reinterpret_cast<const Bytef*>(data), take));
    data += take;
    len -= take;
  }
}

uint32_t Crc32::Combine(uint32_t a, uint32_t b, uint64_t b_len) {
  return static_cast<uint32_t>(::crc32_combine64(a, b, static_cast<z_off64_t>(b_len)));
}

uint32_t Crc32::Of(std::string_view data) {
  Crc32 c;
  c.Update(data.data(), data.size());
  return c.value();
}

std::string Crc32::ToHex(uint32_t crc) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", crc);
  return std::string(buf, 8);
}

std::optional<uint32_t> Crc32::FromHex(std::string_view hex) {
  if (hex.size() != 8) return std::nullopt;
  uint32_t v = 0;
  for (char c : hex) {
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return std::nullopt;
    v = v << 4 | static_cast<uint32_t>(d);
  }
  return v;
}

}  // namespace dfs
