// Whether the master's namespace (the SQLite inode tree of MetadataStore)
// stays as fast when it is big. Through the store's C++ API, no HTTP, it
// times four operations: listing a 10-entry folder (NamespaceStore::List),
// a stat (Stat), a create (CommitFile, kFail) and a rename (Rename), median
// and p99 over 500 of each, first on an empty namespace; then commits N
// files into fill/dNNN/fNNNNNN (1000 per folder), one CommitFile (one
// transaction) each as a PUT does, printing the rate every 100k; then times
// the four again and prints full / empty (the goal: at most 1.2x) and the
// process RSS. The timed entries live under probe/, outside fill/.
//
// The fill takes many minutes on a shared machine whose load comes and goes,
// so the ratio is not taken against the figures from before it: after the
// fill the full store is timed interleaved with an empty twin store (same
// process, same disk), and full / empty compares the two.
//
// Around that, the create rate of a real dfs-master (and 3 storage nodes,
// tests/support/cluster.h) running on the same database file: CREATES files
// of 4 KiB through HTTP and CREATES through a FUSE mount (bench/create_rate.h),
// with CLIENTS client threads each, first on the empty database, then after
// the fill, interleaved with a twin cluster on an empty database (the same
// idea as the twin store). The master is stopped while this process has the database open
// (the store's API fills it) and started again on the filled file: never two
// processes writing it. CREATES 0 leaves the cluster out.
//
//   build/bin/namespace_bench [FILES] [CREATES] [CLIENTS]     (default 1000000 10000 4)
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "bench/create_rate.h"
#include "bench/fake_file.h"
#include "master/metadata_store.h"
#include "master/namespace_store.h"
#include "tests/support/cluster.h"
#include "tests/support/process.h"

using dfs::bench::Now;
using dfs::bench::Percentile;
namespace m = dfs::master;
namespace harness = dfs::testing;

namespace {

constexpr int kReps = 500;
const char* const kOps[] = {"list a 10-entry folder", "stat a file", "create a file (CommitFile)", "rename a file"};

long RssMiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10) / 1024;
  }
  return -1;
}

// A failed step ends the bench; thrown, so the cluster and the mount are
// stopped on the way out (main catches it).
void Check(const dfs::Status& st, const std::string& what) {
  if (st.ok()) return;
  throw std::runtime_error(what + ": " + st.ToString());
}

// Commits a 4 KiB file at `path` whose blob (id from the counter) is on node n1.
void Commit(m::MetadataStore& store, const std::string& path) {
  static uint64_t blobs = 0;
  char id[33];
  std::snprintf(id, sizeof id, "%032llx", static_cast<unsigned long long>(++blobs));
  const m::FileRecord f = dfs::bench::FakeFile(path, id, 3);
  Check(store.CommitFile(f, m::ConflictMode::kFail, [](const std::string& p) { return p + ".1"; }).status(),
        "commit " + path);
}

// A store holding the probes: a 10-entry folder, a file to stat, one to rename.
struct Namespace {
  explicit Namespace(const std::string& db) : store(Open(db)), ns(*store) {
    Check(ns.MakeDir("probe/list", 0755, true), "mkdir");
    for (int i = 0; i < 10; ++i) Commit(*store, "probe/list/e" + std::to_string(i));
    Commit(*store, "probe/stat.bin");
    Commit(*store, "probe/rename/a");
  }
  static std::unique_ptr<m::MetadataStore> Open(const std::string& db) {
    auto opened = m::MetadataStore::Open(db);
    Check(opened.status(), "open " + db);
    return std::move(*opened);
  }
  std::unique_ptr<m::MetadataStore> store;
  m::NamespaceStore& ns;  // the store's namespace half
};

// This thread's CPU time in seconds: unlike wall time it leaves out waiting
// for the disk (every commit fsyncs) and for the CPU, both shared here.
double CpuNow() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Figure {
  double p50 = 0, p99 = 0, cpu50 = 0;  // microseconds: wall median and p99, CPU median
};

