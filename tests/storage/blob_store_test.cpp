#include "storage/blob_store.h"

#include <sys/xattr.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include <gtest/gtest.h>

#include "storage/block_sums.h"
#include "tests/support/process.h"
#include "tests/support/storage_node.h"

namespace dfs::storage {
namespace {

const std::string kId = "0123456789abcdef0123456789abcdef";

class BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(0); }
  void Reopen(uint64_t capacity, BlobStore::SumsIn sums_in = BlobStore::SumsIn::kAttributes) {
    store_.reset();
    auto s = BlobStore::Open(dir_.path(), capacity, sums_in);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  Result<BlobInfo> Write(const std::string& id, const std::string& data, const std::string& md5) {
    auto w = store_->BeginWrite(id, data.size());
    if (!w.ok()) return w.status();
    Status st = (*w)->Append(data.data(), data.size());
    if (!st.ok()) return st;
    return (*w)->Commit(md5);
  }
  size_t TmpFiles() {
    size_t n = 0;
    for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir_.path() + "/tmp")) ++n;
    return n;
  }
  // Files in the blob's shard folder: the blob and any sidecars.
  std::vector<std::string> ShardFiles(const std::string& id) {
    std::vector<std::string> out;
    for (auto& e : std::filesystem::directory_iterator(dir_.path() + "/blobs/" + id.substr(0, 2))) {
      out.push_back(e.path().filename());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string Md5Attribute(const std::string& id) {
    char buf[64];
    ssize_t n = ::getxattr(store_->BlobPath(id).c_str(), kMd5Xattr, buf, sizeof buf);
    return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
  }
  // Reads the blob back checking every block, as a GET does.
  bool ReadsVerified(const std::string& id, const std::string& data) {
    auto sums = store_->OpenBlockSums(id, data.size());
    if (!sums.ok()) return false;
    for (uint64_t i = 0; i < sums->block_count(); ++i) {
      std::string block = data.substr(i * sums->block_size(), sums->block_size());
      if (!*sums->Verify(i, block.data(), block.size())) return false;
    }
    return true;
  }
  dfs::testing::TempDir dir_;
  std::unique_ptr<BlobStore> store_;
};

// A blob is one file: its md5 and block sums are attributes of it, so
// writing one creates, fsyncs and renames that file alone.
TEST_F(BlobStoreTest, ABlobIsOneFileCarryingItsMd5AndBlockSums) {
  const std::string data(3 * kBlockSize + 5, 'x');
  ASSERT_TRUE(Write(kId, data, Md5::Of(data)).ok());
  EXPECT_EQ(ShardFiles(kId), std::vector<std::string>{kId});
  EXPECT_EQ(Md5Attribute(kId), Md5::Of(data));
  EXPECT_EQ(dfs::testing::BlockSumsOf(store_->BlobPath(kId)), EncodeBlockSums(data));
  EXPECT_EQ(store_->Stat(kId)->md5, Md5::Of(data));
  EXPECT_TRUE(ReadsVerified(kId, data));
  EXPECT_EQ(TmpFiles(), 0u);
}

// BlobSync::kSoon: published (readable) at once, fsynced by SyncPending;
// a blob removed before its sync is no error; the store syncs what is
// pending as it closes.
TEST_F(BlobStoreTest, ABlobCommittedSoonIsPendingUntilSynced) {
  const std::string a = "0a" + kId.substr(2), b = "0b" + kId.substr(2), c = "0c" + kId.substr(2);
  auto write = [&](const std::string& id, const std::string& data, BlobSync sync) {
    auto w = store_->BeginWrite(id, data.size());
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append(data.data(), data.size()).ok());
    ASSERT_TRUE((*w)->Commit(Md5::Of(data), std::nullopt, sync).ok());
  };
  write(a, "now", BlobSync::kNow);
  EXPECT_EQ(store_->pending_syncs(), 0u);
  write(b, "soon", BlobSync::kSoon);
  write(c, "gone", BlobSync::kSoon);
  EXPECT_EQ(store_->pending_syncs(), 2u);
  EXPECT_EQ(store_->Stat(b)->md5, Md5::Of("soon"));
  EXPECT_EQ(dfs::testing::ReadFile(store_->BlobPath(b)), "soon");
  ASSERT_TRUE(store_->Delete(c).ok());
  EXPECT_TRUE(store_->SyncPending().ok());
  EXPECT_EQ(store_->pending_syncs(), 0u);
  EXPECT_TRUE(store_->SyncPending().ok()) << "nothing pending";
  write(c, "again", BlobSync::kSoon);
  store_->StartSyncer(std::chrono::milliseconds(10));
  EXPECT_TRUE(dfs::testing::WaitUntil([&] { return store_->pending_syncs() == 0; }, std::chrono::seconds(10)));
  write(a, "now", BlobSync::kNow);  // written again: synced at once
  Reopen(0);  // the old store stops its syncer and syncs
  EXPECT_EQ(store_->Stat(c)->md5, Md5::Of("again"));
}

