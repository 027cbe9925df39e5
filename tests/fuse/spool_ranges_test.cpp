// Unit tests of the mount's write-path bookkeeping (fuse_client/spool_ranges.h):
// merging ranges, what is missing, truncation, and cutting uploads at chunk edges.
#include "fuse_client/spool_ranges.h"

#include <gtest/gtest.h>

namespace dfs::fuse_client {
namespace {

TEST(RangeSetTest, MergesTouchingAndOverlappingRanges) {
  RangeSet s;
  s.Add(10, 20);
  s.Add(30, 40);
  s.Add(20, 25);  // touches the first
  EXPECT_EQ(s.ranges(), (std::vector<ByteRange>{{10, 25}, {30, 40}}));
  s.Add(5, 35);  // swallows both
  EXPECT_EQ(s.ranges(), (std::vector<ByteRange>{{5, 40}}));
  s.Add(7, 7);  // empty: ignored
  EXPECT_EQ(s.bytes(), 35u);
}

TEST(RangeSetTest, MissingAndCovers) {
  RangeSet s;
  s.Add(10, 20);
  s.Add(30, 40);
  EXPECT_EQ(s.Missing(0, 50), (std::vector<ByteRange>{{0, 10}, {20, 30}, {40, 50}}));
  EXPECT_EQ(s.Missing(12, 35), (std::vector<ByteRange>{{20, 30}}));
  EXPECT_TRUE(s.Covers(31, 40));
  EXPECT_FALSE(s.Covers(19, 21));
  EXPECT_TRUE(s.Covers(5, 5));
}

TEST(RangeSetTest, CutAtDropsAndTrims) {
  RangeSet s;
  s.Add(0, 10);
  s.Add(20, 30);
  s.Add(40, 50);
  s.CutAt(25);
  EXPECT_EQ(s.ranges(), (std::vector<ByteRange>{{0, 10}, {20, 25}}));
  s.CutAt(20);
  EXPECT_EQ(s.ranges(), (std::vector<ByteRange>{{0, 10}}));
}

TEST(RangeSetTest, RemoveSplits) {
  RangeSet s;
  s.Add(0, 100);
  s.Remove(10, 20);
  s.Remove(90, 200);
  EXPECT_EQ(s.ranges(), (std::vector<ByteRange>{{0, 10}, {20, 90}}));
  s.Remove(0, 90);
  EXPECT_TRUE(s.empty());
}

TEST(ChunkLayoutTest, ListedChunksThenUniformFromTheEnd) {
  // Chunks at 0, 100, 200 (the last 50 bytes long), chunk size 100.
  ChunkLayout layout({0, 100, 200}, 50, 100);
  EXPECT_EQ(layout.ChunkOf(0), (ByteRange{0, 100}));
  EXPECT_EQ(layout.ChunkOf(150), (ByteRange{100, 200}));
  EXPECT_EQ(layout.ChunkOf(249), (ByteRange{200, 250}));  // the last ends where the file does
  EXPECT_EQ(layout.ChunkOf(250), (ByteRange{250, 350}));  // an append is a chunk of its own
  EXPECT_EQ(layout.ChunkOf(999), (ByteRange{950, 1050}));
  ChunkLayout big({0}, 250, 100);  // a last chunk larger than the chunk size keeps its size
  EXPECT_EQ(big.ChunkOf(240), (ByteRange{0, 250}));
  EXPECT_EQ(big.ChunkOf(250), (ByteRange{250, 350}));
  ChunkLayout empty({0}, 0, 100);  // an empty file: its one chunk takes the first bytes
  EXPECT_EQ(empty.ChunkOf(0), (ByteRange{0, 100}));
  EXPECT_EQ(empty.ChunkOf(150), (ByteRange{100, 200}));
}

TEST(PlanRangeWritesTest, OneWritePerChunkInFileOrder) {
  RangeSet dirty;
  dirty.Add(10, 20);
  dirty.Add(50, 60);    // same chunk as the first: one write spans both
  dirty.Add(90, 130);   // crosses into the second chunk
  dirty.Add(250, 420);  // appended past the end, over three chunks
  auto plan = PlanRangeWrites(dirty, ChunkLayout({0, 100}, 100, 100));
  ASSERT_EQ(plan.size(), 5u);
  EXPECT_EQ(plan[0].bytes, (ByteRange{10, 100}));
  EXPECT_EQ(plan[1].bytes, (ByteRange{100, 130}));
  EXPECT_EQ(plan[2].bytes, (ByteRange{250, 300}));
  EXPECT_EQ(plan[3].bytes, (ByteRange{300, 400}));
  EXPECT_EQ(plan[4].bytes, (ByteRange{400, 420}));
  EXPECT_EQ(plan[4].chunk, (ByteRange{400, 500}));
}

}  // namespace
}  // namespace dfs::fuse_client
