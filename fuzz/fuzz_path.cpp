// Path validation: whatever passes has no empty, "." or ".." component, no
// control character, valid UTF-8, bounded length; normalising is idempotent
// and only drops one leading and one trailing '/'; parent + "/" + base and
// the joined SplitPath give the path back. IsValidUtf8 agrees with a second
// decoder written from the Unicode standard's table 3-7 on every input.
#include "common/path.h"
#include "fuzz/fuzz_target.h"

namespace {
// Well-formed UTF-8 per the Unicode standard, table 3-7.
bool ReferenceUtf8(std::string_view s) {
  auto in = [](unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
  size_t i = 0;
  while (i < s.size()) {
    auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
    size_t left = s.size() - i, n = 0;
    unsigned char c = b(0);
    unsigned lo = 0x80, hi = 0xBF;
    if (c <= 0x7F) {
      n = 1;
    } else if (in(c, 0xC2, 0xDF)) {
      n = 2;
    } else if (in(c, 0xE0, 0xEF)) {
      n = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (in(c, 0xF0, 0xF4)) {
      n = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (left < n) return false;
    for (size_t k = 1; k < n; ++k) {
      if (!in(b(k), k == 1 ? lo : 0x80, k == 1 ? hi : 0xBF)) return false;
    }
    i += n;
  }
  return true;
}
}  // namespace

DFS_FUZZ_TARGET(path) {
  std::string_view text = dfs::fuzz::AsText(data, size);
  FUZZ_CHECK(dfs::IsValidUtf8(text) == ReferenceUtf8(text), "IsValidUtf8 agrees with table 3-7");
  if (dfs::ValidatePath(text).ok()) {
    FUZZ_CHECK(!text.empty() && text.size() <= dfs::kMaxPathBytes, "valid path length");
    FUZZ_CHECK(dfs::IsValidUtf8(text), "valid path is UTF-8");
    size_t start = 0;
    for (;;) {
      size_t slash = text.find('/', start);
      std::string_view part = text.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
      FUZZ_CHECK(!part.empty() && part != "." && part != "..", "no empty, . or .. component");
      FUZZ_CHECK(part.size() <= 255, "component length");
      if (slash == std::string_view::npos) break;
      start = slash + 1;
    }
    for (unsigned char c : text) FUZZ_CHECK(c >= 0x20 && c != 0x7f, "no control character");
    std::string parent = dfs::ParentPath(text), base = dfs::BaseName(text);
    FUZZ_CHECK((parent.empty() ? base : parent + "/" + base) == text, "parent/base split");
    std::string joined;
    for (const auto& part : dfs::SplitPath(text)) joined += (joined.empty() ? "" : "/") + part;
    FUZZ_CHECK(joined == text, "SplitPath joins back to the path");
  }
  auto normal = dfs::NormalizeUserPath(text);
  if (normal.ok()) {
    FUZZ_CHECK(dfs::ValidatePath(*normal).ok(), "a normalised path is valid");
    auto again = dfs::NormalizeUserPath(*normal);
    FUZZ_CHECK(again.ok() && *again == *normal, "normalising is idempotent");
    std::string_view expect = text;
    if (!expect.empty() && expect.front() == '/') expect.remove_prefix(1);
    if (!expect.empty() && expect.back() == '/') expect.remove_suffix(1);
    FUZZ_CHECK(*normal == expect, "normalising only drops one leading and one trailing '/'");
  }
  return 0;
}
