// See create_rate.h. Within a batch, files are numbered from a shared
// counter, so the client threads share the work however fast each is; a
// batch's time runs from its first create to its last answer, and a rate is
// the files of all rounds over the sum of their batches' times.
#include "bench/create_rate.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "common/http_util.h"
#include "common/path.h"
#include "tests/support/process.h"

namespace dfs::bench {

namespace t = dfs::testing;

namespace {

// Runs create(thread, i) for i in [first, first + files) on `clients` threads;
// the wall time in seconds, or the first failure.
Result<double> RunCreates(int first, int files, int clients,
                          const std::function<Status(int thread, int i)>& create) {
  const int end = first + files;
  std::atomic<int> next{first};
  std::mutex mu;
  Status first_error;
  std::vector<std::thread> threads;
  const double start = Now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (int i = next++; i < end; i = next++) {
        Status st = create(c, i);
        if (st.ok()) continue;
        std::lock_guard<std::mutex> lock(mu);
        if (first_error.ok()) first_error = st;
        next = end;  // the others stop too
      }
    });
  }
  for (auto& th : threads) th.join();
  if (!first_error.ok()) return first_error;
  return Now() - start;
}

Status WriteOne(const std::string& path, const std::string& data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("create " + path + ": " + std::strerror(errno));
  const bool wrote = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  const int write_errno = errno;
  // The upload happens at close: its failure is close's.
  if (::close(fd) != 0) return Status::IOError("close " + path + ": " + std::strerror(errno));
  if (!wrote) return Status::IOError("write " + path + ": " + std::strerror(write_errno));
  return Status::OK();
}

Result<double> HttpCreates(const std::string& master_url, const std::string& folder, int first, int files,
                           int clients) {
  auto ep = ParseEndpoint(master_url);
  if (!ep.ok()) return ep.status();
  const std::string body(kCreateFileBytes, 'h');
  std::vector<std::unique_ptr<httplib::Client>> conns;
  for (int c = 0; c < clients; ++c) {
    conns.push_back(MakeClient(*ep));     // keep-alive
    conns.back()->set_tcp_nodelay(true);  // as curl does: no wait for the ACK of the headers
  }
  return RunCreates(first, files, clients, [&](int c, int i) {
    const std::string url = "/api/v1/files/" + EncodePathForUrl(folder + "/f" + std::to_string(i)) + "?conflict=fail";
    Status st = StatusFromResult(conns[static_cast<size_t>(c)]->Put(url, body, "application/octet-stream"));
    return st.ok() ? st : Status(st.code(), "PUT " + url + ": " + st.message());
  });
}

}  // namespace

CreateProbe::CreateProbe(t::TestCluster& cluster, std::string folder, std::string mountpoint)
    : cluster_(cluster), folder_(std::move(folder)), mountpoint_(std::move(mountpoint)) {}

CreateProbe::~CreateProbe() {
  if (t::IsFuseMounted(mountpoint_)) t::RunCommand("fusermount3 -u " + mountpoint_);
  mount_.Stop();
}

Result<std::unique_ptr<CreateProbe>> CreateProbe::Start(t::TestCluster& cluster, const std::string& folder) {
  static int mounts = 0;
  const std::string mnt = cluster.dir() + "/mnt" + std::to_string(++mounts);
  std::error_code ec;
  std::filesystem::create_directories(mnt, ec);
  if (ec) return Status::IOError("mkdir " + mnt + ": " + ec.message());
  std::unique_ptr<CreateProbe> probe(new CreateProbe(cluster, folder, mnt));
  probe->mount_ = t::Subprocess({t::BinaryPath("mount.dfs"), cluster.master_url(), mnt, "-f", "-o",
                                 "cache_dir=" + mnt + ".cache"},
                                mnt + ".log");
  if (!t::WaitUntil([&] { return t::IsFuseMounted(mnt); }, std::chrono::seconds(20))) {
    return Status::Unavailable("mount.dfs did not mount " + mnt + " (log: " + mnt + ".log)");
  }
  for (const char* way : {"_http", "_mount"}) {
    std::filesystem::create_directories(mnt + "/" + folder + way, ec);
    if (ec) return Status::IOError("mkdir -p " + mnt + "/" + folder + way + ": " + ec.message());
  }
  return probe;
}

Status CreateProbe::WarmUp(int files, int clients) {
  return HttpCreates(cluster_.master_url(), folder_ + "_warmup", 0, files, clients).status();
}

Result<double> CreateProbe::Http(int first, int files, int clients) {
  return HttpCreates(cluster_.master_url(), folder_ + "_http", first, files, clients);
}

Result<double> CreateProbe::Mount(int first, int files, int clients) {
  const std::string dir = mountpoint_ + "/" + folder_ + "_mount";
  const std::string data(kCreateFileBytes, 'm');
  return RunCreates(first, files, clients, [&](int, int i) { return WriteOne(dir + "/f" + std::to_string(i), data); });
}

long CreateProbe::MasterRssKiB() const { return t::RssKiB(cluster_.master().pid()); }

Result<std::vector<CreateRate>> MeasureCreates(const std::vector<CreateProbe*>& probes, int files, int clients,
                                               int rounds) {
  std::vector<double> http(probes.size()), mount(probes.size());
  for (CreateProbe* p : probes) {
    if (Status st = p->WarmUp(std::max(files / 10, 500), clients); !st.ok()) return st;
  }
  for (int r = 0; r < rounds; ++r) {
    const int first = static_cast<int>(static_cast<long>(files) * r / rounds);
    const int n = static_cast<int>(static_cast<long>(files) * (r + 1) / rounds) - first;
    for (size_t i = 0; i < probes.size(); ++i) {
      auto took = probes[i]->Http(first, n, clients);
      if (!took.ok()) return took.status();
      http[i] += *took;
    }
    for (size_t i = 0; i < probes.size(); ++i) {
      auto took = probes[i]->Mount(first, n, clients);
      if (!took.ok()) return took.status();
      mount[i] += *took;
    }
  }
  std::vector<CreateRate> out;
  for (size_t i = 0; i < probes.size(); ++i) {
    out.push_back({files / http[i], files / mount[i], probes[i]->MasterRssKiB()});
  }
  return out;
}

}  // namespace dfs::bench
