// The master's namespace routes for the FUSE mount (docs/protocol.md,
// "Namespace"): list, stat, mkdir, rmdir, rename, setattr, symlink, link,
// mknod, and open handles (open, fstat, renew, close).
#pragma once

#include <functional>

#include <httplib.h>

#include "master/namespace_store.h"

namespace dfs::master {

// Handles opened here live handle_lease_s seconds unless renewed.
inline constexpr double kDefaultHandleLeaseSeconds = 60;
// POST /api/v1/sync runs sync_data (when given: the nodes' writes made
// without a sync, FileService::SyncNodes) before the metadata's sync.
void RegisterNamespaceRoutes(httplib::Server& server, NamespaceStore& names,
                             double handle_lease_s = kDefaultHandleLeaseSeconds,
                             std::function<Status()> sync_data = nullptr);

}  // namespace dfs::master
