#include "storage/scrubber.h"

#include <unistd.h>

#include <optional>
#include <vector>

#include "common/log.h"
#include "common/md5.h"
#include "storage/bad_copy_report.h"

namespace dfs::storage {

namespace {
constexpr size_t kChunk = 256 * 1024;
}

Scrubber::Scrubber(BlobStore& store, std::shared_ptr<const MasterSet> masters, std::string node_id,
                   ScrubberOptions options, metrics::Registry& metrics)
    : store_(store), masters_(std::move(masters)), node_id_(std::move(node_id)), options_(options), metrics_(metrics) {}

Scrubber::~Scrubber() { Stop(); }

void Scrubber::Start() { thread_ = std::thread([this] { Loop(); }); }

void Scrubber::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Scrubber::Wait(std::chrono::nanoseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopping_; });
}

void Scrubber::Loop() {
  while (Wait(options_.pause)) {
    auto started = std::chrono::steady_clock::now();
    PassResult pass = RunPass();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    DFS_LOG(INFO, "storage") << "scrub pass node=" << node_id_ << " blobs=" << pass.blobs << " bytes=" << pass.bytes
                             << " corrupt=" << pass.corrupt << " seconds=" << seconds;
  }
}

Scrubber::PassResult Scrubber::RunPass() {
  PassResult pass;
  auto pruned = store_.PruneQuarantine(options_.quarantine_keep);
  if (!pruned.ok()) {
    DFS_LOG(WARN, "storage") << "scrub: " << pruned.status().ToString();
  } else if (*pruned > 0) {
    DFS_LOG(INFO, "storage") << "scrub: removed " << *pruned << " quarantined file(s) node=" << node_id_;
  }
  auto blobs = store_.List();
  if (!blobs.ok()) {
    DFS_LOG(WARN, "storage") << "scrub: " << blobs.status().ToString();
    return pass;
  }
  for (const auto& blob : *blobs) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return pass;
    }
    auto good = Check(blob, &pass);
    if (!good.ok()) {
      // Deleted meanwhile, or stopping: nothing to say.
      if (good.status().code() != Code::kNotFound && good.status().code() != Code::kUnavailable) {
        DFS_LOG(WARN, "storage") << "scrub blob=" << blob.blob_id << ": " << good.status().ToString();
      }
      continue;
    }
    ++pass.blobs;
    metrics_.GetCounter("dfs_scrub_blobs_total", "blobs re-read and checked by the scrubber").Add();
    if (!*good) {
      ++pass.corrupt;
      metrics_.GetCounter("dfs_scrub_corrupt_total", "blobs the scrubber found corrupt").Add();
      DFS_LOG(ERROR, "storage") << "scrub: corrupt blob=" << blob.blob_id << " node=" << node_id_
                                << " (md5 differs from the one recorded at write)";
      Report(blob.blob_id);
    }
  }
  metrics_.GetCounter("dfs_scrub_passes_total", "complete scrub passes").Add();
  metrics_.GetGauge("dfs_scrub_last_pass_end_seconds", "when the last complete scrub pass ended (epoch seconds)")
      .Set(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  return pass;
}

Result<bool> Scrubber::Check(const BlobInfo& blob, PassResult* pass) {
  auto fd = store_.OpenForRead(blob.blob_id);
  if (!fd.ok()) return fd.status();
  // A blob with no block sums gets them from this very read if it passes.
  std::optional<BlockSumsWriter> sums;
  std::string sums_tmp;
  if (store_.OpenBlockSums(blob.blob_id, blob.size).status().code() == Code::kNotFound) {
    sums_tmp = store_.TmpPath(blob.blob_id) + ".blocks";
    if (auto w = BlockSumsWriter::Create(sums_tmp); w.ok()) sums.emplace(std::move(*w));
  }
  struct RemoveTmp {
    const std::string& path;
    ~RemoveTmp() {
      if (!path.empty()) ::unlink(path.c_str());
    }
  } remove_tmp{sums_tmp};
  Md5 md5;
  std::vector<char> buf(kChunk);
  auto& bytes_counter = metrics_.GetCounter("dfs_scrub_bytes_total", "bytes re-read by the scrubber");
  const auto per_chunk = std::chrono::nanoseconds(
      options_.bytes_per_second == 0 ? 0 : static_cast<int64_t>(1e9 * kChunk / options_.bytes_per_second));
  for (;;) {
    auto started = std::chrono::steady_clock::now();
    ssize_t n = ::read(fd->get(), buf.data(), buf.size());
    if (n < 0) return Status::IOError("read blob " + blob.blob_id);
    if (n == 0) break;
    md5.Update(buf.data(), static_cast<size_t>(n));
    if (sums && !sums->Append(buf.data(), static_cast<size_t>(n)).ok()) sums.reset();
    pass->bytes += static_cast<uint64_t>(n);
    bytes_counter.Add(static_cast<double>(n));
    // Rate limit: each full chunk takes at least per_chunk.
    auto spent = std::chrono::steady_clock::now() - started;
    if (per_chunk > spent && !Wait(per_chunk - spent)) return Status::Unavailable("stopping");
  }
  if (md5.HexDigest() != blob.md5) return false;
  if (sums && sums->Finish().ok()) {
    auto adopted = store_.AdoptBlockSums(blob.blob_id, sums_tmp, fd->get());
    if (adopted.ok() && *adopted) DFS_LOG(INFO, "storage") << "scrub: block sums written for blob=" << blob.blob_id;
  }
  return true;
}

void Scrubber::Report(const std::string& blob_id) {
  if (!masters_) return;
  Status st = ReportBadCopy(*masters_, node_id_, blob_id);
  if (!st.ok()) DFS_LOG(WARN, "storage") << "scrub: report blob=" << blob_id << " to master: " << st.ToString();
}

}  // namespace dfs::storage
