// The master's namespace routes for the FUSE mount (docs/protocol.md,
// "Namespace"): list, stat, mkdir, rmdir, rename, setattr, symlink, link,
// mknod, and open handles (open, fstat, renew, close).
#pragma once

#include <httplib.h>

#include "master/namespace_store.h"

namespace dfs::master {

// Handles opened here live handle_lease_s seconds unless renewed.
inline constexpr double kDefaultHandleLeaseSeconds = 60;
void RegisterNamespaceRoutes(httplib::Server& server, NamespaceStore& names,
                             double handle_lease_s = kDefaultHandleLeaseSeconds);

}  // namespace dfs::master
