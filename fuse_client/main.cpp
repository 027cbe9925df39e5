// mount.dfs: mounts a dfs cluster with FUSE. Parses the mount-helper command
// line, checks the master answers (so a wrong address fails here, with no
// half-made mount), then mounts, daemonizes unless -f, and serves.
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "common/log.h"
#include "common/security.h"
#include "fuse_client/dfs_fs.h"
#include "fuse_client/mount_options.h"

namespace {

// mount(8)'s exit codes: 1 bad usage, 32 mount failure.
constexpr int kExitUsage = 1;
constexpr int kExitMountFailure = 32;

// fuse_new() may copy the arguments into memory libfuse allocates (and
// LeakSanitizer reports at exit); freeing them is the caller's job.
struct FuseArgs {
  fuse_args* args;
  ~FuseArgs() { fuse_opt_free_args(args); }
};

// RAII for the libfuse handle and its mount.
struct FuseMount {
  fuse* f = nullptr;
  bool mounted = false;
  ~FuseMount() {
    if (mounted) fuse_unmount(f);
    if (f) fuse_destroy(f);
  }
};

// RAII for the threads' settings of fuse_loop_mt.
struct LoopConfig {
  fuse_loop_config* config = fuse_loop_cfg_create();
  ~LoopConfig() { fuse_loop_cfg_destroy(config); }
  LoopConfig() = default;
  LoopConfig(const LoopConfig&) = delete;
  LoopConfig& operator=(const LoopConfig&) = delete;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  auto options = dfs::fuse_client::ParseMountArgs(args);
  if (!options.ok()) {
    if (options.status().message() != "help") std::cerr << "mount.dfs: " << options.status().message() << "\n";
    std::cerr << dfs::fuse_client::MountUsage();
    return options.status().message() == "help" ? 0 : kExitUsage;
  }
  if (options->debug) dfs::SetLogLevel(dfs::LogLevel::DEBUG);
  std::string token_file = options->token_file;
  if (token_file.empty() && std::getenv("DFS_TOKEN_FILE")) token_file = std::getenv("DFS_TOKEN_FILE");
  auto security = dfs::LoadSecurity(token_file, "", "", "", options->tls_ca);
  if (!security.ok()) {
    std::cerr << "mount.dfs: " << security.status().message() << "\n";
    return kExitUsage;
  }
  dfs::SetSecurity(*security);

  dfs::ClientOptions client_options;
  client_options.master_url = options->master_url;
  auto timeout = std::chrono::milliseconds(static_cast<long>(options->timeout_s * 1000));
  client_options.timeouts = {std::min(timeout, std::chrono::milliseconds(3000)), timeout, timeout};
  client_options.max_attempts = options->attempts;
  client_options.max_backoff = std::chrono::milliseconds(1000);
  auto client = dfs::DfsClient::Create(client_options);
  if (!client.ok()) {
    std::cerr << "mount.dfs: " << client.status().message() << "\n";
    return kExitUsage;
  }
  if (dfs::Status st = client->Healthz(); !st.ok()) {
    std::cerr << "mount.dfs: cannot reach the dfs master at " << options->master_url << ": " << st.message() << "\n";
    return kExitMountFailure;
  }
  if (auto cluster = client->Cluster(); !cluster.ok()) {  // a wrong or missing token shows here
    std::cerr << "mount.dfs: the dfs master at " << options->master_url << " refused: " << cluster.status().message()
              << "\n";
    return kExitMountFailure;
  }
  auto cache = dfs::fuse_client::FileCache::Open(options->cache_dir, options->cache_bytes);
  if (!cache.ok()) {
    std::cerr << "mount.dfs: " << cache.status().message() << "\n";
    return kExitMountFailure;
  }
  dfs::fuse_client::DfsFilesystem filesystem(
      std::move(*client), std::move(*cache),
      std::chrono::milliseconds(static_cast<long>(options->attr_timeout_s * 1000)), options->verify_at_open);

  // FUSE splits -o on commas: a list of masters is named with ';' between them.
  std::string fsname = options->master_url;
  std::replace(fsname.begin(), fsname.end(), ',', ';');
  std::vector<std::string> fuse_argv = {"mount.dfs", "-o", "fsname=" + fsname + ",subtype=dfs"};
  for (const auto& o : options->fuse_options) fuse_argv.insert(fuse_argv.end(), {"-o", o});
  if (options->debug) fuse_argv.push_back("-d");
  std::vector<char*> raw;
  for (auto& a : fuse_argv) raw.push_back(a.data());
  fuse_args fargs = FUSE_ARGS_INIT(static_cast<int>(raw.size()), raw.data());
  FuseArgs free_args{&fargs};  // declared before `mount`, so freed after it
  fuse_operations ops = dfs::fuse_client::DfsFilesystem::Operations();

  FuseMount mount;
  mount.f = fuse_new(&fargs, &ops, sizeof(ops), &filesystem);
  if (!mount.f) {
    std::cerr << "mount.dfs: bad FUSE options\n";
    return kExitUsage;
  }
  if (fuse_mount(mount.f, options->mountpoint.c_str()) != 0) {
    std::cerr << "mount.dfs: cannot mount on " << options->mountpoint << "\n";
    return kExitMountFailure;
  }
  mount.mounted = true;
  if (fuse_daemonize(options->foreground ? 1 : 0) != 0) return kExitMountFailure;
  fuse_session* session = fuse_get_session(mount.f);
  if (fuse_set_signal_handlers(session) != 0) return kExitMountFailure;
  DFS_LOG(INFO, "fuse") << "mounted master=" << options->master_url << " at " << options->mountpoint
                        << " cache=" << options->cache_dir;
  LoopConfig loop;
  fuse_loop_cfg_set_max_threads(loop.config, dfs::fuse_client::kMaxLoopThreads);
  fuse_loop_cfg_set_idle_threads(loop.config, 16);
  int rc = fuse_loop_mt(mount.f, loop.config);
  fuse_remove_signal_handlers(session);
  DFS_LOG(INFO, "fuse") << "unmounted " << options->mountpoint;
  return rc == 0 ? 0 : 1;
}
