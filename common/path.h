// File names in the dfs namespace. A valid path is UTF-8, '/'-separated,
// relative (no leading '/'), with no empty, "." or ".." component, no NUL or
// control characters, components of at most kMaxComponentBytes and a whole of
// at most kMaxPathBytes. Paths never reach a disk: storage nodes store blobs
// by id, so these rules are about a sane namespace, not about safety alone.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace dfs {

// A whole path from the namespace's root. Larger than PATH_MAX (4096): that
// bounds what one system call names from its own folder, and a mount sends
// paths from its root, so a program in a deep folder reaches further. Below
// the servers' 8 KiB request line, which carries it (percent-encoded).
inline constexpr size_t kMaxPathBytes = 6144;
// A symlink's target: PATH_MAX, as Linux has it.
inline constexpr size_t kMaxSymlinkBytes = 4096;
inline constexpr size_t kMaxComponentBytes = 255;

Status ValidatePath(std::string_view path);

// Accepts what users type ("/a/b", "a/b/", "a//b" are NOT fixed up except a
// leading and a trailing '/', which are dropped) and validates the result.
Result<std::string> NormalizeUserPath(std::string_view path);

bool IsValidUtf8(std::string_view s);

std::vector<std::string> SplitPath(std::string_view path);
// "a/b/c" -> "a/b"; "c" -> "".
std::string ParentPath(std::string_view path);
// "a/b/c" -> "c".
std::string BaseName(std::string_view path);

}  // namespace dfs