// The four operations on each of `targets`, interleaved (one of each per
// round and target, so a noisy moment hits them all alike): [target][op].
// The creates go to a fresh folder named after `phase`.
std::vector<std::vector<Figure>> Measure(const std::vector<Namespace*>& targets, const std::string& phase) {
  const std::string created = "probe/create-" + phase;
  const std::function<void(Namespace&, int)> ops[] = {
      [](Namespace& t, int) { Check(t.ns.List("probe/list").status(), "list"); },
      [](Namespace& t, int) { Check(t.ns.Stat("probe/stat.bin").status(), "stat"); },
      [&](Namespace& t, int i) { Commit(*t.store, created + "/c" + std::to_string(i)); },
      [](Namespace& t, int i) {
        Check(i % 2 ? t.ns.Rename("probe/rename/b", "probe/rename/a") : t.ns.Rename("probe/rename/a", "probe/rename/b"),
              "rename");
      },
  };
  const size_t n = std::size(ops);
  std::vector<std::vector<double>> wall(targets.size() * n), cpu(targets.size() * n);
  for (Namespace* t : targets) Check(t->ns.MakeDir(created, 0755, false), "mkdir");
  for (int i = 0; i < kReps; ++i) {
    for (size_t t = 0; t < targets.size(); ++t) {
      for (size_t k = 0; k < n; ++k) {
        const double start = Now(), cpu_start = CpuNow();
        ops[k](*targets[t], i);
        cpu[t * n + k].push_back((CpuNow() - cpu_start) * 1e6);
        wall[t * n + k].push_back((Now() - start) * 1e6);
      }
    }
  }
  std::vector<std::vector<Figure>> out(targets.size());
  for (size_t j = 0; j < wall.size(); ++j) {
    out[j / n].push_back({Percentile(wall[j], 50), Percentile(wall[j], 99), Percentile(cpu[j], 50)});
  }
  return out;
}

void PrintFigure(const Figure& f) { std::printf("    %7.0f / %6.0f (%6.0f)", f.p50, f.p99, f.cpu50); }

constexpr int kCreateRounds = 10;

// Rows of create rates: at the start of the fill, and (once filled) at its
// end, with the empty twin cluster timed interleaved with the full one then.
struct CreateFigures {
  dfs::bench::CreateRate start;
  std::optional<dfs::bench::CreateRate> end, twin;
};

void PrintCreateRates(const CreateFigures& f, int creates, int clients) {
  std::printf("\n  create rate through dfs-master on this database (3 storage nodes, no replicator): %d files of %zu"
              " bytes\n  each way, %d client threads, in %d rounds (one per cluster in turn)\n",
              creates, dfs::bench::kCreateFileBytes, clients, kCreateRounds);
  std::printf("  %-34s %11s", "files/s", "fill start");
  if (f.end) std::printf(" %11s %12s %11s %12s", "fill end", "end / start", "empty twin", "full / twin");
  std::printf("\n");
  auto row = [&](const char* what, double dfs::bench::CreateRate::*field) {
    std::printf("  %-34s %11.0f", what, f.start.*field);
    if (f.end) {
      std::printf(" %11.0f %11.2fx %11.0f %11.2fx", (*f.end).*field, (*f.end).*field / f.start.*field,
                  (*f.twin).*field, (*f.end).*field / (*f.twin).*field);
    }
    std::printf("\n");
  };
  row("HTTP PUT (keep-alive connections)", &dfs::bench::CreateRate::http_files_per_s);
  row("FUSE mount (open, write, close)", &dfs::bench::CreateRate::mount_files_per_s);
  std::printf("  %-34s %7ld MiB", "master RSS after them", f.start.master_rss_kib / 1024);
  if (f.end) std::printf(" %7ld MiB %12s %7ld MiB", f.end->master_rss_kib / 1024, "", f.twin->master_rss_kib / 1024);
  std::printf("\n");
  std::fflush(stdout);
}

std::unique_ptr<dfs::bench::CreateProbe> StartProbe(harness::TestCluster& cluster, const std::string& folder) {
  auto probe = dfs::bench::CreateProbe::Start(cluster, folder);
  Check(probe.status(), "mount for " + folder);
  return std::move(*probe);
}

std::vector<dfs::bench::CreateRate> MeasureCreates(const std::vector<dfs::bench::CreateProbe*>& probes, int creates,
                                                   int clients) {
  auto rates = dfs::bench::MeasureCreates(probes, creates, clients, kCreateRounds);
  Check(rates.status(), "creates");
  return *rates;
}

