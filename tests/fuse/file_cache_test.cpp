// FileCache without a cluster: copies placed in its blobs folder are cached
// hits, and a client pointed at a dead port makes every miss fail.
#include "fuse_client/file_cache.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/md5.h"
#include "tests/support/process.h"

namespace dfs::fuse_client {
namespace {

using dfs::testing::TempDir;

DfsClient DeadClient() {
  ClientOptions o;
  o.master_url = "http://127.0.0.1:" + std::to_string(dfs::testing::FreePort());
  o.max_attempts = 1;
  return DfsClient(o);
}

// Writes `size` bytes as a cached copy; returns its md5.
std::string PutBlob(const std::string& dir, size_t size, char fill) {
  std::string data(size, fill);
  std::string md5 = Md5::Of(data);
  std::ofstream(dir + "/blobs/" + md5, std::ios::binary) << data;
  return md5;
}

TEST(FuseFileCacheTest, HitsOpenUnderTheLockAndEvictionKeepsTheBound) {
  TempDir tmp;
  std::filesystem::create_directories(tmp.path() + "/blobs");
  std::string a = PutBlob(tmp.path(), 600, 'a');
  auto cache = FileCache::Open(tmp.path(), 1000);
  ASSERT_TRUE(cache.ok()) << cache.status().ToString();
  DfsClient client = DeadClient();
  auto fd_a = (*cache)->Fetch(client, "a", a);
  ASSERT_TRUE(fd_a.ok()) << fd_a.status().ToString();
  // A second copy pushes the first out; the open fd still reads it.
  std::string b = PutBlob(tmp.path(), 600, 'b');
  auto fd_b = (*cache)->Fetch(client, "b", b);
  ASSERT_TRUE(fd_b.ok()) << fd_b.status().ToString();
  EXPECT_LE((*cache)->bytes(), 1000u);
  EXPECT_FALSE(std::filesystem::exists(tmp.path() + "/blobs/" + a));
  char c = 0;
  EXPECT_EQ(::pread(fd_a->get(), &c, 1, 0), 1);
  EXPECT_EQ(c, 'a');
  // A miss asks the (dead) master and fails; no download gate is left behind.
  EXPECT_FALSE((*cache)->Fetch(client, "a", a).ok());
  EXPECT_EQ((*cache)->downloads_in_flight(), 0u);
}

}  // namespace
}  // namespace dfs::fuse_client
