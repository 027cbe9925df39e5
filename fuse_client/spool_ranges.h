// Byte-range bookkeeping of a file being written through the mount
// (docs/chunks.md, "The mount's write path"): RangeSet is a set of
// half-open byte ranges kept sorted, disjoint and merged (adjacent or
// overlapping ranges become one), used for the bytes a spool holds right
// (present) and the bytes not uploaded yet (dirty). ChunkLayout says where
// the master's chunks of a file start, so an upload can be cut into range
// writes that each stay within one chunk (docs/protocol.md, "range write").
// Pure data: no I/O, no locking (the OpenFile's mutex guards them).
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace dfs::fuse_client {

struct ByteRange {
  uint64_t lo = 0;
  uint64_t hi = 0;  // exclusive
  bool operator==(const ByteRange& o) const { return lo == o.lo && hi == o.hi; }
};

class RangeSet {
 public:
  // Adds [lo, hi), merging with what touches it; empty ranges are ignored.
  void Add(uint64_t lo, uint64_t hi);
  // Takes [lo, hi) out.
  void Remove(uint64_t lo, uint64_t hi);
  // Forgets everything at or past `size` (a truncate).
  void CutAt(uint64_t size);
  void Clear() { ranges_.clear(); }
  bool empty() const { return ranges_.empty(); }
  // Whether [lo, hi) is wholly in the set (an empty range always is).
  bool Covers(uint64_t lo, uint64_t hi) const;
  // The parts of [lo, hi) not in the set, in order.
  std::vector<ByteRange> Missing(uint64_t lo, uint64_t hi) const;
  std::vector<ByteRange> ranges() const;
  uint64_t bytes() const;

 private:
  std::map<uint64_t, uint64_t> ranges_;  // lo -> hi, disjoint and not touching
};

// Where a file's chunks start: the fixed starts of its chunks as the master
// listed them, then, from the end of the last one, one every `chunk_size`
// bytes (a range write at the end of a file is a new chunk of its own:
// exactly how the master places range writes past the end; an empty file's
// one empty chunk is where the first bytes go).
class ChunkLayout {
 public:
  ChunkLayout() = default;
  // starts: each chunk's offset, the first 0 (empty: a file of no chunks yet).
  ChunkLayout(std::vector<uint64_t> starts, uint64_t last_size, uint64_t chunk_size);
  // The layout of a file uploaded whole: chunks of chunk_size from 0.
  static ChunkLayout Uniform(uint64_t chunk_size) { return ChunkLayout({0}, 0, chunk_size); }
  // The chunk holding byte `offset`: [start, end).
  ByteRange ChunkOf(uint64_t offset) const;
  uint64_t chunk_size() const { return chunk_size_; }

 private:
  std::vector<uint64_t> starts_{0};
  uint64_t tail_ = 0;  // where chunks of chunk_size_ begin (the end of the listed last chunk)
  uint64_t chunk_size_ = uint64_t{64} << 20;
};

// One range write of an upload: bytes [lo, hi) of the spool, all within one chunk.
struct RangeWrite {
  ByteRange bytes;
  ByteRange chunk;  // the chunk it lands in
};

// The range writes that send `dirty`: the dirty bytes of each chunk as one
// write spanning from the first to the last of them (one rebuild of the
// chunk on the master instead of one per range), in file order.
std::vector<RangeWrite> PlanRangeWrites(const RangeSet& dirty, const ChunkLayout& layout);

}  // namespace dfs::fuse_client
