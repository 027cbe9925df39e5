// Block checksums: written while a blob streams in, checked block by block
// on reads (storage/block_sums.h, storage/verified_reader.h, BlobStore).
#include "storage/block_sums.h"

#include <fcntl.h>

#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "storage/blob_store.h"
#include "storage/scrubber.h"
#include "storage/verified_reader.h"
#include "tests/support/process.h"
#include "tests/support/storage_node.h"

namespace dfs::storage {
namespace {

const std::string kId = "0123456789abcdef0123456789abcdef";

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Writes `data` through a BlockSumsWriter in pieces of `piece` bytes.
std::string WriteSums(const std::string& path, const std::string& data, size_t piece, uint32_t block_size) {
  auto w = BlockSumsWriter::Create(path, block_size);
  EXPECT_TRUE(w.ok());
  for (size_t off = 0; off < data.size(); off += piece) {
    EXPECT_TRUE(w->Append(data.data() + off, std::min(piece, data.size() - off)).ok());
  }
  EXPECT_TRUE(w->Write().ok());
  EXPECT_EQ(w->whole_crc(), Crc32::Of(data)) << "the blocks' CRCs combine into the whole body's";
  EXPECT_TRUE(w->SyncAndClose().ok());
  return dfs::testing::ReadFile(path);
}

TEST(BlockSums, StreamedInAnyPiecesMatchesTheWholeEncoding) {
  dfs::testing::TempDir dir;
  for (size_t size : {size_t{0}, size_t{1}, size_t{4095}, size_t{4096}, size_t{4097}, size_t{3 * 4096 + 7}}) {
    std::string data = RandomBytes(size, static_cast<unsigned>(size));
    for (size_t piece : {size_t{1}, size_t{1000}, size_t{4096}, size_t{10000}}) {
      EXPECT_EQ(WriteSums(dir.path() + "/s", data, piece, 4096), EncodeBlockSums(data, 4096))
          << size << " in pieces of " << piece;
    }
    auto sums = BlockSums::Open(dir.path() + "/s", size);
    ASSERT_TRUE(sums.ok()) << sums.status().ToString();
    EXPECT_EQ(sums->block_size(), 4096u);
    EXPECT_EQ(sums->block_count(), (size + 4095) / 4096);
    for (uint64_t i = 0; i < sums->block_count(); ++i) {
      std::string block = data.substr(i * 4096, 4096);
      EXPECT_TRUE(*sums->Verify(i, block.data(), block.size()));
      block[block.size() / 2] ^= 1;
      EXPECT_FALSE(*sums->Verify(i, block.data(), block.size()));
    }
  }
}

// Nodes wrote md5 block sums ("dfsblk1 ") before CRC-32 ones: their
// sidecars are still read and checked, and a bad block still fails.
TEST(BlockSums, VersionOneMd5SidecarsStillVerify) {
  dfs::testing::TempDir dir;
  const std::string data = RandomBytes(3 * 4096 + 100, 5);
  std::string v1 = "dfsblk1 00001000";
  for (size_t off = 0; off < data.size(); off += 4096) v1 += Md5::Of(std::string_view(data).substr(off, 4096));
  dfs::testing::WriteFile(dir.path() + "/s", v1);
  auto sums = BlockSums::Open(dir.path() + "/s", data.size());
  ASSERT_TRUE(sums.ok()) << sums.status().ToString();
  ASSERT_EQ(sums->block_count(), 4u);
  for (uint64_t i = 0; i < 4; ++i) {
    std::string block = data.substr(i * 4096, 4096);
    EXPECT_TRUE(*sums->Verify(i, block.data(), block.size())) << i;
    block[0] ^= 0x40;
    EXPECT_FALSE(*sums->Verify(i, block.data(), block.size())) << i;
  }
  // A version-2 sidecar is 8 hex digits a block: a v1 file's length would not fit it.
  EXPECT_EQ(EncodeBlockSums(data, 4096).size(), 16u + 4 * 8);
  EXPECT_EQ(EncodeBlockSums(data, 4096).substr(0, 8), "dfsblk2 ");
}

TEST(BlockSums, MissingOrNotFittingSidecarIsSaidSo) {
  dfs::testing::TempDir dir;
  EXPECT_EQ(BlockSums::Open(dir.path() + "/none", 10).status().code(), Code::kNotFound);
  dfs::testing::WriteFile(dir.path() + "/s", EncodeBlockSums(std::string(10000, 'x'), 4096));
  EXPECT_TRUE(BlockSums::Open(dir.path() + "/s", 10000).ok());
  // A blob cut short or grown no longer fits its sums.
  EXPECT_EQ(BlockSums::Open(dir.path() + "/s", 4096).status().code(), Code::kChecksumMismatch);
  EXPECT_EQ(BlockSums::Open(dir.path() + "/s", 20000).status().code(), Code::kChecksumMismatch);
  dfs::testing::WriteFile(dir.path() + "/bad", "garbage garbage garbage");
  EXPECT_EQ(BlockSums::Open(dir.path() + "/bad", 10).status().code(), Code::kChecksumMismatch);
}

class VerifiedStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = BlobStore::Open(dir_.path(), 0);
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
  }
  void Write(const std::string& data) {
    auto w = store_->BeginWrite(kId, data.size());
    ASSERT_TRUE(w.ok());
    // Uneven pieces, as an HTTP body arrives.
    for (size_t off = 0; off < data.size(); off += 100000) {
      ASSERT_TRUE((*w)->Append(data.data() + off, std::min<size_t>(100000, data.size() - off)).ok());
    }
    ASSERT_TRUE((*w)->Commit(Md5::Of(data)).ok());
  }
  VerifiedReader Reader(uint64_t size) {
    auto sums = store_->OpenBlockSums(kId, size);
    std::optional<BlockSums> s;
    if (sums.ok()) s = std::move(*sums);
    return VerifiedReader(std::move(*store_->OpenForRead(kId)), size, std::move(s));
  }
  // All of [offset, offset+length) through the reader, or its error.
  Result<std::string> ReadRange(VerifiedReader& r, uint64_t offset, uint64_t length) {
    std::string out;
    while (out.size() < length) {
      auto bytes = r.Read(offset + out.size(), length - out.size());
      if (!bytes.ok()) return bytes.status();
      if (bytes->empty()) break;
      out.append(*bytes);
    }
    return out;
  }
  void FlipByte(uint64_t at) {
    std::string blob = dfs::testing::ReadFile(store_->BlobPath(kId));
    blob[at] ^= 0x5a;
    dfs::testing::WriteFile(store_->BlobPath(kId), blob);
  }
  dfs::testing::TempDir dir_;
  std::unique_ptr<BlobStore> store_;
};

