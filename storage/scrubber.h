// Scrubber: re-reads every blob of the node at a bounded rate, checks its
// md5 against the one recorded when it was written, and reports a bad copy
// to the master (POST /api/v1/blobs/<id>/bad), which has it rewritten from a
// good copy. One pass, then a pause, forever. Progress goes to metrics.
// A blob without block sums (written before they existed) that passes gets
// them, computed in the same read.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/master_set.h"
#include "common/metrics.h"
#include "storage/blob_store.h"

namespace dfs::storage {

struct ScrubberOptions {
  uint64_t bytes_per_second = 8ull << 20;
  std::chrono::milliseconds pause{3600 * 1000};  // between passes (and before the first)
  // Corrupt copies stay in DATA/quarantine this long (for a look), then each
  // pass removes them.
  std::chrono::seconds quarantine_keep{7 * 24 * 3600};
};

class Scrubber {
 public:
  // `masters` may be null: corrupt blobs are then only logged and counted.
  Scrubber(BlobStore& store, std::shared_ptr<const MasterSet> masters, std::string node_id, ScrubberOptions options,
           metrics::Registry& metrics);
  ~Scrubber();  // stops the thread
  void Start();
  void Stop();

  struct PassResult {
    uint64_t blobs = 0, bytes = 0, corrupt = 0;
  };
  // One whole pass (the loop's body; public for tests). Stops early when stopping.
  PassResult RunPass();

 private:
  void Loop();
  // False when the blob's bytes do not match its recorded md5.
  Result<bool> Check(const BlobInfo& blob, PassResult* pass);
  void Report(const std::string& blob_id);
  bool Wait(std::chrono::nanoseconds d);  // false when stopping

  BlobStore& store_;
  std::shared_ptr<const MasterSet> masters_;
  std::string node_id_;
  ScrubberOptions options_;
  metrics::Registry& metrics_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace dfs::storage
