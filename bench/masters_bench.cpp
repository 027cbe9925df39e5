// The metadata store on SQLite vs PostgreSQL, and the data path through one
// master vs three behind haproxy.
//
// Part 1, the store through its C++ API (no HTTP), as namespace_bench does:
// create (CommitFile), stat, list a 10-entry folder and rename, each run by
// 1 and by 8 threads for SECONDS seconds against a fresh SQLite file and a
// fresh PostgreSQL schema (a real postgres this process starts,
// tests/support/postgres.h): operations per second, and PostgreSQL / SQLite.
// The two backends are timed alternately, op by op.
//
// Part 2, real clusters (3 storage nodes, no extra copies, so the front door
// is what is measured): one master on SQLite, one master on PostgreSQL, and
// three masters on PostgreSQL behind haproxy (scripts/dfs-haproxy-config).
// 4 clients each PUT then GET 8 files of 8 MiB (DfsClient, md5 checked) and
// 200 files of 4 KiB (HTTP): MiB/s and files/s, per target, rounds
// interleaved so a noisy moment hits all alike.
//
//   build/bin/masters_bench [SECONDS] [ROUNDS]      (default 3 2)
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "bench/fake_file.h"
#include "common/client/dfs_client.h"
#include "common/md5.h"
#include "master/metadata_store.h"
#include "master/namespace_store.h"
#include "tests/support/cluster.h"
#include "tests/support/haproxy.h"
#include "tests/support/http_helpers.h"
#include "tests/support/postgres.h"
#include "tests/support/process.h"

using dfs::bench::Now;
namespace m = dfs::master;
namespace harness = dfs::testing;

namespace {

void Check(const dfs::Status& st, const std::string& what) {
  if (!st.ok()) throw std::runtime_error(what + ": " + st.ToString());
}

// ---- part 1: the store ----

m::FileRecord FileAt(const std::string& path) {
  static std::atomic<uint64_t> blobs{0};
  char id[33];
  std::snprintf(id, sizeof id, "%032llx", static_cast<unsigned long long>(++blobs));
  return dfs::bench::FakeFile(path, id, 1);
}

void Commit(m::MetadataStore& store, const std::string& path) {
  Check(store.CommitFile(FileAt(path), m::ConflictMode::kFail, [](const std::string& p) { return p + ".1"; }).status(),
        "commit " + path);
}

struct Store {
  std::string name;
  std::unique_ptr<m::MetadataStore> store;
  m::NamespaceStore& ns() { return *store; }
};

constexpr int kMaxThreads = 8;

// What each thread t of an op does, once (i counts its calls).
using Op = std::function<void(Store&, int t, long i)>;

void Prepare(Store& s) {
  Check(s.ns().MakeDir("list", 0755, true), "mkdir list");
  for (int i = 0; i < 10; ++i) Commit(*s.store, "list/e" + std::to_string(i));
  Commit(*s.store, "stat.bin");
  for (int t = 0; t < kMaxThreads; ++t) {
    Check(s.ns().MakeDir("create" + std::to_string(t), 0755, true), "mkdir");
    Check(s.ns().MakeDir("rename" + std::to_string(t), 0755, true), "mkdir");
    Commit(*s.store, "rename" + std::to_string(t) + "/a");
  }
}

// Runs `op` on `threads` threads for `seconds`; operations per second.
double Rate(Store& s, const Op& op, int threads, double seconds) {
  std::atomic<long> done{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  const double start = Now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (long i = 0; !stop.load(); ++i) {
        op(s, t, i);
        ++done;
      }
    });
  }
  while (Now() - start < seconds) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stop = true;
  for (auto& w : workers) w.join();
  return static_cast<double>(done.load()) / (Now() - start);
}

void StorePart(double seconds) {
  harness::TempDir dir;
  std::vector<Store> stores;
  stores.push_back({"SQLite", nullptr});
  stores.push_back({"PostgreSQL", nullptr});
  auto sqlite = m::MetadataStore::Open("sqlite:" + dir.path() + "/meta.db");
  Check(sqlite.status(), "open sqlite");
  stores[0].store = std::move(*sqlite);
  auto pg = m::MetadataStore::Open(harness::PostgresServer::Shared().NewDatabaseUrl());
  Check(pg.status(), "open postgres");
  stores[1].store = std::move(*pg);
  for (auto& s : stores) Prepare(s);

  static std::atomic<long> created{0};
  const std::vector<std::pair<std::string, Op>> ops = {
      {"create (CommitFile)",
       [](Store& s, int t, long) { Commit(*s.store, "create" + std::to_string(t) + "/c" + std::to_string(++created)); }},
      {"stat", [](Store& s, int, long) { Check(s.ns().Stat("stat.bin").status(), "stat"); }},
      {"list 10 entries", [](Store& s, int, long) { Check(s.ns().List("list").status(), "list"); }},
      {"rename", [](Store& s, int t, long i) {
         const std::string d = "rename" + std::to_string(t);
         Check(i % 2 ? s.ns().Rename(d + "/b", d + "/a") : s.ns().Rename(d + "/a", d + "/b"), "rename");
       }}};
  std::printf("metadata store, operations/s (%.0f s each, SQLite and PostgreSQL alternately)\n", seconds);
  std::printf("  %-22s %8s %12s %12s %10s\n", "operation", "threads", "SQLite", "PostgreSQL", "PG/SQLite");
  for (const auto& [name, op] : ops) {
    for (int threads : {1, kMaxThreads}) {
      const double a = Rate(stores[0], op, threads, seconds);
      const double b = Rate(stores[1], op, threads, seconds);
      std::printf("  %-22s %8d %12.0f %12.0f %9.2fx\n", name.c_str(), threads, a, b, b / a);
      std::fflush(stdout);
    }
  }
}

