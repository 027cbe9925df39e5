// FileCache without a cluster: copies placed in its blobs folder are cached
// hits, and a client pointed at a dead port makes every miss fail. Also the
// checks of a chunk list (ChunkListFromMeta). Fetching real chunks is in
// fuse_test.cpp, against a real cluster.
#include "fuse_client/file_cache.h"

#include "fuse_client/chunk_reader.h"

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

// Chunks share the md5-named copies and the one bound with whole files: a
// cached chunk is served without asking the master, a failed fetch leaves
// neither a part file nor reserved room behind.
TEST(FuseFileCacheTest, ChunksAreCachedCopiesNamedByTheirMd5) {
  TempDir tmp;
  std::filesystem::create_directories(tmp.path() + "/blobs");
  const std::string md5 = PutBlob(tmp.path(), 300, 'c');
  auto cache = FileCache::Open(tmp.path(), 1000);
  ASSERT_TRUE(cache.ok()) << cache.status().ToString();
  DfsClient client = DeadClient();
  auto fd = (*cache)->FetchChunk(client, "f", "", ChunkRef{4096, 300, md5});
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  char c = 0;
  EXPECT_EQ(::pread(fd->get(), &c, 1, 299), 1);
  EXPECT_EQ(c, 'c');
  EXPECT_TRUE((*cache)->Has(md5));
  // A miss asks the (dead) master: it fails, and leaves nothing behind.
  const std::string other = Md5::Of(std::string(800, 'd'));
  auto miss = (*cache)->FetchChunk(client, "f", "", ChunkRef{0, 800, other});
  EXPECT_FALSE(miss.ok());
  EXPECT_EQ((*cache)->bytes(), 0u) << "room was made for it (the 300-byte copy evicted) and given back";
  EXPECT_EQ((*cache)->downloads_in_flight(), 0u);
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp.path() + "/blobs")) files += e.is_regular_file();
  EXPECT_EQ(files, 0u) << "no part file is left";
  // A chunk with no md5 is never fetched.
  EXPECT_FALSE((*cache)->FetchChunk(client, "f", "", ChunkRef{0, 10, ""}).ok());
}

// A JSON array (a braced list of one json would be a copy of it, not an array).
nlohmann::json Chunks(std::vector<nlohmann::json> chunks) { return chunks; }

nlohmann::json Meta(uint64_t size, const std::string& md5, const nlohmann::json& chunks) {
  return {{"name", "f"}, {"size", size}, {"md5", md5}, {"version", 3}, {"chunks", chunks}};
}

nlohmann::json Chunk(int index, uint64_t offset, uint64_t size, const std::string& md5, bool good = true) {
  return {{"index", index},
          {"offset", offset},
          {"size", size},
          {"md5", md5},
          {"replicas", {{{"node_id", "n"}, {"url", "http://n"}, {"state", good ? "ok" : "bad"}}}}};
}

TEST(ChunkListTest, TakesContiguousChunksWithMd5sAndGoodCopies) {
  const std::string a = Md5::Of("a"), b = Md5::Of("b");
  auto list = ChunkListFromMeta(Meta(30, "", Chunks({Chunk(0, 0, 10, a), Chunk(1, 10, 20, b)})));
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(list->size, 30u);
  EXPECT_EQ(list->version, 3);
  ASSERT_EQ(list->chunks.size(), 2u);
  EXPECT_EQ(list->chunks[1].offset, 10u);
  EXPECT_EQ(list->chunks[1].md5, b);
  EXPECT_TRUE(ChunkListFromMeta(Meta(10, a, Chunks({Chunk(0, 0, 10, a)}))).ok());
  EXPECT_TRUE(ChunkListFromMeta(Meta(0, Md5::Of(""), Chunks({Chunk(0, 0, 0, Md5::Of(""), false)}))).ok())
      << "an empty chunk needs no copy";
}

TEST(ChunkListTest, RefusesWhatDoesNotMakeSense) {
  const std::string a = Md5::Of("a"), b = Md5::Of("b");
  EXPECT_FALSE(ChunkListFromMeta(Meta(0, "", nlohmann::json::array())).ok()) << "no chunks";
  EXPECT_FALSE(ChunkListFromMeta({{"name", "f"}, {"size", 1}}).ok()) << "no chunk list";
  EXPECT_FALSE(ChunkListFromMeta(Meta(30, "", Chunks({Chunk(0, 0, 10, a), Chunk(1, 12, 18, b)}))).ok()) << "a gap";
  EXPECT_FALSE(ChunkListFromMeta(Meta(31, "", Chunks({Chunk(0, 0, 10, a), Chunk(1, 10, 20, b)}))).ok()) << "sizes";
  EXPECT_FALSE(ChunkListFromMeta(Meta(30, "", Chunks({Chunk(1, 0, 10, a), Chunk(0, 10, 20, b)}))).ok()) << "order";
  EXPECT_FALSE(ChunkListFromMeta(Meta(10, "", Chunks({Chunk(0, 0, 10, "xyz")}))).ok()) << "no md5";
  EXPECT_FALSE(ChunkListFromMeta(Meta(10, "", Chunks({Chunk(0, 0, 10, a, false)}))).ok()) << "no good copy";
  EXPECT_FALSE(ChunkListFromMeta(Meta(10, b, Chunks({Chunk(0, 0, 10, a)}))).ok()) << "one chunk, another md5";
}

}  // namespace
}  // namespace dfs::fuse_client
