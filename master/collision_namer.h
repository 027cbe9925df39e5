// CollisionNamer: the name a file gets when its requested name is taken.
// "a.txt" -> "a_<suffix>.txt", "a.tar.gz" -> "a_<suffix>.tar.gz",
// "Makefile" -> "Makefile_<suffix>", ".bashrc" -> ".bashrc_<suffix>".
#pragma once

#include <string>

namespace dfs::master {

// Inserts "_<suffix>" before the extension of the last path component,
// shortening the stem if the component would pass 255 bytes.
std::string CollisionName(const std::string& path, const std::string& suffix);

// A short random suffix (6 hex digits).
std::string RandomSuffix();

}  // namespace dfs::master