int Run(long files, int creates, int clients) {
  harness::TempDir dir;
  const std::string db = dir.path() + "/full.db";
  std::printf("namespace benchmark: MetadataStore in %s, %d of each operation, %ld files\n", dir.path().c_str(),
              kReps, files);
  // The cluster's master creates the database and is stopped before the
  // store is opened here; its nodes stay up through the fill.
  std::unique_ptr<harness::TestCluster> cluster;
  CreateFigures rates;
  if (creates > 0) {
    harness::ClusterOptions options;
    options.master_db = db;
    cluster = std::make_unique<harness::TestCluster>(options);
    auto probe = StartProbe(*cluster, "probe/create_start");
    rates.start = MeasureCreates({probe.get()}, creates, clients)[0];
    PrintCreateRates(rates, creates, clients);
    probe.reset();
    cluster->StopMaster();
  }
  auto full = std::make_unique<Namespace>(db);
  Namespace twin(dir.path() + "/twin.db");

  const auto before = Measure({full.get()}, "before");
  std::printf("\n  %-28s%s\n", "us: p50 / p99 (CPU p50)",
              creates > 0 ? "      empty namespace (but the creates above)" : "      empty namespace");
  for (size_t k = 0; k < before[0].size(); ++k) {
    std::printf("  %-28s", kOps[k]);
    PrintFigure(before[0][k]);
    std::printf("\n");
  }
  std::printf("  RSS %ld MiB\n", RssMiB());

  std::printf("\n  filling: %ld files in fill/dNNN/fNNNNNN, one CommitFile (one transaction) each\n", files);
  const double fill_start = Now();
  double lap = fill_start;
  char path[64];
  for (long i = 0; i < files; ++i) {
    std::snprintf(path, sizeof path, "fill/d%03ld/f%06ld", i / 1000, i);
    Commit(*full->store, path);
    if ((i + 1) % 100000 == 0) {
      const double now = Now();
      std::printf("  %8ld files  %6.0f files/s (last 100k)  %6.0f s so far  RSS %ld MiB\n", i + 1,
                  100000 / (now - lap), now - fill_start, RssMiB());
      std::fflush(stdout);
      lap = now;
    }
  }
  const double fill = Now() - fill_start;
  std::printf("  filled in %.0f s = %.0f files/s; database file %.0f MiB\n", fill,
              static_cast<double>(files) / std::max(fill, 1e-9),
              static_cast<double>(std::filesystem::file_size(dir.path() + "/full.db")) / (1 << 20));

  const auto after = Measure({&twin, full.get()}, "after");
  std::printf("\n  %-28s%-29s%-29s%s\n", "us: p50 / p99 (CPU p50)", "      empty twin", "      full namespace",
              "    full / empty: p50 (CPU)");
  for (size_t k = 0; k < after[0].size(); ++k) {
    std::printf("  %-28s", kOps[k]);
    PrintFigure(after[0][k]);
    PrintFigure(after[1][k]);
    std::printf("    %5.2fx (%5.2fx)\n", after[1][k].p50 / after[0][k].p50, after[1][k].cpu50 / after[0][k].cpu50);
  }
  std::printf("\n  RSS %ld MiB with %ld files (and the twin, whose SQLite page cache is at most 2 MiB)\n", RssMiB(),
              files);
  std::fflush(stdout);
  if (!cluster) return 0;

  full.reset();  // closed before the master opens the file
  const double start = Now();
  cluster->StartMaster();
  const double started = Now() - start;
  if (!cluster->WaitNodesUp(cluster->node_count())) throw std::runtime_error("the nodes did not come back up");
  std::printf("\n  dfs-master started on the filled database in %.2f s (until /healthz answered)\n", started);
  harness::TestCluster twin_cluster;  // its own empty database
  auto full_probe = StartProbe(*cluster, "probe/create_end");
  auto twin_probe = StartProbe(twin_cluster, "probe/create_end");
  const auto end = MeasureCreates({twin_probe.get(), full_probe.get()}, creates, clients);
  rates.twin = end[0];
  rates.end = end[1];
  PrintCreateRates(rates, creates, clients);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const long files = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 1000000;
  const int creates = argc > 2 ? std::atoi(argv[2]) : 10000;
  const int clients = argc > 3 ? std::atoi(argv[3]) : 4;
  if (files < 0 || creates < 0 || clients < 1) {
    std::fprintf(stderr, "usage: namespace_bench [FILES] [CREATES] [CLIENTS]\n");
    return 2;
  }
  try {
    return Run(files, creates, clients);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench: %s\n", e.what());
    return 1;
  }
}
