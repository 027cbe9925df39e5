// Replays every file of fuzz/corpus/<target>/ and fuzz/regressions/<target>/
// through the fuzz targets' entry functions (compiled here without
// libFuzzer), so seeds and every crash ever found run in each ctest.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.h"

#define DFS_FUZZ_DECLARE(name) extern "C" int DfsFuzzReplay_##name(const uint8_t* data, size_t size);
DFS_FUZZ_DECLARE(path)
DFS_FUZZ_DECLARE(collision_name)
DFS_FUZZ_DECLARE(http_util)
DFS_FUZZ_DECLARE(replication_job)
DFS_FUZZ_DECLARE(master_requests)
DFS_FUZZ_DECLARE(master_http)

namespace dfs::fuzz {
void CheckFailed(const char* expr, const char* file, int line, const std::string& detail) {
  ADD_FAILURE_AT(file, line) << "FUZZ_CHECK(" << expr << ") failed: " << detail.substr(0, 2000);
}
}  // namespace dfs::fuzz

namespace {

struct Target {
  const char* name;
  int (*run)(const uint8_t*, size_t);
};

const Target kTargets[] = {
    {"path", DfsFuzzReplay_path},
    {"collision_name", DfsFuzzReplay_collision_name},
    {"http_util", DfsFuzzReplay_http_util},
    {"replication_job", DfsFuzzReplay_replication_job},
    {"master_requests", DfsFuzzReplay_master_requests},
    {"master_http", DfsFuzzReplay_master_http},
};

class FuzzReplayTest : public ::testing::TestWithParam<Target> {};

std::vector<std::filesystem::path> Inputs(const std::string& target) {
  std::vector<std::filesystem::path> files;
  for (const char* kind : {"corpus", "regressions"}) {
    std::filesystem::path dir = std::filesystem::path(DFS_FUZZ_DIR) / kind / target;
    if (!std::filesystem::is_directory(dir)) continue;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.is_regular_file()) files.push_back(entry.path());
    }
  }
  return files;
}

TEST_P(FuzzReplayTest, CorpusAndRegressions) {
  auto files = Inputs(GetParam().name);
  ASSERT_FALSE(files.empty()) << "no seed corpus for " << GetParam().name;
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    std::ifstream in(file, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    GetParam().run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzReplayTest, ::testing::ValuesIn(kTargets),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
