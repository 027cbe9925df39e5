// The FUSE mount against a local-disk folder, in the same run: sequential
// write and cold read of one large file, creating and reading back 1000
// small files, and `ls -l` of those 1000 files; with the number of requests
// the master served for the listing (it should be a handful, not 1000).
//
//   build/bin/fuse_bench [LARGE_MIB] [SMALL_FILES]     (default 1024 1000)
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "bench/bench_util.h"
#include "tests/support/cluster.h"

using dfs::bench::MiBps;
using dfs::bench::TimeCommand;
namespace t = dfs::testing;

namespace {

int CountLines(const std::string& path, const std::string& needle) {
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) n += line.find(needle) != std::string::npos;
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1024;
  const int small = argc > 2 ? std::atoi(argv[2]) : 1000;
  t::ClusterOptions options;
  options.redis = options.replicator = true;
  t::TestCluster cluster(options);
  const std::string dir = cluster.dir(), mnt = dir + "/mnt", local = dir + "/local";
  std::filesystem::create_directories(mnt);
  std::filesystem::create_directories(local);
  t::Subprocess mount({t::BinaryPath("mount.dfs"), cluster.master_url(), mnt, "-f", "-o",
                       "cache_dir=" + dir + "/cache,cache_size=4G"},
                      dir + "/mount.log");
  for (int i = 0; i < 200 && t::RunCommand("mountpoint -q " + mnt) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  t::WriteRandomFile(dir + "/src.bin", mib << 20, 3);
  const std::string drop = "sync && echo 3 > /proc/sys/vm/drop_caches";

  auto write_to = [&](const std::string& target) {
    return TimeCommand("dd if=" + dir + "/src.bin of=" + target + "/big bs=1M conv=fsync status=none");
  };
  auto cold_read = [&](const std::string& target, bool clear_dfs_cache) {
    if (clear_dfs_cache) TimeCommand("rm -f " + dir + "/cache/blobs/*");
    TimeCommand(drop);
    return TimeCommand("dd if=" + target + "/big of=/dev/null bs=1M status=none");
  };
  auto small_files = [&](const std::string& target) {
    return TimeCommand("mkdir -p " + target + "/small && cd " + target +
                       "/small && for i in $(seq 1 " + std::to_string(small) +
                       "); do head -c 4096 /dev/urandom > f$i; done && cat f* > /dev/null");
  };
  double local_write = write_to(local), dfs_write = write_to(mnt);
  double local_read = cold_read(local, false), dfs_read = cold_read(mnt, true);
  double local_small = small_files(local), dfs_small = small_files(mnt);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // let listed attributes expire
  int before = CountLines(dir + "/master.log", "http GET /api/v1/") ;
  double local_ls = TimeCommand("ls -l " + local + "/small > /dev/null");
  double dfs_ls = TimeCommand("ls -l " + mnt + "/small > /dev/null");
  int listing_requests = CountLines(dir + "/master.log", "http GET /api/v1/") - before;

  const double bytes = static_cast<double>(mib << 20);
  std::printf("FUSE mount vs local disk (3 nodes, 3 copies, replication in the background)\n\n");
  std::printf("  %-38s %10s %10s %8s\n", "operation", "local", "dfs mount", "ratio");
  std::printf("  %-38s %8.2f s %8.2f s %7.1fx   (%.0f vs %.0f MiB/s)\n", ("sequential write " + std::to_string(mib) + " MiB").c_str(),
              local_write, dfs_write, dfs_write / local_write, MiBps(bytes, local_write), MiBps(bytes, dfs_write));
  std::printf("  %-38s %8.2f s %8.2f s %7.1fx   (%.0f vs %.0f MiB/s)\n", "cold read (page cache and dfs cache dropped)",
              local_read, dfs_read, dfs_read / local_read, MiBps(bytes, local_read), MiBps(bytes, dfs_read));
  std::printf("  %-38s %8.2f s %8.2f s %7.1fx\n", ("create + read " + std::to_string(small) + " x 4 KiB").c_str(),
              local_small, dfs_small, dfs_small / local_small);
  std::printf("  %-38s %8.3f s %8.3f s %7.1fx   (master requests: %d)\n", ("ls -l of " + std::to_string(small) + " files").c_str(),
              local_ls, dfs_ls, dfs_ls / local_ls, listing_requests);
  t::RunCommand("fusermount3 -u " + mnt);
  mount.Stop();
  return 0;
}
