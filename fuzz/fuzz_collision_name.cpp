// Collision naming: for any valid path and suffix, the new name is a valid
// path (within kMaxPathBytes in all: names deep in a long path once grew past
// it), differs from the old one, stays in the same folder and contains the
// suffix (all of it whenever "_<suffix>" fits).
#include "common/path.h"
#include "fuzz/fuzz_target.h"
#include "master/collision_namer.h"

DFS_FUZZ_TARGET(collision_name) {
  std::string_view text = dfs::fuzz::AsText(data, size);
  // Input: "<suffix>\n<path>"; the suffix is what RandomSuffix makes (hex).
  size_t nl = text.find('\n');
  if (nl == std::string_view::npos) return 0;
  std::string suffix(text.substr(0, nl)), path(text.substr(nl + 1));
  if (suffix.empty() || suffix.size() > 16) return 0;
  for (char c : suffix) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return 0;
  }
  if (!dfs::ValidatePath(path).ok()) return 0;
  std::string renamed = dfs::master::CollisionName(path, suffix);
  FUZZ_CHECK(dfs::ValidatePath(renamed).ok(), "the new name is a valid path");
  FUZZ_CHECK(renamed != path, "the new name differs");
  FUZZ_CHECK(dfs::ParentPath(renamed) == dfs::ParentPath(path), "same folder");
  const size_t dir_bytes = path.size() - dfs::BaseName(path).size();  // "dir/" or nothing
  // When exactly "_<suffix>" fits and the old name is that, no name holding
  // the whole suffix differs from it: the caller retries with another suffix.
  const bool only_the_old_name_fits =
      dir_bytes + 1 + suffix.size() == dfs::kMaxPathBytes && dfs::BaseName(path) == "_" + suffix;
  if (only_the_old_name_fits) {
    FUZZ_CHECK(dfs::BaseName(renamed).size() == suffix.size() + 1, "the name still fills the room");
  } else if (dir_bytes + 1 + suffix.size() <= dfs::kMaxPathBytes) {
    FUZZ_CHECK(dfs::BaseName(renamed).find("_" + suffix) != std::string::npos, "the suffix is in the name");
  } else {  // not even "_<suffix>" fits in kMaxPathBytes: the name is what fits of the suffix
    std::string name = dfs::BaseName(renamed);
    FUZZ_CHECK(name.size() <= suffix.size() && name.substr(1) == suffix.substr(1, name.size() - 1),
               "the name is what fits of the suffix");
  }
  return 0;
}
