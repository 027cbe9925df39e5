// A 1 GiB file through the master and a node: both stream, so their peak
// resident memory stays far below the file size.
#include <gtest/gtest.h>

#include "common/http_util.h"
#include "tests/support/cluster.h"
#include "tests/support/http_helpers.h"

namespace dfs::testing {

TEST(MasterMemoryTest, OneGiBPutAndGetKeepRssBounded) {
#ifdef DFS_SANITIZED
  GTEST_SKIP() << "RSS bounds are checked in the normal build (ASan keeps freed memory in quarantine)";
#endif
  ClusterOptions options;
  options.nodes = 1;
  TestCluster cluster(options);
  TempDir tmp;
  std::string src = tmp.path() + "/big";
  std::string md5 = WriteRandomFile(src, size_t{1} << 30, 7);
  auto put = PutFile(cluster.master_url(), "/api/v1/files/big.bin", src, {{kMd5Header, md5}});
  ASSERT_EQ(put.status, 201) << put.body;
  std::remove(src.c_str());
  std::string got;
  auto get = GetToFile(cluster.master_url(), "/api/v1/files/big.bin", tmp.path() + "/out", &got);
  ASSERT_EQ(get.status, 200);
  EXPECT_EQ(got, md5);
  long master_kib = PeakRssKiB(cluster.master().pid());
  long node_kib = PeakRssKiB(cluster.node(0).pid());
  std::printf("peak RSS for a 1 GiB put+get: master %ld KiB, node %ld KiB\n", master_kib, node_kib);
  EXPECT_GT(master_kib, 0);
  EXPECT_LT(master_kib, 100 * 1024);
  EXPECT_LT(node_kib, 100 * 1024);
}

}  // namespace dfs::testing
