// Path validation (common/path.h): what ValidatePath accepts has no empty,
// "." or ".." component, no control character, is well-formed UTF-8 (checked
// against a second decoder written from Unicode's table 3-7) and within the
// length limits; SplitPath/ParentPath/BaseName put it back together;
// NormalizeUserPath only ever drops one leading and one trailing '/'.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/path.h"
#include "fuzz/fuzz_check.h"

namespace {

// Well-formed UTF-8 per the Unicode standard, table 3-7.
bool ReferenceUtf8(std::string_view s) {
  auto in = [](unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
  size_t i = 0;
  while (i < s.size()) {
    auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
    size_t left = s.size() - i;
    unsigned char c = b(0);
    if (c <= 0x7F) { i += 1; continue; }
    if (in(c, 0xC2, 0xDF)) {
      if (left < 2 || !in(b(1), 0x80, 0xBF)) return false;
      i += 2; continue;
    }
    if (in(c, 0xE0, 0xEF)) {
      if (left < 3) return false;
      unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
      if (!in(b(1), lo, hi) || !in(b(2), 0x80, 0xBF)) return false;
      i += 3; continue;
    }
    if (in(c, 0xF0, 0xF4)) {
      if (left < 4) return false;
      unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
      if (!in(b(1), lo, hi) || !in(b(2), 0x80, 0xBF) || !in(b(3), 0x80, 0xBF)) return false;
      i += 4; continue;
    }
    return false;
  }
  return true;
}

void CheckValid(const std::string& path) {
  FUZZ_CHECK(!path.empty() && path.size() <= dfs::kMaxPathBytes, path);
  FUZZ_CHECK(ReferenceUtf8(path), path);
  for (char c : path) {
    auto u = static_cast<unsigned char>(c);
    FUZZ_CHECK(u >= 0x20 && u != 0x7f, path);
  }
  auto parts = dfs::SplitPath(path);
  std::string joined;
  for (const auto& p : parts) {
    FUZZ_CHECK(!p.empty() && p != "." && p != ".." && p.size() <= dfs::kMaxComponentBytes, path);
    joined += (joined.empty() ? "" : "/") + p;
  }
  FUZZ_CHECK(joined == path, path);
  std::string parent = dfs::ParentPath(path), base = dfs::BaseName(path);
  FUZZ_CHECK(base == parts.back(), path);
  FUZZ_CHECK((parent.empty() ? base : parent + "/" + base) == path, path);
  if (!parent.empty()) FUZZ_CHECK(dfs::ValidatePath(parent).ok(), path);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  FUZZ_CHECK(dfs::IsValidUtf8(input) == ReferenceUtf8(input), input);
  if (dfs::ValidatePath(input).ok()) CheckValid(input);

  auto normalized = dfs::NormalizeUserPath(input);
  if (normalized.ok()) {
    CheckValid(*normalized);
    std::string_view expect = input;
    if (!expect.empty() && expect.front() == '/') expect.remove_prefix(1);
    if (!expect.empty() && expect.back() == '/') expect.remove_suffix(1);
    FUZZ_CHECK(*normalized == expect, input);
  }
  return 0;
}
