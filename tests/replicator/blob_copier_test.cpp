// BlobCopier between two real dfs-storage processes: the checks a copy
// relies on are the nodes' own (block sums at the source, the md5 of what
// arrived at the target), and a failure is blamed on the right side.
#include "replicator/blob_copier.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/md5.h"
#include "tests/support/http_helpers.h"
#include "tests/support/process.h"
#include "tests/support/storage_node.h"

namespace dfs::testing {
namespace {

using replication::BlobCopier;
using replication::CopyFault;

const std::string kId = "0badc0de0badc0de0badc0de0badc0de";

// Each case runs with a blob copied through the pipe (3 MiB) and one copied
// through memory (at most BlobCopier::kInMemory).
class BlobCopierTest : public ::testing::TestWithParam<size_t> {
 protected:
  TempDir tmp_;
  StorageNode source_{tmp_.path() + "/a"};
  StorageNode target_{tmp_.path() + "/b"};
  BlobCopier copier_;

  std::string SourceBlob() const { return tmp_.path() + "/a/blobs/" + kId.substr(0, 2) + "/" + kId; }
  // A blob of GetParam() bytes on the source; returns its md5.
  std::string PutOnSource() {
    data_ = std::string(GetParam(), '\0');
    for (size_t i = 0; i < data_.size(); ++i) data_[i] = static_cast<char>(i * 131 + i / 9000);
    auto put = PutString(source_.url(), "/blobs/" + kId, data_, {{kMd5Header, Md5::Of(data_)}});
    EXPECT_EQ(put.status, 201) << put.body;
    return Md5::Of(data_);
  }
  void FlipSourceByte(uint64_t offset) {
    std::fstream f(SourceBlob(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.read(&c, 1);
    c ^= 0x20;
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(&c, 1);
  }
  int TargetStatus() { return Get(target_.url(), "/blobs/" + kId).status; }
  std::string data_;
};

TEST_P(BlobCopierTest, AGoodCopyLandsWholeAndVerifiedOnTheTarget) {
  const std::string md5 = PutOnSource();
  auto out = copier_.Copy(source_.url(), target_.url(), kId, md5, data_.size(), "t1");
  ASSERT_TRUE(out.ok()) << out.status.ToString();
  auto got = Get(target_.url(), "/blobs/" + kId);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(Md5::Of(got.body), md5);
  EXPECT_EQ(got.header(kMd5Header), md5);
}

// A blob from before block sums is served unchecked: the target's md5 check
// refuses it, and the copier's re-check of the source blames the source.
TEST_P(BlobCopierTest, ACorruptSourceWithoutBlockSumsIsBlamedAndTheTargetKeepsNothing) {
  const std::string md5 = PutOnSource();
  ASSERT_TRUE(RemoveBlockSums(SourceBlob()));
  FlipSourceByte(data_.size() * 2 / 3);
  auto out = copier_.Copy(source_.url(), target_.url(), kId, md5, data_.size(), "t2");
  EXPECT_EQ(out.fault, CopyFault::kSourceBad) << out.status.ToString();
  EXPECT_EQ(out.status.code(), Code::kChecksumMismatch) << out.status.ToString();
  EXPECT_EQ(TargetStatus(), 404);
}

// Copies of one copier reuse their connections to the nodes (kept alive):
// many small copies in a row all land.
TEST_P(BlobCopierTest, ManyCopiesInARowReuseConnectionsAndAllLand) {
  PutOnSource();
  for (int i = 0; i < 40; ++i) {
    char id[33];
    std::snprintf(id, sizeof id, "%032x", i + 1);
    const std::string data = data_.substr(0, data_.size() - static_cast<size_t>(i));
    ASSERT_EQ(PutString(source_.url(), std::string("/blobs/") + id, data, {{kMd5Header, Md5::Of(data)}}).status, 201);
    auto out = copier_.Copy(source_.url(), target_.url(), id, Md5::Of(data), data.size(), "t5");
    ASSERT_TRUE(out.ok()) << i << ": " << out.status.ToString();
    EXPECT_EQ(Md5::Of(Get(target_.url(), std::string("/blobs/") + id).body), Md5::Of(data));
  }
}

// With block sums the source stops before the bad block: the target gets a
// short body, keeps nothing, and the copy is not blamed on it.
TEST_P(BlobCopierTest, ABadBlockAtTheSourceStopsTheCopyBeforeTheTargetKeepsIt) {
  const std::string md5 = PutOnSource();
  FlipSourceByte(data_.size() * 2 / 3 + 5);  // a later block, or a small blob's only one (then 404)
  auto out = copier_.Copy(source_.url(), target_.url(), kId, md5, data_.size(), "t3");
  EXPECT_FALSE(out.ok());
  EXPECT_NE(out.fault, CopyFault::kTarget) << out.status.ToString();
  EXPECT_EQ(TargetStatus(), 404);
}

// A target that is down is the target's fault; the source is not blamed.
TEST_P(BlobCopierTest, ATargetThatIsDownIsTheTargetsFault) {
  const std::string md5 = PutOnSource();
  target_.Stop();
  auto out = copier_.Copy(source_.url(), target_.url(), kId, md5, data_.size(), "t4");
  EXPECT_EQ(out.fault, CopyFault::kTarget) << out.status.ToString();
}

INSTANTIATE_TEST_SUITE_P(PipedAndInMemory, BlobCopierTest,
                         ::testing::Values(size_t{3} << 20, size_t{200} * 1024),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return info.param > BlobCopier::kInMemory ? "Piped" : "InMemory";
                         });

}  // namespace
}  // namespace dfs::testing
