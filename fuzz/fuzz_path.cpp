// Path validation: whatever passes has no empty, "." or ".." component, no
// control character, valid UTF-8, bounded length; normalising is idempotent;
// parent + "/" + base gives the path back.
#include "common/path.h"
#include "fuzz/fuzz_target.h"

DFS_FUZZ_TARGET(path) {
  std::string_view text = dfs::fuzz::AsText(data, size);
  if (dfs::ValidatePath(text).ok()) {
    FUZZ_CHECK(!text.empty() && text.size() <= 4096, "valid path length");
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
  }
  auto normal = dfs::NormalizeUserPath(text);
  if (normal.ok()) {
    FUZZ_CHECK(dfs::ValidatePath(*normal).ok(), "a normalised path is valid");
    auto again = dfs::NormalizeUserPath(*normal);
    FUZZ_CHECK(again.ok() && *again == *normal, "normalising is idempotent");
  }
  return 0;
}
