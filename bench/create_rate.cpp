// See create_rate.h. Files are numbered from a shared counter, so the client
// threads share the work however fast each is; the rate is files over the
// wall time from the first create to the last answer.
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

// Runs create(i) for i in [0, files) on `clients` threads; the wall time in
// seconds, or the first failure.
Result<double> RunCreates(int files, int clients, const std::function<Status(int thread, int i)>& create) {
  std::atomic<int> next{0};
  std::mutex mu;
  Status first_error;
  std::vector<std::thread> threads;
  const double start = Now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (int i = next++; i < files; i = next++) {
        Status st = create(c, i);
        if (st.ok()) continue;
        std::lock_guard<std::mutex> lock(mu);
        if (first_error.ok()) first_error = st;
        next = files;  // the others stop too
      }
    });
  }
  for (auto& th : threads) th.join();
  if (!first_error.ok()) return first_error;
  return Now() - start;
}

Result<double> HttpCreates(const std::string& master_url, const std::string& folder, int files, int clients) {
  auto ep = ParseEndpoint(master_url);
  if (!ep.ok()) return ep.status();
  const std::string body(kCreateFileBytes, 'h');
  std::vector<std::unique_ptr<httplib::Client>> conns;
  for (int c = 0; c < clients; ++c) {
    conns.push_back(MakeClient(*ep));
    conns.back()->set_tcp_nodelay(true);  // as curl does: no wait for the ACK of the headers
  }
  auto took = RunCreates(files, clients, [&](int c, int i) {
    const std::string url = "/api/v1/files/" + EncodePathForUrl(folder + "/f" + std::to_string(i)) + "?conflict=fail";
    Status st = StatusFromResult(conns[static_cast<size_t>(c)]->Put(url, body, "application/octet-stream"));
    return st.ok() ? st : Status(st.code(), "PUT " + url + ": " + st.message());
  });
  if (!took.ok()) return took.status();
  return files / *took;
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

// A mount.dfs in the foreground, unmounted and stopped by pid when it goes.
class Mount {
 public:
  Mount(const t::TestCluster& cluster, const std::string& dir) : dir_(dir) {
    std::filesystem::create_directories(dir_);
    process_ = t::Subprocess({t::BinaryPath("mount.dfs"), cluster.master_url(), dir_, "-f", "-o",
                              "cache_dir=" + dir_ + ".cache"},
                             dir_ + ".log");
  }
  ~Mount() {
    if (t::IsFuseMounted(dir_)) t::RunCommand("fusermount3 -u " + dir_);
    process_.Stop();
  }
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;

  [[nodiscard]] Status WaitMounted() {
    if (t::WaitUntil([&] { return t::IsFuseMounted(dir_); }, std::chrono::seconds(20))) return Status::OK();
    return Status::Unavailable("mount.dfs did not mount " + dir_ + " (log: " + process_.log_path() + ")");
  }

 private:
  std::string dir_;
  t::Subprocess process_;
};

Result<double> MountCreates(const t::TestCluster& cluster, const std::string& folder, int files, int clients) {
  static int mounts = 0;
  const std::string mnt = cluster.dir() + "/mnt" + std::to_string(++mounts);
  Mount mount(cluster, mnt);
  if (Status st = mount.WaitMounted(); !st.ok()) return st;
  const std::string dir = mnt + "/" + folder;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError("mkdir -p " + dir + ": " + ec.message());
  const std::string data(kCreateFileBytes, 'm');
  auto took = RunCreates(files, clients, [&](int, int i) { return WriteOne(dir + "/f" + std::to_string(i), data); });
  if (!took.ok()) return took.status();
  return files / *took;
}

}  // namespace

Result<CreateRate> MeasureCreates(t::TestCluster& cluster, const std::string& folder, int files, int clients) {
  CreateRate rate;
  // Untimed: the nodes' blob folders and the master's spool exist before
  // either measurement, on the empty namespace as on the full one.
  auto warm = HttpCreates(cluster.master_url(), folder + "_warmup", std::max(files / 20, 100), clients);
  if (!warm.ok()) return warm.status();
  auto http = HttpCreates(cluster.master_url(), folder + "_http", files, clients);
  if (!http.ok()) return http.status();
  rate.http_files_per_s = *http;
  auto mount = MountCreates(cluster, folder + "_mount", files, clients);
  if (!mount.ok()) return mount.status();
  rate.mount_files_per_s = *mount;
  rate.master_rss_kib = t::RssKiB(cluster.master().pid());
  return rate;
}

}  // namespace dfs::bench