// --sidecar-files: the md5 and block sums in <id>.meta and <id>.blocks; a
// store either way reads blobs written the other way (an upgrade, or a
// data folder moved between the two).
TEST_F(BlobStoreTest, SidecarFilesAndAttributesReadEachOther) {
  const std::string a = "0a" + kId.substr(2), b = "0b" + kId.substr(2);
  const std::string data_a(kBlockSize + 7, 'a'), data_b(100, 'b');
  Reopen(0, BlobStore::SumsIn::kSidecarFiles);
  ASSERT_TRUE(Write(a, data_a, Md5::Of(data_a)).ok());
  EXPECT_EQ(ShardFiles(a), (std::vector<std::string>{a, a + ".blocks", a + ".meta"}));
  EXPECT_EQ(Md5Attribute(a), "");
  EXPECT_TRUE(ReadsVerified(a, data_a));

  Reopen(0, BlobStore::SumsIn::kAttributes);
  ASSERT_TRUE(Write(b, data_b, Md5::Of(data_b)).ok());
  EXPECT_EQ(store_->Stat(a)->md5, Md5::Of(data_a));
  EXPECT_TRUE(ReadsVerified(a, data_a));
  EXPECT_EQ(store_->List()->size(), 2u);
  EXPECT_EQ(store_->GetUsage().blobs, 2u);
  // Written again (a repair) as attributes: the old sidecars go.
  ASSERT_TRUE(Write(a, data_a, Md5::Of(data_a)).ok());
  EXPECT_EQ(ShardFiles(a), std::vector<std::string>{a});
  EXPECT_TRUE(ReadsVerified(a, data_a));

  Reopen(0, BlobStore::SumsIn::kSidecarFiles);
  EXPECT_EQ(store_->Stat(b)->md5, Md5::Of(data_b));
  EXPECT_TRUE(ReadsVerified(b, data_b));
  ASSERT_TRUE(store_->Delete(a).ok());
  ASSERT_TRUE(store_->Delete(b).ok());
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path() + "/blobs/0a"));
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path() + "/blobs/0b"));
}

// A blob whose md5 attribute was lost (copied without extended attributes)
// and that has no sidecar either is not served as if it were good.
TEST_F(BlobStoreTest, ABlobThatLostItsMd5IsNotListedOrServed) {
  ASSERT_TRUE(Write(kId, "hello", Md5::Of("hello")).ok());
  ASSERT_EQ(::removexattr(store_->BlobPath(kId).c_str(), kMd5Xattr), 0);
  EXPECT_FALSE(store_->Stat(kId).ok());
  EXPECT_TRUE(store_->List()->empty());
}

TEST_F(BlobStoreTest, WriteStatReadVerifyDelete) {
  auto info = Write(kId, "hello", Md5::Of("hello"));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->size, 5u);
  auto st = store_->Stat(kId);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->md5, Md5::Of("hello"));
  EXPECT_EQ(dfs::testing::ReadFile(store_->BlobPath(kId)), "hello");
  EXPECT_EQ(*store_->ComputeMd5(kId), Md5::Of("hello"));
  EXPECT_EQ(store_->GetUsage().used, 5u);
  EXPECT_EQ(store_->GetUsage().blobs, 1u);
  ASSERT_TRUE(store_->Delete(kId).ok());
  EXPECT_EQ(store_->Stat(kId).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->Delete(kId).code(), Code::kNotFound);
  EXPECT_EQ(store_->GetUsage().used, 0u);
}

TEST_F(BlobStoreTest, WriteWithoutExpectedMd5ComputesIt) {
  auto info = Write(kId, "abc", "");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->md5, "900150983cd24fb0d6963f7d28e17f72");
}

TEST_F(BlobStoreTest, Md5MismatchKeepsNothing) {
  auto info = Write(kId, "hello", Md5::Of("other"));
  EXPECT_EQ(info.status().code(), Code::kChecksumMismatch);
  EXPECT_EQ(store_->Stat(kId).status().code(), Code::kNotFound);
  EXPECT_EQ(TmpFiles(), 0u);
  EXPECT_EQ(store_->GetUsage().used, 0u);
}

