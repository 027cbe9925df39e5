// Replication speed, in two parts:
//  1. lag: the time from a PUT's acknowledgment until the file has all its
//     copies, p50/p99 over 200 small files put one after another; the
//     baseline is one plain curl PUT of the same file straight to a node.
//  2. healing: a node holding 1000 files is killed; the time until every
//     file has 3 copies again, and that time minus the configured dead-node
//     timeout (which is policy, not work); the baseline is a local cp of the
//     same number of files.
//
//   build/bin/replication_bench [FILES_FOR_LAG] [FILES_FOR_HEALING]   (200 1000)
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench_util.h"
#include "common/http_util.h"
#include "common/md5.h"
#include "tests/support/cluster.h"
#include "tests/support/http_helpers.h"

using dfs::bench::Now;
using dfs::bench::Percentile;
using dfs::bench::TimeCommand;
namespace t = dfs::testing;

namespace {

constexpr size_t kFileBytes = 4096;

std::string FileData(int i) {
  std::string s(kFileBytes, ' ');
  for (size_t j = 0; j < s.size(); ++j) s[j] = static_cast<char>('a' + (i * 31 + j * 7) % 26);
  return s;
}

int GoodCopies(const t::TestCluster& c, const std::string& name) {
  auto meta = t::Get(c.master_url(), "/api/v1/meta/" + dfs::EncodePathForUrl(name)).json();
  return meta.is_object() ? meta.value("good_copies", 0) : 0;
}

uint64_t UnderReplicated(const t::TestCluster& c) {
  auto j = t::Get(c.master_url(), "/api/v1/replication").json();
  return j.is_object() ? j.value("under_replicated", uint64_t{0}) : ~uint64_t{0};
}

void Lag(int files) {
  t::ClusterOptions options;
  options.redis = options.replicator = true;
  t::TestCluster cluster(options);
  std::vector<double> lag, direct;
  for (int i = 0; i < files; ++i) {
    std::string name = "lag/f" + std::to_string(i), data = FileData(i);
    auto put = t::PutString(cluster.master_url(), "/api/v1/files/" + name, data);
    double acked = Now();
    if (put.status != 201) {
      std::fprintf(stderr, "bench: put failed: %s\n", put.body.c_str());
      std::exit(1);
    }
    while (GoodCopies(cluster, name) < 3) std::this_thread::sleep_for(std::chrono::microseconds(500));
    lag.push_back(Now() - acked);
    char blob[33];
    std::snprintf(blob, sizeof(blob), "%032x", i + 1);
    double start = Now();
    auto raw = t::PutString(cluster.node_url(1), std::string("/blobs/") + blob, data,
                            {{dfs::kMd5Header, dfs::Md5::Of(data)}});
    direct.push_back(Now() - start);
    if (raw.status / 100 != 2) {
      std::fprintf(stderr, "bench: direct put failed: %d %s\n", raw.status, raw.body.c_str());
      std::exit(1);
    }
  }
  double base = Percentile(direct, 50);
  std::printf("replication lag, %d files of %zu bytes, 3 copies (ack -> all copies verified and recorded):\n", files,
              kFileBytes);
  std::printf("  p50 %7.1f ms   p99 %7.1f ms   max %7.1f ms\n", Percentile(lag, 50) * 1e3, Percentile(lag, 99) * 1e3,
              Percentile(lag, 100) * 1e3);
  std::printf("  baseline: one curl-style PUT straight to a node, p50 %.2f ms -> lag p50 is %.1fx that "
              "(two copies, each read, written, re-verified, recorded)\n\n",
              base * 1e3, Percentile(lag, 50) / base);
}

void Healing(int files) {
  t::ClusterOptions options;
  options.nodes = 4;
  options.redis = options.replicator = true;
  options.node_timeout_ms = 1000;
  options.node_dead_ms = 3000;
  options.master_args = {"--heal-interval-ms", "500", "--heal-retry-ms", "5000"};
  t::TestCluster cluster(options);
  // 3 copies on 4 nodes: node 3 holds about 3/4 of the files, so files are
  // put in batches until it holds `files` of them (heartbeats carry the count).
  auto blobs_on_node3 = [&]() -> uint64_t {
    auto nodes = t::Get(cluster.master_url(), "/api/v1/nodes").json();
    for (const auto& n : nodes["nodes"]) {
      if (n["node_id"] == cluster.node_id(3)) return n["blobs"];
    }
    return 0;
  };
  int stored = 0;
  uint64_t lost = 0;
  while (lost < static_cast<uint64_t>(files)) {
    const int batch = std::max<int>(50, static_cast<int>((static_cast<uint64_t>(files) - lost) * 4 / 3));
    for (int end = stored + batch; stored < end; ++stored) {
      auto put = t::PutString(cluster.master_url(), "/api/v1/files/heal/f" + std::to_string(stored), FileData(stored));
      if (put.status != 201) std::exit(1);
    }
    while (UnderReplicated(cluster) != 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a heartbeat with the new count
    lost = blobs_on_node3();
  }
  files = stored;
  double killed = Now();
  cluster.KillNode(3);
  // Under-replication is only visible once the node counts as dead.
  while (UnderReplicated(cluster) == 0 && Now() - killed < 30) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  double noticed = Now();
  while (UnderReplicated(cluster) != 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  double restored = Now();

  std::string dir = cluster.dir() + "/cp";
  TimeCommand("mkdir -p " + dir + "/a " + dir + "/b");
  for (uint64_t i = 0; i < lost; ++i) t::WriteFile(dir + "/a/f" + std::to_string(i), FileData(static_cast<int>(i)));
  double cp = TimeCommand("cp -r " + dir + "/a/. " + dir + "/b/ && sync");
  double work = restored - noticed;
  std::printf("healing after a node holding %llu of %d files (%zu bytes each) died, node-dead timeout 3 s:\n",
              static_cast<unsigned long long>(lost), files, kFileBytes);
  std::printf("  kill -> fully replicated again: %.2f s (detection %.2f s, re-replication %.2f s = %.0f files/s)\n",
              restored - killed, noticed - killed, work, static_cast<double>(lost) / work);
  std::printf("  baseline: local cp of %llu such files %.3f s -> re-replication is %.1fx that\n",
              static_cast<unsigned long long>(lost), cp, work / cp);
}

// Re-replication of `mib` MiB held in `files` files after a node dies:
// the same bytes as few big files (several chunks each) and as many small
// ones, so what it costs per file and per byte shows.
void HealingBytes(int mib, int files) {
  t::ClusterOptions options;
  options.nodes = 4;
  options.redis = options.replicator = true;
  options.node_timeout_ms = 1000;
  options.node_dead_ms = 3000;
  options.master_args = {"--heal-interval-ms", "500", "--heal-retry-ms", "5000", "--chunk-size",
                         std::to_string(16 << 20)};
  t::TestCluster cluster(options);
  const size_t size = (static_cast<size_t>(mib) << 20) / static_cast<size_t>(files);
  const std::string src = cluster.dir() + "/src";
  for (int i = 0; i < files; ++i) {
    t::WriteRandomFile(src, size, static_cast<unsigned>(i + 1));
    auto put = t::PutFile(cluster.master_url(), "/api/v1/files/b/f" + std::to_string(i), src);
    if (put.status != 201) std::exit(1);
  }
  while (UnderReplicated(cluster) != 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // What the dying node holds: the chunks with a copy on it.
  const std::string victim = cluster.node_id(3);
  uint64_t lost_bytes = 0, lost_chunks = 0;
  for (int i = 0; i < files; ++i) {
    auto meta = t::Get(cluster.master_url(), "/api/v1/meta/b/f" + std::to_string(i)).json();
    for (const auto& c : meta["chunks"]) {
      for (const auto& r : c["replicas"]) {
        if (r["node_id"] == victim) {
          lost_bytes += c["size"].get<uint64_t>();
          ++lost_chunks;
        }
      }
    }
  }
  double killed = Now();
  cluster.KillNode(3);
  while (UnderReplicated(cluster) == 0 && Now() - killed < 30) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  double noticed = Now();
  while (UnderReplicated(cluster) != 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  double restored = Now();
  const double work = restored - noticed;
  const double lost_mib = static_cast<double>(lost_bytes) / (1 << 20);
  std::printf("  %4d files of %7.2f MiB: the node held %6.1f MiB in %4llu chunks; re-replicated in %6.2f s = "
              "%6.1f MiB/s, %6.0f chunks/s (detection %.2f s)\n",
              files, static_cast<double>(size) / (1 << 20), lost_mib, static_cast<unsigned long long>(lost_chunks),
              work, lost_mib / work, static_cast<double>(lost_chunks) / work, noticed - killed);
}

}  // namespace

// replication_bench [LAG_FILES] [HEAL_FILES] [MIB]: lag and healing as
// before; with MIB, also MIB MiB held in 16 files vs in 1,000 (0 skips a part).
int main(int argc, char** argv) {
  int lag_files = argc > 1 ? std::atoi(argv[1]) : 200;
  int heal_files = argc > 2 ? std::atoi(argv[2]) : 1000;
  int mib = argc > 3 ? std::atoi(argv[3]) : 0;
  if (lag_files > 0) Lag(lag_files);
  if (heal_files > 0) Healing(heal_files);
  if (mib > 0) {
    std::printf("re-replication of %d MiB after a node dies (4 nodes, 3 copies, 16 MiB chunks):\n", mib);
    for (int files : {16, 1000}) HealingBytes(mib, files);
  }
  return 0;
}
