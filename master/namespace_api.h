// The master's namespace routes for the FUSE mount (docs/protocol.md,
// "Namespace"): list, stat, mkdir, rmdir, rename, setattr.
#pragma once

#include <httplib.h>

#include "master/namespace_store.h"

namespace dfs::master {

void RegisterNamespaceRoutes(httplib::Server& server, NamespaceStore& names);

}  // namespace dfs::master
