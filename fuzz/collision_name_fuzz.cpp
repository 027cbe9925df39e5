// Collision naming (master/collision_namer.h): for every valid path and a
// suffix like RandomSuffix()'s (6 hex digits), the new name is a valid path
// in the same folder (the whole within 4096 bytes), differs from the
// requested one and carries the suffix (all of it when there is room).
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/path.h"
#include "fuzz/fuzz_check.h"
#include "master/collision_namer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string suffix;
  for (size_t i = 0; i < 3; ++i) {
    suffix.push_back(kHex[data[i] >> 4]);
    suffix.push_back(kHex[data[i] & 0xf]);
  }
  std::string path(reinterpret_cast<const char*>(data) + 3, size - 3);
  if (!dfs::ValidatePath(path).ok()) return 0;

  std::string renamed = dfs::master::CollisionName(path, suffix);
  std::string detail = "path=" + path + " renamed=" + renamed;
  FUZZ_CHECK(dfs::ValidatePath(renamed).ok(), detail + " " + dfs::ValidatePath(renamed).message());
  FUZZ_CHECK(renamed != path, detail);
  FUZZ_CHECK(dfs::ParentPath(renamed) == dfs::ParentPath(path), detail);
  const size_t dir_bytes = path.size() - dfs::BaseName(path).size();
  if (dir_bytes + 1 + suffix.size() <= dfs::kMaxPathBytes) {
    FUZZ_CHECK(dfs::BaseName(renamed).find("_" + suffix) != std::string::npos, detail);
  } else {
    std::string name = dfs::BaseName(renamed);
    FUZZ_CHECK(name.size() <= suffix.size() && name.substr(1) == suffix.substr(1, name.size() - 1), detail);
  }
  return 0;
}
