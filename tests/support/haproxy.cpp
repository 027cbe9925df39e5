#include "tests/support/haproxy.h"

#include <sstream>
#include <stdexcept>

#include "tests/support/http_helpers.h"

namespace dfs::testing {

bool Haproxy::Installed() { return RunCommand("command -v haproxy >/dev/null") == 0; }

Haproxy::Haproxy(const std::vector<std::string>& masters, const std::string& dir)
    : port_(FreePort()), stats_port_(FreePort()) {
  const std::string cfg = dir + "/haproxy.cfg";
  std::string cmd = std::string(DFS_SOURCE_DIR) + "/scripts/dfs-haproxy-config --listen 127.0.0.1:" +
                    std::to_string(port_) + " --stats 127.0.0.1:" + std::to_string(stats_port_);
  for (const auto& m : masters) cmd += " " + m;
  std::string out;
  if (RunCommand(cmd + " > " + cfg + " 2>&1", &out) != 0) {
    throw std::runtime_error("dfs-haproxy-config failed: " + out + ReadFile(cfg));
  }
  process_ = Subprocess({"haproxy", "-db", "-f", cfg}, dir + "/haproxy.log");
  // The stats page answers once haproxy listens, whatever its servers do.
  if (!WaitUntil([&] { return Get(stats_url(), "/;csv").status == 200; }, std::chrono::milliseconds(15000))) {
    throw std::runtime_error("haproxy did not start: " + ReadFile(dir + "/haproxy.log"));
  }
}

std::string Haproxy::ServerStatus(const std::string& name) const {
  auto answer = Get(stats_url(), "/;csv");
  if (answer.status != 200) return "";
  std::istringstream lines(answer.body);
  std::string line;
  int status_col = -1;
  while (std::getline(lines, line)) {
    std::vector<std::string> cols;
    std::istringstream fields(line);
    for (std::string f; std::getline(fields, f, ',');) cols.push_back(f);
    if (!line.empty() && line[0] == '#') {
      for (size_t i = 0; i < cols.size(); ++i) {
        if (cols[i] == "status") status_col = static_cast<int>(i);
      }
    } else if (status_col >= 0 && cols.size() > static_cast<size_t>(status_col) && cols.size() > 1 &&
               cols[0] == "masters" && cols[1] == name) {
      return cols[static_cast<size_t>(status_col)];
    }
  }
  return "";
}

bool Haproxy::WaitAllUp(int servers, std::chrono::milliseconds timeout) const {
  return WaitUntil(
      [&] {
        for (int i = 1; i <= servers; ++i) {
          if (ServerStatus("master" + std::to_string(i)) != "UP") return false;
        }
        return true;
      },
      timeout);
}

}  // namespace dfs::testing
