// FileService: what the master does for a request, independent of HTTP:
// placing and committing uploads, reading with replica fallback, deleting,
// listing, node membership. HttpApi (routing) and later front doors are thin
// adapters over it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "master/chunked_upload.h"
#include "master/metadata_store.h"
#include "master/node_client.h"
#include "master/placement_policy.h"
#include "master/spool_file.h"

namespace dfs::master {

struct FileServiceOptions {
  std::string spool_dir;
  int replicas = 2;  // extra copies per file by default
  // A node down this long no longer counts as holding its copies.
  std::chrono::milliseconds node_dead{60000};
  // Called after a replication job was added to the outbox (wakes the publisher).
  std::function<void()> on_jobs_queued;
  double handle_lease_s = 60;  // of handles a PUT with ?open=1 opens
  uint64_t chunk_size = uint64_t{64} << 20;  // a file's content is stored in chunks of at most this
  // A file unchanged this long has its pending md5 settled and its small
  // chunks (appends) merged in the background.
  std::chrono::milliseconds settle_after{1000};
  std::chrono::milliseconds compact_after{5000};
  ClientTimeouts node_timeouts{std::chrono::milliseconds(2000), std::chrono::milliseconds(15000),
                               std::chrono::milliseconds(15000)};
};

struct PutRequest {
  std::string path;
  ConflictMode conflict = ConflictMode::kRename;
  std::string client_md5;  // empty: not checked
  int replicas = -1;       // -1: cluster default
  std::string request_id;
  std::string idempotency_key;  // empty: none
  std::optional<Credentials> who;  // the caller (nullopt: not checked, new files belong to root)
  int mode = 0644;                 // a new file's permission bits
  // Set: the content of the file open as this handle, wherever it now is
  // (renamed or nameless); path only names it in logs and answers.
  std::string handle;
  bool open = false;  // ?open=1: also open a handle on the stored file (PutResult::handle)
  // ?sync=0: the chunks reach their nodes' disks within a second (SyncNodes
  // makes it now), as the commit reaches the master's (RelaxedCommits).
  NodeSync sync = NodeSync::kNow;
};

struct PutResult {
  std::string name;
  std::string requested_name;
  bool renamed = false;
  uint64_t size = 0;
  std::string md5;
  std::string node;
  int64_t version = 1;
  bool replayed = false;  // the answer of an earlier PUT with the same idempotency key
  std::string handle;     // with PutRequest::open: a handle on the file ("" when it could not be opened)
};

// Which copies a read uses, chosen before any byte is sent.
struct ReadPlan {
  FileRecord file;  // with its chunks
  // Per chunk, its good copies in the order to try.
  std::vector<std::vector<ReplicaRecord>> holders;
  // Set by Start(): the first bytes of the read, already fetched from the
  // first holder of chunk head_chunk, which is the node that serves them.
  size_t head_chunk = 0;
  uint64_t head_offset = 0;
  std::string head;
  bool head_verified = false;  // its node checked it against block sums
  // The node that serves (or, before Start, would serve) the first bytes.
  const std::string& FirstNode() const { return holders[head_chunk].front().node_id; }
};


class FileService {
 public:
  FileService(MetadataStore& store, FileServiceOptions options);

  Result<std::unique_ptr<SpoolFile>> NewSpool(SpoolDigest digest = SpoolDigest::kMd5) const;
  // Cheap checks before the body is read: ?conflict=fail on a taken name
  // (unless the idempotency key says this PUT already happened).
  Status PrecheckPut(const PutRequest& request);
  // A PUT: the body goes into BeginPut's upload as it arrives (chunks are
  // stored as they fill), then Put commits it (after upload.Finish()).
  std::unique_ptr<ChunkedUpload> BeginPut(const PutRequest& request);
  Result<PutResult> Put(const PutRequest& request, ChunkedUpload& body);

  // Stores one chunk's spool on a random healthy node with room, moving on
  // to another on a retryable failure (connection, 5xx, 507), handing a 4xx
  // back at once. `name` and `request_id` label logs.
  Result<PlacedBlob> StoreBlob(const SpoolFile& chunk, const std::string& name, const std::string& request_id,
                               NodeSync sync = NodeSync::kNow);
  // Every chunk stored NodeSync::kSoon so far fsynced on its node (POST
  // /sync to each such node). A node that fails is reported once: the next
  // call asks only about what was stored after this one.
  [[nodiscard]] Status SyncNodes();
  // Removes a stored blob that no file refers to (a failed or refused upload).
  void DeleteUnusedBlob(const std::string& node_url, const std::string& blob_id, const std::string& node_id);

  // handle (optional): read the file open as this handle, not `path`. A
  // file whose whole-file md5 is pending (after a range write) is settled
  // first, so every whole answer carries the md5 of what it serves. partial
  // (a Range GET): a chunk with no good copy fails only a read that touches
  // it (Start), not the plan, and a pending md5 stays pending (file.md5
  // empty: the range's bytes are checked against their chunks' md5s).
  Result<ReadPlan> PlanRead(const std::string& path, const std::string& handle = "", bool partial = false);

