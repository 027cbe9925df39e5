// Runs every fuzz target of the normal build on its seed corpus, on every
// regression input ever found, and on a few thousand deterministic
// mutations of them: fuzzing's findings stay fixed in every ctest run.
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <gtest/gtest.h>

#include "fuzz/fuzz_target.h"

namespace dfs::fuzz {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Inputs(const std::string& target) {
  std::vector<std::string> out;
  for (const char* kind : {"corpus", "regressions"}) {
    fs::path dir = fs::path(DFS_FUZZ_DIR) / kind / target;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      out.push_back(ss.str());
    }
  }
  return out;
}

void RunOne(TargetFn fn, const std::string& input) {
  fn(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

TEST(FuzzReplayTest, EveryTargetHasASeedCorpus) {
  for (const char* name : {"path", "collision_name", "replication_job", "endpoint", "error_body", "master_requests",
                           "master_http", "storage_http"}) {
    ASSERT_TRUE(Targets().count(name)) << name << " is not linked in";
    EXPECT_GE(Inputs(name).size(), 3u) << name;
  }
}

TEST(FuzzReplayTest, CorpusRegressionsAndMutationsKeepEveryProperty) {
  std::mt19937 rng(20261125);
  for (const auto& [name, fn] : Targets()) {
    SCOPED_TRACE(name);
    auto inputs = Inputs(name);
    for (const auto& input : inputs) RunOne(fn, input);
    for (int i = 0; i < 3000 && !inputs.empty(); ++i) {
      std::string m = inputs[rng() % inputs.size()];
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) {
        size_t pos = m.empty() ? 0 : rng() % (m.size() + 1);
        switch (rng() % 4) {
          case 0: m.insert(m.begin() + static_cast<std::ptrdiff_t>(pos), static_cast<char>(rng())); break;
          case 1: if (pos < m.size()) m.erase(pos, 1); break;
          case 2: if (pos < m.size()) m[pos] = static_cast<char>(rng()); break;
          default: m.insert(pos, std::string(1 + rng() % 300, "./a%\xc3"[rng() % 5]));
        }
      }
      RunOne(fn, m);
    }
  }
}

}  // namespace
}  // namespace dfs::fuzz
