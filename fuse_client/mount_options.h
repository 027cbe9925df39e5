// MountOptions: the mount.dfs command line, in the mount-helper convention
// so `mount -t dfs HOST:PORT DIR -o ...` and fstab lines work:
//   mount.dfs [MASTER] MOUNTPOINT [-o opt,opt=value,...] [-f] [-d] [-s] [-n] [-v]
// Our options (master=, cache_dir=, cache_size=, timeout=, attr_timeout=,
// attempts=, verify=) are taken out; fstab-only ones (_netdev, defaults, noauto,
// nofail, user, ...) are dropped; the rest go to FUSE (allow_other,
// default_permissions, ro, ...).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace dfs::fuse_client {

struct MountOptions {
  // From MASTER, -o master= (each one adds a master), $DFS_MASTER, or
  // http://127.0.0.1:8820; several masters are comma-separated URLs.
  std::string master_url;
  std::string mountpoint;  // absolute
  std::string cache_dir;   // absolute; default /var/cache/dfs (root) or ~/.cache/dfs
  uint64_t cache_bytes = 1ULL << 30;
  double timeout_s = 10;       // every request to the master, end to end
  double attr_timeout_s = 2;   // how long listed attributes are trusted
  int attempts = 2;            // tries for retryable failures
  // verify=open: a read-only open fetches and md5-checks the whole file;
  // verify=read (default): each chunk is fetched and checked when read.
  bool verify_at_open = false;
  std::string token_file;      // -o token_file= (else $DFS_TOKEN_FILE / $DFS_TOKEN)
  std::string tls_ca;          // -o ca= : CA to verify an https:// master and nodes with
  bool foreground = false;
  bool debug = false;
  std::vector<std::string> fuse_options;  // passed to FUSE as -o
};

// argv as given to the program (argv[0] included).
Result<MountOptions> ParseMountArgs(const std::vector<std::string>& args);
// "123", "64K", "512M", "2G" (powers of 1024).
Result<uint64_t> ParseByteSize(const std::string& text);
std::string MountUsage();

}  // namespace dfs::fuse_client
