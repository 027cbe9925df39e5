// BufferedWriter (common/buffered_writer.h): pieces are gathered, the file
// holds everything but pending() bytes, Flush() writes the rest, a write
// error is a Status (ENOSPC: NoSpace).
#include "common/buffered_writer.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "common/unique_fd.h"
#include "tests/support/process.h"

namespace dfs {
namespace {

off_t FileSize(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? st.st_size : -1;
}

TEST(BufferedWriterTest, GathersPiecesAndFlushesTheRest) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/f";
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  ASSERT_TRUE(fd);
  BufferedWriter out(path);
  std::string expected;
  for (int i = 0; i < 100; ++i) {
    const std::string piece(4096, static_cast<char>('a' + i % 26));
    ASSERT_TRUE(out.Append(fd.get(), piece.data(), piece.size()).ok());
    expected += piece;
    EXPECT_LE(out.pending(), BufferedWriter::kCapacity);
    EXPECT_EQ(static_cast<size_t>(FileSize(fd.get())) + out.pending(), expected.size());
  }
  EXPECT_LT(FileSize(fd.get()), static_cast<off_t>(expected.size())) << "not one write per piece";
  const std::string big(BufferedWriter::kCapacity + 1, 'B');
  ASSERT_TRUE(out.Append(fd.get(), big.data(), big.size()).ok());
  expected += big;
  EXPECT_EQ(out.pending(), 0u) << "a piece over the capacity goes straight to the file";
  ASSERT_TRUE(out.Append(fd.get(), "tail", 4).ok());
  expected += "tail";
  ASSERT_TRUE(out.Flush(fd.get()).ok());
  EXPECT_EQ(out.pending(), 0u);
  EXPECT_EQ(testing::ReadFile(path), expected);
}

TEST(BufferedWriterTest, AFullDiskIsNoSpace) {
  UniqueFd fd(::open("/dev/full", O_WRONLY | O_CLOEXEC));
  if (!fd) GTEST_SKIP() << "no /dev/full";
  BufferedWriter out("/dev/full");
  ASSERT_TRUE(out.Append(fd.get(), "x", 1).ok()) << "buffered: nothing written yet";
  EXPECT_EQ(out.Flush(fd.get()).code(), Code::kNoSpace);
}

}  // namespace
}  // namespace dfs
