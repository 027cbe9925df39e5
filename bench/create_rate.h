// The create rate of a real master: N small files created through its HTTP
// API (PUT /api/v1/files/...?conflict=fail, one keep-alive connection with
// TCP_NODELAY per client thread) and through a real FUSE mount (mount.dfs;
// open O_EXCL, write, close per file from client threads), into a fresh
// folder each, after an untimed warm-up of N/20 (at least 100) HTTP creates. namespace_bench runs it on the
// empty namespace and again after its fill, with the master started on the
// filled database.
#pragma once

#include <string>

#include "common/status.h"
#include "tests/support/cluster.h"

namespace dfs::bench {

struct CreateRate {
  double http_files_per_s = 0;
  double mount_files_per_s = 0;
  long master_rss_kib = 0;  // after both
};

inline constexpr size_t kCreateFileBytes = 4096;

// Creates `files` files of kCreateFileBytes under `folder`_http/ through HTTP,
// then `files` under `folder`_mount/ through a mount of `cluster` made for the
// measurement (and unmounted after it), each with `clients` threads.
[[nodiscard]] Result<CreateRate> MeasureCreates(dfs::testing::TestCluster& cluster, const std::string& folder,
                                                int files, int clients);

}  // namespace dfs::bench