TEST_F(BlobStoreTest, AbandonedWriteKeepsNothing) {
  {
    auto w = store_->BeginWrite(kId, 100);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append("partial", 7).ok());
  }  // the writer goes away without Commit: a client that hung up
  EXPECT_EQ(store_->Stat(kId).status().code(), Code::kNotFound);
  EXPECT_EQ(TmpFiles(), 0u);
}

TEST_F(BlobStoreTest, RejectsBadIds) {
  for (const std::string& id : {std::string("../x"), std::string("0123456789ABCDEF0123456789ABCDEF"),
                                std::string("abc"), std::string(""), kId + "0", std::string(32, '/')}) {
    EXPECT_EQ(store_->BeginWrite(id, 1).status().code(), Code::kInvalidArgument) << id;
    EXPECT_EQ(store_->Stat(id).status().code(), Code::kInvalidArgument) << id;
    EXPECT_EQ(store_->Delete(id).code(), Code::kInvalidArgument) << id;
  }
}

TEST_F(BlobStoreTest, RepeatedWriteIsIdempotentButConflictIsRefused) {
  ASSERT_TRUE(Write(kId, "same", Md5::Of("same")).ok());
  EXPECT_TRUE(Write(kId, "same", Md5::Of("same")).ok());
  EXPECT_EQ(store_->GetUsage().blobs, 1u);
  EXPECT_EQ(Write(kId, "different", "").status().code(), Code::kAlreadyExists);
  EXPECT_EQ(dfs::testing::ReadFile(store_->BlobPath(kId)), "same");
}

TEST_F(BlobStoreTest, CapacityIsEnforced) {
  Reopen(10);
  EXPECT_EQ(store_->BeginWrite(kId, 11).status().code(), Code::kNoSpace) << "refused up front";
  auto w = store_->BeginWrite(kId, std::nullopt);  // length unknown: refused while writing
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE((*w)->Append("12345678", 8).ok());
  EXPECT_EQ((*w)->Append("12345678", 8).code(), Code::kNoSpace);
  EXPECT_EQ(store_->GetUsage().capacity, 10u);
}

TEST_F(BlobStoreTest, ARefusalMidStreamComesAtTheLimitNotBefore) {
  Reopen(64 * 1024);
  const std::string piece(4096, 'p');
  auto w = store_->BeginWrite(kId, std::nullopt);
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 16; ++i) ASSERT_TRUE((*w)->Append(piece.data(), piece.size()).ok()) << "piece " << i;
  EXPECT_EQ((*w)->Append(piece.data(), piece.size()).code(), Code::kNoSpace);
  EXPECT_EQ((*w)->bytes_written(), 64u * 1024);
}

// Free space is measured when a write begins and once per
// kFreeSpaceRecheckBytes, not for every piece of the body.
TEST_F(BlobStoreTest, FreeSpaceIsNotMeasuredPerPiece) {
  const std::string piece(4096, 'p');
  const uint64_t before = store_->free_space_checks();
  auto w = store_->BeginWrite(kId, std::nullopt);
  ASSERT_TRUE(w.ok());
  constexpr uint64_t kPieces = 4096;  // 16 MiB
  for (uint64_t i = 0; i < kPieces; ++i) ASSERT_TRUE((*w)->Append(piece.data(), piece.size()).ok());
  const uint64_t checks = store_->free_space_checks() - before;
  EXPECT_LE(checks, 1 + kPieces * piece.size() / BlobWriter::kFreeSpaceRecheckBytes) << checks << " measures";
}

TEST_F(BlobStoreTest, ReopenFindsBlobsAndCleansTmp) {
  ASSERT_TRUE(Write(kId, "persist", "").ok());
  dfs::testing::WriteFile(dir_.path() + "/tmp/leftover", "junk");
  Reopen(0);
  EXPECT_TRUE(store_->Stat(kId).ok());
  EXPECT_EQ(store_->GetUsage().used, 7u);
  EXPECT_EQ(TmpFiles(), 0u);
  EXPECT_EQ(store_->List()->size(), 1u);
}

TEST_F(BlobStoreTest, NodeIdIsStable) {
  auto a = LoadOrCreateNodeId(dir_.path());
  auto b = LoadOrCreateNodeId(dir_.path());
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->size(), 16u);
}

}  // namespace
}  // namespace dfs::storage