// ---- part 2: the data path ----

struct Target {
  std::string name, url;
  double put_s = 0, get_s = 0, tiny_put_s = 0, tiny_get_s = 0;
};

constexpr int kClients = 4, kBigFiles = 8, kTinyFiles = 200;
constexpr uint64_t kBigSize = 8u << 20, kTinySize = 4096;

// Runs fn(client) on kClients threads; seconds taken.
double Parallel(const std::function<void(int)>& fn) {
  const double start = Now();
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) threads.emplace_back(fn, c);
  for (auto& t : threads) t.join();
  return Now() - start;
}

void Round(Target& t, const std::string& src, const std::string& scratch, int round) {
  dfs::ClientOptions options;
  options.master_url = t.url;
  dfs::DfsClient client(options);
  const std::string prefix = "r" + std::to_string(round) + "/";
  t.put_s += Parallel([&](int c) {
    for (int f = 0; f < kBigFiles; ++f) {
      Check(client.Put(src, prefix + "big" + std::to_string(c) + "-" + std::to_string(f)).status(), "put");
    }
  });
  t.get_s += Parallel([&](int c) {
    for (int f = 0; f < kBigFiles; ++f) {
      Check(client.Get(prefix + "big" + std::to_string(c) + "-" + std::to_string(f), scratch + "/" + std::to_string(c))
                .status(),
            "get");
    }
  });
  const std::string tiny(kTinySize, 't');
  t.tiny_put_s += Parallel([&](int c) {
    for (int f = 0; f < kTinyFiles; ++f) {
      auto a = harness::PutString(t.url, "/api/v1/files/" + prefix + "tiny" + std::to_string(c) + "-" + std::to_string(f),
                                  tiny);
      if (a.status != 201) throw std::runtime_error("tiny put answered " + std::to_string(a.status));
    }
  });
  t.tiny_get_s += Parallel([&](int c) {
    for (int f = 0; f < kTinyFiles; ++f) {
      auto a = harness::Get(t.url, "/api/v1/files/" + prefix + "tiny" + std::to_string(c) + "-" + std::to_string(f));
      if (a.status != 200 || a.body.size() != kTinySize) throw std::runtime_error("tiny get failed");
    }
  });
}

void DataPart(int rounds) {
  harness::ClusterOptions base;
  base.nodes = 3;
  base.replicas = 0;
  base.master_args = {"--log-level", "warn"};
  base.storage_args = {"--log-level", "warn"};
  harness::ClusterOptions sqlite = base;
  harness::TestCluster one_sqlite(sqlite);
  harness::ClusterOptions pg = base;
  pg.metadata = "postgres";
  harness::TestCluster one_pg(pg);
  harness::ClusterOptions three = pg;
  three.masters = 3;
  three.master_list = "{masters}";
  harness::TestCluster three_pg(three);
  std::vector<std::string> urls;
  for (int i = 0; i < three_pg.master_count(); ++i) urls.push_back(three_pg.master_url(i));
  harness::Haproxy lb(urls, three_pg.dir());
  if (!lb.WaitAllUp(3, std::chrono::milliseconds(15000))) throw std::runtime_error("haproxy: masters not UP");

  harness::TempDir scratch;
  const std::string src = scratch.path() + "/src.bin";
  harness::WriteRandomFile(src, kBigSize, 1);
  std::vector<Target> targets = {{"1 master, SQLite", one_sqlite.master_url()},
                                 {"1 master, PostgreSQL", one_pg.master_url()},
                                 {"3 masters, PG, haproxy", lb.url()}};
  for (int r = 0; r < rounds; ++r) {
    for (auto& t : targets) Round(t, src, scratch.path(), r);
  }
  const double big_mib = static_cast<double>(rounds) * kClients * kBigFiles * kBigSize / (1 << 20);
  const double tiny_files = static_cast<double>(rounds) * kClients * kTinyFiles;
  std::printf("\ndata path, %d clients, %d rounds interleaved (%d x 8 MiB and %d x 4 KiB per client per round)\n",
              kClients, rounds, kBigFiles, kTinyFiles);
  std::printf("  %-24s %10s %10s %12s %12s\n", "front door", "put MiB/s", "get MiB/s", "4K put f/s", "4K get f/s");
  for (const auto& t : targets) {
    std::printf("  %-24s %10.1f %10.1f %12.0f %12.0f\n", t.name.c_str(), big_mib / t.put_s, big_mib / t.get_s,
                tiny_files / t.tiny_put_s, tiny_files / t.tiny_get_s);
  }
  const Target& a = targets[1];
  const Target& b = targets[2];
  std::printf("  3 masters / 1 master (PG): put %.2fx  get %.2fx  4K put %.2fx  4K get %.2fx\n", a.put_s / b.put_s,
              a.get_s / b.get_s, a.tiny_put_s / b.tiny_put_s, a.tiny_get_s / b.tiny_get_s);
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 3;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 2;
  try {
    if (!harness::PostgresServer::Available()) throw std::runtime_error("needs postgresql-15");
    StorePart(seconds);
    if (rounds > 0) {
      if (!harness::Haproxy::Installed()) throw std::runtime_error("needs haproxy");
      DataPart(rounds);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "masters_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
