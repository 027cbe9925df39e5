// A FileRecord for benchmarks that fill the metadata store directly: a 4 KiB
// file at `path` whose one chunk is blob `blob_id` on node n1.
#pragma once

#include <string>

#include "master/metadata_store.h"

namespace dfs::bench {

inline master::FileRecord FakeFile(const std::string& path, const std::string& blob_id, int want_copies) {
  master::FileRecord f;
  f.path = path;
  f.size = 4096;
  f.md5 = "0123456789abcdef0123456789abcdef";
  f.mtime = master::NowSeconds();
  f.chunks = {master::ChunkRecord{0, 0, f.size, f.md5, blob_id, "n1"}};
  f.want_copies = want_copies;
  return f;
}

}  // namespace dfs::bench