TEST_F(VerifiedStoreTest, CommitWritesBlockSumsAndReadsCheckThem) {
  const std::string data = RandomBytes(3 * kBlockSize + 12345, 1);
  Write(data);
  EXPECT_EQ(dfs::testing::BlockSumsOf(store_->BlobPath(kId)), EncodeBlockSums(data));
  auto r = Reader(data.size());
  EXPECT_TRUE(r.verified());
  EXPECT_EQ(*ReadRange(r, 0, data.size()), data);
  EXPECT_EQ(*ReadRange(r, kBlockSize - 10, 20), data.substr(kBlockSize - 10, 20));
  EXPECT_EQ(*ReadRange(r, data.size() - 5, 5), data.substr(data.size() - 5));
  // Never past the end of a block in one piece.
  EXPECT_EQ(r.Read(10, data.size())->size(), kBlockSize - 10);
}

TEST_F(VerifiedStoreTest, ABadByteStopsTheReadAtItsBlockAndNotBefore) {
  const std::string data = RandomBytes(3 * kBlockSize, 2);
  Write(data);
  FlipByte(kBlockSize + kBlockSize / 2);
  auto r = Reader(data.size());
  // Block 0 is fine; block 1 is refused as a whole, even a range far from the bad byte.
  EXPECT_EQ(*ReadRange(r, 0, kBlockSize), data.substr(0, kBlockSize));
  EXPECT_EQ(r.Read(kBlockSize, 10).status().code(), Code::kChecksumMismatch);
  EXPECT_EQ(r.Read(kBlockSize + 1, 1).status().code(), Code::kChecksumMismatch);
  EXPECT_EQ(*ReadRange(r, 2 * kBlockSize, kBlockSize), data.substr(2 * kBlockSize));
}

TEST_F(VerifiedStoreTest, BlobWithoutSidecarIsReadUnverified) {
  const std::string data = RandomBytes(kBlockSize + 7, 3);
  Write(data);
  dfs::testing::RemoveBlockSums(store_->BlobPath(kId));  // as written before block sums existed
  EXPECT_EQ(store_->OpenBlockSums(kId, data.size()).status().code(), Code::kNotFound);
  auto r = Reader(data.size());
  EXPECT_FALSE(r.verified());
  EXPECT_EQ(*ReadRange(r, 0, data.size()), data);
  EXPECT_TRUE(store_->Stat(kId).ok());
  EXPECT_EQ(store_->List()->size(), 1u);
}

