// Tiny PUTs (2 bytes), as `curl -T` sends them: a new connection per request,
// TCP_NODELAY on the client, with and without `Expect: 100-continue` (the
// client then waits for "100 Continue" before the body, as curl does).
// Through the master (PUT /api/v1/files/...) beside the same straight to one
// storage node (PUT /blobs/<id> with X-Dfs-Md5): p50/p99 latency with one
// client, files/s with 8 and 32 clients.
//
//   tiny_put_bench [N]                          its own cluster (1 node, no replicas)
//   tiny_put_bench [N] MASTER_URL NODE_URL      a cluster already running (e.g. older binaries)
//
// N: PUTs timed one at a time per line (default 200); the parallel runs put
// 2 N files each. Nothing is asserted: compare the lines of one run.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "common/http_util.h"
#include "common/md5.h"
#include "common/unique_fd.h"
#include "tests/support/cluster.h"

namespace dfs::bench {
namespace {

const std::string kBody = "hi";

struct Target {
  std::string name;
  int port = 0;
  bool node = false;  // blob PUTs (need X-Dfs-Md5) rather than file PUTs
};

// Reads one answer head (and its Content-Length body) from `fd`; its status, 0 on failure.
int ReadAnswer(int fd, std::string& buffered) {
  char buf[4096];
  for (;;) {
    const size_t end = buffered.find("\r\n\r\n");
    if (end != std::string::npos) {
      const int status = buffered.rfind("HTTP/1.1 ", 0) == 0 ? std::atoi(buffered.c_str() + 9) : 0;
      size_t length = 0;
      std::string head = buffered.substr(0, end);
      for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (size_t at = head.find("\r\ncontent-length: "); at != std::string::npos) {
        length = std::strtoul(head.c_str() + at + 18, nullptr, 10);
      }
      while (buffered.size() < end + 4 + length) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return 0;
        buffered.append(buf, static_cast<size_t>(n));
      }
      buffered.erase(0, end + 4 + length);
      return status;
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return 0;
    buffered.append(buf, static_cast<size_t>(n));
  }
}

bool SendAll(int fd, const std::string& bytes) {
  return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

// One PUT on a new connection; true when it was stored (201).
bool TinyPut(const Target& target, bool expect, const std::string& name) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(target.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
  std::string head = target.node ? "PUT /blobs/" + name + " HTTP/1.1\r\nX-Dfs-Md5: " + Md5::Of(kBody) + "\r\n"
                                 : "PUT /api/v1/files/tiny/" + name + " HTTP/1.1\r\n";
  head += "Host: 127.0.0.1\r\nContent-Length: " + std::to_string(kBody.size()) + "\r\n";
  if (expect) head += "Expect: 100-continue\r\n";
  head += "\r\n";
  std::string buffered;
  if (!expect) return SendAll(fd.get(), head + kBody) && ReadAnswer(fd.get(), buffered) == 201;
  if (!SendAll(fd.get(), head)) return false;
  const int interim = ReadAnswer(fd.get(), buffered);
  if (interim != 100) return interim == 201;
  return SendAll(fd.get(), kBody) && ReadAnswer(fd.get(), buffered) == 201;
}

std::string Name(const Target& target) { return target.node ? RandomHex(16) : RandomHex(8); }

struct Line {
  double p50_ms = 0, p99_ms = 0, files_8 = 0, files_32 = 0;
  int failed = 0;
};

double FilesPerSecond(const Target& target, bool expect, int clients, int files, std::atomic<int>& failed) {
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  const double start = Now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      while (next.fetch_add(1) < files) {
        if (!TinyPut(target, expect, Name(target))) ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  return files / (Now() - start);
}

Line Measure(const Target& target, bool expect, int n) {
  Line line;
  std::atomic<int> failed{0};
  for (int i = 0; i < 10; ++i) TinyPut(target, expect, Name(target));  // warm-up
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    const double start = Now();
    if (!TinyPut(target, expect, Name(target))) ++failed;
    ms.push_back((Now() - start) * 1000);
  }
  line.p50_ms = Percentile(ms, 50);
  line.p99_ms = Percentile(ms, 99);
  line.files_8 = FilesPerSecond(target, expect, 8, 2 * n, failed);
  line.files_32 = FilesPerSecond(target, expect, 32, 2 * n, failed);
  line.failed = failed.load();
  return line;
}

int PortOf(const std::string& url) {
  auto ep = ParseEndpoint(url);
  return ep.ok() ? ep->port : 0;
}

int Run(int n, const std::string& master_url, const std::string& node_url) {
  std::printf("tiny_put_bench %d  (2-byte PUT, a new connection each, as curl -T)\n", n);
  std::printf("  %-34s %8s %8s %12s %12s\n", "", "p50 ms", "p99 ms", "files/s x8", "files/s x32");
  const Target targets[] = {{"master", PortOf(master_url), false}, {"node", PortOf(node_url), true}};
  for (const auto& target : targets) {
    for (bool expect : {true, false}) {
      Line line = Measure(target, expect, n);
      const std::string label = target.name + (expect ? ", Expect: 100-continue" : ", no Expect");
      std::printf("  %-34s %8.2f %8.2f %12.0f %12.0f%s\n", label.c_str(), line.p50_ms, line.p99_ms, line.files_8,
                  line.files_32, line.failed ? ("  (" + std::to_string(line.failed) + " failed)").c_str() : "");
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace
}  // namespace dfs::bench

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 200;
  if (argc > 3) return dfs::bench::Run(n, argv[2], argv[3]);
  dfs::testing::ClusterOptions options;
  options.nodes = 1;
  options.replicas = 0;
  dfs::testing::TestCluster cluster(options);
  return dfs::bench::Run(n, cluster.master_url(), cluster.node_url(0));
}