  // A range write: `body` (at most one chunk) at byte `offset` (at most the
  // file's size) of the file at `path`, or open as `handle`. A write at
  // the end of the file (an append) becomes a new chunk of just its bytes
  // (an empty file's one empty chunk takes it instead); any other replaces
  // the bytes of the one chunk it lands in (the last chunk may grow up to
  // the chunk size): that chunk is rebuilt from its old bytes and the new
  // ones. The chunk is stored on a random node and committed with the new
  // size, version + 1 and the whole-file md5 pending. InvalidArgument for a
  // write that crosses a chunk's end or starts past the end of the file.
  Result<FileRecord> WriteRange(const PutRequest& request, uint64_t offset, const SpoolFile& body);
  // Cuts the file at `path` (or open as `handle`) to `size` bytes, at most
  // its size (InvalidArgument past it): the chunks past the new end go, the
  // one holding its last byte is rebuilt from its first bytes on the master
  // (nothing comes from the client) unless it ends there; committed with
  // the new size, version + 1 and the whole-file md5 pending. A file
  // already of that size is left as it is.
  Result<FileRecord> Truncate(const PutRequest& request, uint64_t size);
  // Computes and records the md5 of a file whose md5 is pending.
  Status SettleMd5(int64_t ino);
  // Merges runs of adjacent chunks of `ino` that fit in one chunk (what
  // appends leave) into one chunk each, the same bytes stored again as one
  // blob, so a read stays one fetch per chunk. Content, size, md5 and
  // version do not change. Returns how many chunks went; Unavailable when
  // the file changed meanwhile (what was merged before stays merged).
  Result<int> CompactChunks(int64_t ino);
  // Fetches the first (at most kHeadBytes) bytes of [offset, offset+length)
  // from the first holder of their chunk that serves them (a node checks the
  // block they are in) and puts that holder first, so a response can name
  // the node that really serves it before any byte is sent. Unavailable
  // when none can.
  Status Start(ReadPlan& plan, uint64_t offset, uint64_t length);
  static constexpr size_t kHeadBytes = 64 << 10;
  // Streams [offset, offset+length) into `write`, chunk after chunk, each
  // continuing from another copy of that chunk at the same offset when one
  // fails (a node stops its answer before a block that fails its checksum,
  // so this covers corrupt copies too). Every byte is checked before it
  // leaves the master: by its node against its block's md5, or, from an
  // old copy without block sums, by the master against the chunk's md5
  // (a mismatch marks the copy bad and fails the read). In a whole-file
  // read the last piece is released only once the last chunk has passed.
  Status Read(const ReadPlan& plan, uint64_t offset, uint64_t length,
              const std::function<bool(const char*, size_t)>& write);

  Result<FileRecord> Delete(const std::string& path, const Credentials* who = nullptr);
  // Delete of many names in one commit (MetadataStore::DeleteFiles).
  Result<std::vector<Result<FileRecord>>> DeleteMany(const std::vector<wire::UnlinkEntry>& entries,
                                                     const Credentials* who = nullptr);
  Result<std::vector<FileRecord>> List(const std::string& prefix);
  Result<nlohmann::json> Meta(const std::string& path);

  Status Heartbeat(NodeRecord node);
  Result<std::vector<NodeRecord>> Nodes();
  Result<nlohmann::json> ClusterInfo();
  // A holder served a corrupt or missing copy: stop reading from it, repair it.
  void MarkReplicaBad(const std::string& blob_id, const std::string& node_id);
  // Seconds since the epoch before which a down node counts as dead.
  double DeadBefore() const;

  MetadataStore& store() { return store_; }
  const NodeClient& node_client() const { return nodes_; }
  const FileServiceOptions& options() const { return options_; }

 private:
  MetadataStore& store_;
  FileServiceOptions options_;
  NodeClient nodes_;
  std::mutex unsynced_mu_;
  std::set<std::string> unsynced_nodes_;  // urls that stored NodeSync::kSoon chunks since their last sync
  PlacementPolicy placement_;

  // The answer for a PUT whose idempotency key is already recorded.
  static Result<PutResult> Replay(const PutRequest& request, const KeyedPut& earlier, const ChunkedUpload& body);
  Result<ReadPlan> PlanFor(FileRecord file, bool partial = false);
  // Reads [lo, hi) of chunk `index` (bytes of the chunk, not the file) into receiver.
  Status ReadChunk(const ReadPlan& plan, size_t index, uint64_t lo, uint64_t hi,
                   const std::function<bool(const char*, size_t)>& receiver);
  // ReadChunk into the end of `out` (nothing for an empty range); out's write error first.
  Status ReadChunkInto(const ReadPlan& plan, size_t index, uint64_t lo, uint64_t hi, SpoolFile& out);
};

nlohmann::json FileToJson(const FileRecord& f);
nlohmann::json NodeToJson(const NodeRecord& n);

}  // namespace dfs::master