TEST_F(VerifiedStoreTest, QuarantineTakesTheCopyOutOfServiceUnlessRepairedMeanwhile) {
  const std::string data = RandomBytes(2 * kBlockSize, 4);
  Write(data);
  auto fd = store_->OpenForRead(kId);
  ASSERT_TRUE(fd.ok());
  // A repair rewrote the blob after this read opened it: nothing to move.
  Write(data);
  EXPECT_FALSE(*store_->Quarantine(kId, fd->get()));
  EXPECT_TRUE(store_->Stat(kId).ok());

  auto again = store_->OpenForRead(kId);
  ASSERT_TRUE(*store_->Quarantine(kId, again->get()));
  EXPECT_EQ(store_->Stat(kId).status().code(), Code::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(store_->MetaPath(kId)));
  EXPECT_FALSE(std::filesystem::exists(store_->BlocksPath(kId)));
  EXPECT_EQ(store_->GetUsage().blobs, 0u);
  EXPECT_EQ(store_->GetUsage().used, 0u);
  EXPECT_TRUE(store_->List()->empty());
  size_t kept = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir_.path() + "/quarantine")) ++kept;
  EXPECT_EQ(kept, 1u) << "the blob (its md5 and block sums with it) kept for a look";
  // The repair writes it anew.
  Write(data);
  EXPECT_EQ(dfs::testing::ReadFile(store_->BlobPath(kId)), data);
  EXPECT_EQ(dfs::testing::BlockSumsOf(store_->BlobPath(kId)), EncodeBlockSums(data));
}

TEST_F(VerifiedStoreTest, QuarantinedCopiesAreRemovedOnceOldEnough) {
  const std::string data = RandomBytes(kBlockSize, 6);
  Write(data);
  auto fd = store_->OpenForRead(kId);
  ASSERT_TRUE(*store_->Quarantine(kId, fd->get()));
  const std::string dir = dir_.path() + "/quarantine";
  EXPECT_EQ(*store_->PruneQuarantine(std::chrono::hours(1)), 0u) << "just moved: kept";
  // Moved there two hours ago (as the mtime says).
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::filesystem::last_write_time(e.path(), std::filesystem::file_time_type::clock::now() - std::chrono::hours(2));
  }
  Write(data);  // repaired, then corrupt again: a second, fresh quarantine entry
  auto again = store_->OpenForRead(kId);
  ASSERT_TRUE(*store_->Quarantine(kId, again->get()));
  EXPECT_EQ(*store_->PruneQuarantine(std::chrono::hours(1)), 1u) << "the old blob";
  size_t left = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir)) ++left;
  EXPECT_EQ(left, 1u) << "the fresh entry stays";
  // And a scrub pass prunes by itself.
  metrics::Registry metrics;
  Scrubber scrubber(*store_, nullptr, "n", ScrubberOptions{0, std::chrono::milliseconds(1000), std::chrono::seconds(0)},
                    metrics);
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::filesystem::last_write_time(e.path(), std::filesystem::file_time_type::clock::now() - std::chrono::seconds(5));
  }
  scrubber.RunPass();
  EXPECT_TRUE(std::filesystem::is_empty(dir));
}

TEST_F(VerifiedStoreTest, TheScrubberGivesAGoodBlobWithoutSidecarItsBlockSums) {
  const std::string data = RandomBytes(2 * kBlockSize + 3, 5);
  Write(data);
  dfs::testing::RemoveBlockSums(store_->BlobPath(kId));
  metrics::Registry metrics;
  Scrubber scrubber(*store_, nullptr, "n", ScrubberOptions{0, std::chrono::milliseconds(1000)}, metrics);
  auto pass = scrubber.RunPass();
  EXPECT_EQ(pass.blobs, 1u);
  EXPECT_EQ(pass.corrupt, 0u);
  EXPECT_EQ(dfs::testing::BlockSumsOf(store_->BlobPath(kId)), EncodeBlockSums(data));
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path() + "/tmp"));
  // A corrupt one gets none (it would vouch for bad bytes).
  dfs::testing::RemoveBlockSums(store_->BlobPath(kId));
  FlipByte(5);
  pass = scrubber.RunPass();
  EXPECT_EQ(pass.corrupt, 1u);
  EXPECT_EQ(dfs::testing::BlockSumsOf(store_->BlobPath(kId)), "");
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path() + "/tmp"));
}

TEST_F(VerifiedStoreTest, FailedOrAbandonedWritesLeaveNoSidecar) {
  {
    auto w = store_->BeginWrite(kId, 10);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append("0123456789", 10).ok());
    EXPECT_EQ((*w)->Commit(Md5::Of("other")).status().code(), Code::kChecksumMismatch);
  }
  { auto w = store_->BeginWrite(kId, 10); }
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path() + "/tmp"));
  EXPECT_FALSE(std::filesystem::exists(store_->BlocksPath(kId)));
}

}  // namespace
}  // namespace dfs::storage
