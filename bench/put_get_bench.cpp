// Throughput of one large file through the cluster, against baselines taken
// in the same run on the same disk: a local cp, and plain curl straight to a
// storage node (what one HTTP hop costs without the master). Also the
// master's and a node's peak memory, which must not grow with the file.
//
//   build/bin/bench_put_get [SIZE_MIB]     (default 512)
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "bench/bench_util.h"
#include "common/md5.h"
#include "tests/support/cluster.h"
#include "tests/support/http_helpers.h"

using dfs::bench::MiBps;
using dfs::bench::TimeCommand;

int main(int argc, char** argv) {
  const size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 512;
  const double bytes = static_cast<double>(mib << 20);
  dfs::testing::ClusterOptions options;
  options.nodes = 3;
  options.redis = true;
  options.replicator = true;
  dfs::testing::TestCluster cluster(options);
  const std::string dir = cluster.dir(), src = dir + "/src.bin";
  std::printf("dfs put/get benchmark: one %zu MiB file, 3 nodes, 3 copies (replication runs in the background)\n",
              mib);
  std::string md5 = dfs::testing::WriteRandomFile(src, static_cast<size_t>(bytes), 1);
  TimeCommand("sync");

  double cp = TimeCommand("cp " + src + " " + dir + "/cp.bin && sync " + dir + "/cp.bin");
  double curl_put = TimeCommand("curl -sf -o /dev/null -X PUT -T " + src + " -H 'X-Dfs-Md5: " + md5 + "' " +
                                cluster.node_url(0) + "/blobs/00000000000000000000000000000001");
  double curl_get = TimeCommand("curl -sf -o " + dir + "/curl.out " + cluster.node_url(0) +
                                "/blobs/00000000000000000000000000000001");
  std::string dfs = dfs::testing::BinaryPath("dfs") + " --master " + cluster.master_url();
  double dfs_put = TimeCommand(dfs + " put " + src + " big.bin >/dev/null");
  // Let the two background copies finish, so reads do not compete with them.
  while (dfs::testing::Get(cluster.master_url(), "/api/v1/replication").json().value("under_replicated", 1) != 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  double dfs_get = TimeCommand(dfs + " get big.bin " + dir + "/dfs.out >/dev/null");
  double http_get = TimeCommand("curl -sf -o " + dir + "/http.out " + cluster.master_url() + "/api/v1/files/big.bin");
  if (*dfs::Md5::OfFile(dir + "/dfs.out") != md5 || *dfs::Md5::OfFile(dir + "/http.out") != md5) {
    std::fprintf(stderr, "bench: downloaded bytes differ\n");
    return 1;
  }

  auto row = [&](const char* what, double s, double baseline, const char* vs) {
    std::printf("  %-34s %7.2f s %8.1f MiB/s   %5.2fx %s\n", what, s, MiBps(bytes, s), s / baseline, vs);
  };
  std::printf("\n  %-34s %9s %14s   %s\n", "operation", "time", "throughput", "ratio (time / baseline)");
  row("local cp + sync (baseline)", cp, cp, "cp");
  row("curl PUT to a node (baseline)", curl_put, curl_put, "curl PUT");
  row("curl GET from a node (baseline)", curl_get, curl_get, "curl GET");
  row("dfs put (master -> node)", dfs_put, curl_put, "curl PUT");
  row("dfs get (verified, atomic)", dfs_get, curl_get, "curl GET");
  row("curl GET through the master", http_get, curl_get, "curl GET");
  std::printf("\n  peak RSS: master %ld MiB, node %ld MiB (file %zu MiB)\n",
              dfs::testing::PeakRssKiB(cluster.master().pid()) / 1024,
              dfs::testing::PeakRssKiB(cluster.node(0).pid()) / 1024, mib);
  return 0;
}
