// SpoolFile: a small body stays in memory (no file in the spool folder), a
// larger one moves to a file without losing or reordering a byte, and both
// read back the same through SpoolReader, with the digest of what arrived.
#include "master/spool_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>

#include "common/crc32.h"
#include "common/md5.h"
#include "tests/support/process.h"

namespace dfs::master {
namespace {
using dfs::testing::TempDir;

size_t FilesIn(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

std::string RandomBytes(size_t n) {
  std::mt19937 rng(static_cast<unsigned>(n));
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Appends `data` in pieces of `piece` bytes, finishes, and reads it all back.
std::string RoundTrip(SpoolFile& spool, const std::string& data, size_t piece) {
  for (size_t at = 0; at < data.size(); at += piece) {
    EXPECT_TRUE(spool.Append(data.data() + at, std::min(piece, data.size() - at)).ok());
  }
  EXPECT_TRUE(spool.Finish().ok());
  auto reader = SpoolReader::Open(spool);
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  if (!reader.ok()) return "";
  std::string out;
  char buf[7000];
  for (;;) {
    auto n = reader->ReadAt(out.size(), buf, sizeof buf);
    EXPECT_TRUE(n.ok());
    if (!n.ok() || *n == 0) break;
    out.append(buf, *n);
  }
  return out;
}

TEST(SpoolFile, ASmallBodyStaysInMemory) {
  TempDir dir;
  const std::string data = RandomBytes(4096);
  auto spool = SpoolFile::Create(dir.path(), SpoolDigest::kMd5);
  ASSERT_TRUE(spool.ok());
  EXPECT_EQ(RoundTrip(**spool, data, 1000), data);
  EXPECT_TRUE((*spool)->in_memory());
  EXPECT_EQ(FilesIn(dir.path()), 0u);
  EXPECT_EQ((*spool)->md5(), Md5::Of(data));
}

TEST(SpoolFile, ALargerBodyMovesToDiskWholeAndIsRemovedAfter) {
  TempDir dir;
  const std::string data = RandomBytes(SpoolFile::kInMemory * 3 + 12345);
  {
    auto spool = SpoolFile::Create(dir.path(), SpoolDigest::kCrc32);
    ASSERT_TRUE(spool.ok());
    // Pieces that straddle the in-memory limit: the bytes before it move to the file first.
    EXPECT_EQ(RoundTrip(**spool, data, 100003), data);
    EXPECT_FALSE((*spool)->in_memory());
    EXPECT_EQ(FilesIn(dir.path()), 1u);
    EXPECT_EQ((*spool)->crc32(), Crc32::Of(data));
    EXPECT_EQ((*spool)->size(), data.size());
  }
  EXPECT_EQ(FilesIn(dir.path()), 0u) << "a spool file outlived its SpoolFile";
}

TEST(SpoolFile, ExactlyTheLimitStaysInMemoryAndOneByteMoreDoesNot) {
  TempDir dir;
  for (size_t n : {SpoolFile::kInMemory, SpoolFile::kInMemory + 1}) {
    const std::string data = RandomBytes(n);
    auto spool = SpoolFile::Create(dir.path());
    ASSERT_TRUE(spool.ok());
    EXPECT_EQ(RoundTrip(**spool, data, n), data);
    EXPECT_EQ((*spool)->in_memory(), n == SpoolFile::kInMemory) << n;
  }
}

TEST(SpoolFile, AFolderThatCannotTakeAFileFailsOnlyOnceTheBodyOutgrowsMemory) {
  const std::string missing = "/nonexistent-dfs-spool-folder";
  auto spool = SpoolFile::Create(missing);
  ASSERT_TRUE(spool.ok());
  const std::string data = RandomBytes(SpoolFile::kInMemory);
  EXPECT_TRUE((*spool)->Append(data.data(), data.size()).ok());
  Status st = (*spool)->Append("x", 1);
  EXPECT_EQ(st.code(), Code::kIOError) << st.ToString();
}

}  // namespace
}  // namespace dfs::master
