#include "fuse_client/spool_ranges.h"

#include <algorithm>

namespace dfs::fuse_client {

// ---- RangeSet -------------------------------------------------------------------

void RangeSet::Add(uint64_t lo, uint64_t hi) {
  if (lo >= hi) return;
  auto it = ranges_.upper_bound(lo);
  if (it != ranges_.begin() && std::prev(it)->second >= lo) --it;  // the one before touches it
  while (it != ranges_.end() && it->first <= hi) {
    lo = std::min(lo, it->first);
    hi = std::max(hi, it->second);
    it = ranges_.erase(it);
  }
  ranges_.emplace(lo, hi);
}

void RangeSet::Remove(uint64_t lo, uint64_t hi) {
  if (lo >= hi) return;
  auto it = ranges_.upper_bound(lo);
  if (it != ranges_.begin()) --it;
  std::vector<ByteRange> keep;
  while (it != ranges_.end() && it->first < hi) {
    if (it->second <= lo) {
      ++it;
      continue;
    }
    if (it->first < lo) keep.push_back({it->first, lo});
    if (it->second > hi) keep.push_back({hi, it->second});
    it = ranges_.erase(it);
  }
  for (const ByteRange& r : keep) ranges_.emplace(r.lo, r.hi);
}

void RangeSet::CutAt(uint64_t size) { Remove(size, UINT64_MAX); }

bool RangeSet::Covers(uint64_t lo, uint64_t hi) const { return Missing(lo, hi).empty(); }

std::vector<ByteRange> RangeSet::Missing(uint64_t lo, uint64_t hi) const {
  std::vector<ByteRange> out;
  if (lo >= hi) return out;
  auto it = ranges_.upper_bound(lo);
  if (it != ranges_.begin()) --it;
  uint64_t at = lo;
  for (; it != ranges_.end() && it->first < hi && at < hi; ++it) {
    if (it->second <= at) continue;
    if (it->first > at) out.push_back({at, it->first});
    at = std::max(at, it->second);
  }
  if (at < hi) out.push_back({at, hi});
  return out;
}

std::vector<ByteRange> RangeSet::ranges() const {
  std::vector<ByteRange> out;
  for (const auto& [lo, hi] : ranges_) out.push_back({lo, hi});
  return out;
}

uint64_t RangeSet::bytes() const {
  uint64_t n = 0;
  for (const auto& [lo, hi] : ranges_) n += hi - lo;
  return n;
}

// ---- ChunkLayout ----------------------------------------------------------------

ChunkLayout::ChunkLayout(std::vector<uint64_t> starts, uint64_t last_size, uint64_t chunk_size)
    : starts_(std::move(starts)), chunk_size_(std::max<uint64_t>(chunk_size, 1)) {
  if (starts_.empty()) starts_.push_back(0);
  tail_ = starts_.back() + last_size;  // an append starts a new chunk (an empty file: its one chunk)
}

ByteRange ChunkLayout::ChunkOf(uint64_t offset) const {
  if (offset >= tail_) {
    const uint64_t start = tail_ + (offset - tail_) / chunk_size_ * chunk_size_;
    return {start, start + chunk_size_};
  }
  auto after = std::upper_bound(starts_.begin(), starts_.end(), offset);
  const uint64_t start = *std::prev(after);
  return {start, after == starts_.end() ? tail_ : *after};
}

std::vector<RangeWrite> PlanRangeWrites(const RangeSet& dirty, const ChunkLayout& layout) {
  std::vector<RangeWrite> out;
  for (const ByteRange& r : dirty.ranges()) {
    for (uint64_t at = r.lo; at < r.hi;) {
      const ByteRange chunk = layout.ChunkOf(at);
      const uint64_t end = std::min(r.hi, chunk.hi);
      if (!out.empty() && out.back().chunk == chunk) {
        out.back().bytes.hi = end;  // another dirty range of the same chunk: one write spans both
      } else {
        out.push_back({{at, end}, chunk});
      }
      at = end;
    }
  }
  return out;
}

}  // namespace dfs::fuse_client
