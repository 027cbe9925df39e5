#include "master/file_service.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include "common/http_util.h"
#include "common/log.h"
#include "master/collision_namer.h"

namespace dfs::master {

nlohmann::json FileToJson(const FileRecord& f) {
  return {{"name", f.path},   {"size", f.size},       {"md5", f.md5},
          {"mtime", f.mtime}, {"mode", f.mode},       {"version", f.version},
          {"want_copies", f.want_copies}};
}

nlohmann::json NodeToJson(const NodeRecord& n) {
  return {{"node_id", n.node_id}, {"url", n.url},     {"state", ToString(n.state)},
          {"capacity", n.capacity}, {"used", n.used}, {"free", n.free},
          {"blobs", n.blobs},     {"last_heartbeat", n.last_heartbeat}, {"draining", n.draining}};
}

FileService::FileService(MetadataStore& store, FileServiceOptions options)
    : store_(store), options_(std::move(options)), nodes_(options_.node_timeouts) {
  std::error_code ec;
  std::filesystem::create_directories(options_.spool_dir, ec);
  // Uploads cut short by a crash: nobody will finish them.
  for (const auto& entry : std::filesystem::directory_iterator(options_.spool_dir, ec)) {
    if (entry.path().filename().string().rfind("put-", 0) == 0) std::filesystem::remove(entry.path(), ec);
  }
}

Result<std::unique_ptr<SpoolFile>> FileService::NewSpool(SpoolDigest digest) const {
  return SpoolFile::Create(options_.spool_dir, digest);
}

Status FileService::PrecheckPut(const PutRequest& request) {
  if (!request.handle.empty()) return store_.GetFileOfHandle(request.handle).status();  // before the body comes
  if (request.conflict != ConflictMode::kFail) return Status::OK();
  if (!request.idempotency_key.empty()) {
    auto earlier = store_.FindKeyedPut(request.idempotency_key);
    if (!earlier.ok()) return earlier.status();
    if (*earlier) return Status::OK();  // a retry: Put answers it
  }
  auto exists = store_.FileExists(request.path);
  if (!exists.ok()) return exists.status();
  if (*exists) return Status::AlreadyExists("'" + request.path + "' already exists");
  return Status::OK();
}

std::unique_ptr<ChunkedUpload> FileService::BeginPut(const PutRequest& request) {
  bool replay = false;  // the key was answered before: only hash the body to compare
  if (!request.idempotency_key.empty()) {
    auto earlier = store_.FindKeyedPut(request.idempotency_key);
    replay = earlier.ok() && earlier->has_value();
  }
  return std::make_unique<ChunkedUpload>(*this, request.path, request.request_id, !replay, request.sync);
}

Status FileService::SyncNodes() {
  std::set<std::string> urls;
  {
    std::lock_guard lock(unsynced_mu_);
    urls.swap(unsynced_nodes_);
  }
  Status failed;
  for (const std::string& url : urls) {
    if (Status st = nodes_.Sync(url); !st.ok()) {
      DFS_LOG(WARN, "master") << "sync node=" << url << " failed: " << st.ToString();
      failed = Status::IOError("node " + url + " could not sync what it stored: " + st.message());
    }
  }
  return failed;
}

Result<PlacedBlob> FileService::StoreBlob(const SpoolFile& chunk, const std::string& name,
                                          const std::string& request_id, NodeSync sync) {
  auto nodes = store_.ListNodes();
  if (!nodes.ok()) return nodes.status();
  const std::string blob_id = RandomHex(16);
  std::set<std::string> tried;
  Status last = Status::Unavailable("no storage node is up");
  bool saw_room_problem = false;
  // Retry by error code: a failure that another node may not have
  // (connection, 5xx, 507 full) moves on to another random node; a 4xx is
  // about the request itself and goes back to the client.
  while (auto node = placement_.Choose(*nodes, chunk.size(), tried)) {
    tried.insert(node->node_id);
    auto stored = nodes_.PutBlob(node->url, blob_id, chunk, request_id, sync);
    if (stored.ok()) {
      if (sync == NodeSync::kSoon) {
        std::lock_guard lock(unsynced_mu_);
        unsynced_nodes_.insert(node->url);
      }
      // The node hashed what it kept: the md5 it answers is the chunk's (checked
      // against ours, or, for a CRC-only spool, its bytes checked by the CRC).
      if (!Md5::IsValidHex(stored->md5) || (!chunk.md5().empty() && stored->md5 != chunk.md5())) {
        DeleteUnusedBlob(node->url, blob_id, node->node_id);
        return Status::Internal("node " + node->node_id + " answered md5 '" + stored->md5 + "' for blob " + blob_id);
      }
      return PlacedBlob{blob_id, node->node_id, node->url, stored->md5};
    }
    last = stored.status();
    DFS_LOG(WARN, "master") << "put name=" << name << " req=" << request_id << " node=" << node->node_id
                            << " failed: " << last.ToString();
    if (last.code() == Code::kNoSpace) saw_room_problem = true;
    if (!IsRetryable(last)) return last;
  }
  if (tried.empty()) {
    bool any_up = std::any_of(nodes->begin(), nodes->end(), [](const NodeRecord& n) { return n.state == NodeState::kUp; });
    if (any_up) return Status::NoSpace("no storage node has room for " + std::to_string(chunk.size()) + " bytes");
    return Status::Unavailable("no storage node is up");
  }
  if (saw_room_problem && last.code() == Code::kNoSpace) return Status::NoSpace("every storage node is full");
  return Status::Unavailable("every storage node failed; last error: " + last.ToString());
}

void FileService::DeleteUnusedBlob(const std::string& node_url, const std::string& blob_id,
                                   const std::string& node_id) {
  Status del = nodes_.DeleteBlob(node_url, blob_id);
  if (!del.ok()) DFS_LOG(WARN, "master") << "orphan blob=" << blob_id << " node=" << node_id << " (gc removes it)";
}

Result<PutResult> FileService::Put(const PutRequest& request, ChunkedUpload& body) {
  if (!request.client_md5.empty() && request.client_md5 != body.md5()) {
    return Status::ChecksumMismatch("md5 of the received body is " + body.md5() + ", the client sent " +
                                    request.client_md5);
  }
  if (!request.idempotency_key.empty()) {
    auto earlier = store_.FindKeyedPut(request.idempotency_key);
    if (!earlier.ok()) return earlier.status();
    if (*earlier) return Replay(request, **earlier, body);
  }
  if (!body.stores()) return Status::Unavailable("the earlier answer of this Idempotency-Key went away; send again");
  FileRecord file;
  file.path = request.path;
  file.mode = request.mode;
  file.size = body.size();
  file.md5 = body.md5();
  file.mtime = NowSeconds();
  file.chunks = body.chunks();
  int replicas = request.replicas >= 0 ? request.replicas : options_.replicas;
  file.want_copies = 1 + replicas;
  const Credentials* who = request.who ? &*request.who : nullptr;
  auto committed = !request.handle.empty()
                       ? store_.CommitToHandle(request.handle, file, request.request_id, who)
                       : store_.CommitFile(file, request.conflict,
                                           [](const std::string& p) { return CollisionName(p, RandomSuffix()); },
                                           request.request_id, request.idempotency_key, who);
  // Not committed: the upload's chunks are removed from their nodes when it goes.
  if (!committed.ok()) return committed.status();
  if (committed->earlier) return Replay(request, *committed->earlier, body);  // the same key won a race meanwhile
  body.Keep();
  if (options_.on_jobs_queued) options_.on_jobs_queued();
  const std::string& node = file.chunks.front().primary_node;
  DFS_LOG(INFO, "master") << "put name=" << committed->file.path << " requested=" << request.path
                          << " size=" << file.size << " md5=" << file.md5 << " chunks=" << file.chunks.size()
                          << " node=" << node << " req=" << request.request_id;
  PutResult result{committed->file.path, request.path, committed->renamed, file.size,
                   file.md5,            node,         committed->file.version, false, ""};
  if (request.open && request.handle.empty()) {
    // Not in the commit's transaction: a rename in between leaves the
    // client without a handle (it then writes by name), nothing worse.
    auto opened = store_.OpenHandle(committed->file.path, options_.handle_lease_s, who);
    if (opened.ok()) result.handle = opened->handle;
  } else if (request.open) {
    result.handle = request.handle;
  }
  return result;
}

Result<PutResult> FileService::Replay(const PutRequest& request, const KeyedPut& earlier, const ChunkedUpload& body) {
  if (earlier.requested != request.path || earlier.md5 != body.md5() || earlier.size != body.size()) {
    return Status::InvalidArgument("Idempotency-Key '" + request.idempotency_key + "' was used for another upload (" +
                                   earlier.requested + ", " + std::to_string(earlier.size) + " bytes, md5 " +
                                   earlier.md5 + ")");
  }
  DFS_LOG(INFO, "master") << "put name=" << earlier.name << " requested=" << request.path
                          << " replayed key=" << request.idempotency_key << " req=" << request.request_id;
  return PutResult{earlier.name, earlier.requested, earlier.renamed, earlier.size,
                   earlier.md5,  earlier.node,      earlier.version,  true, ""};
}

Result<ReadPlan> FileService::PlanRead(const std::string& path, const std::string& handle, bool partial) {
  auto file = handle.empty() ? store_.GetFile(path) : store_.GetFileOfHandle(handle);
  if (!file.ok()) return file.status();
  if (file->md5.empty() && !partial) {  // pending after a range write: settle it now (a Range GET need not)
    if (Status st = SettleMd5(file->ino); !st.ok()) return st;
    file = handle.empty() ? store_.GetFile(path) : store_.GetFileOfHandle(handle);
    if (!file.ok()) return file.status();
  }
  return PlanFor(std::move(*file), partial);
}

Result<ReadPlan> FileService::PlanFor(FileRecord file, bool partial) {
  ReadPlan plan;
  plan.file = std::move(file);
  for (const ChunkRecord& chunk : plan.file.chunks) {
    auto replicas = store_.GetReplicas(chunk.blob_id);
    if (!replicas.ok()) return replicas.status();
    // Primary first, then the other good copies; nodes believed down go last
    // (they are still worth a try: the belief may be stale).
    auto rank = [&](const ReplicaRecord& r) {
      int score = r.node_state == NodeState::kUp || r.node_state == NodeState::kDraining ? 0 : 2;
      if (r.node_id != chunk.primary_node) score += 1;
      return score;
    };
    std::vector<ReplicaRecord> holders;
    for (const auto& r : *replicas) {
      if (r.state == ReplicaState::kOk && !r.node_url.empty()) holders.push_back(r);
    }
    std::stable_sort(holders.begin(), holders.end(),
                     [&](const ReplicaRecord& a, const ReplicaRecord& b) { return rank(a) < rank(b); });
    if (holders.empty() && !partial) {
      return Status::Unavailable("no copy of '" + plan.file.path + "' (chunk " + std::to_string(chunk.index) +
                                 ") is available");
    }
    plan.holders.push_back(std::move(holders));
  }
  if (plan.holders.empty()) return Status::Internal("'" + plan.file.path + "' has no chunks");
  return plan;
}

namespace {
// The chunk that holds byte `offset` (the last one for offset == size).
size_t ChunkAt(const FileRecord& file, uint64_t offset) {
  for (size_t i = 0; i < file.chunks.size(); ++i) {
    if (offset < file.chunks[i].offset + file.chunks[i].size) return i;
  }
  return file.chunks.empty() ? 0 : file.chunks.size() - 1;
}
}  // namespace

Status FileService::Start(ReadPlan& plan, uint64_t offset, uint64_t length) {
  const size_t index = ChunkAt(plan.file, offset);
  const ChunkRecord& chunk = plan.file.chunks[index];
  auto& holders = plan.holders[index];
  const uint64_t in_chunk = offset - chunk.offset;
  const size_t want = static_cast<size_t>(std::min<uint64_t>({length, kHeadBytes, chunk.size - in_chunk}));
  for (size_t i = index; i < plan.file.chunks.size() && plan.file.chunks[i].offset < offset + length; ++i) {
    if (plan.holders[i].empty()) {  // a partial plan: this read needs a chunk no copy of which is good
      return Status::Unavailable("no copy of '" + plan.file.path + "' (chunk " + std::to_string(i) +
                                 ") is available");
    }
  }
  Status last = Status::Unavailable("no copy of '" + plan.file.path + "' could be read");
  for (size_t i = 0; i < holders.size(); ++i) {
    const ReplicaRecord& holder = holders[i];
    std::string head;
    uint64_t got = 0;
    bool verified = false;
    Status st = nodes_.GetBlob(holder.node_url, chunk.blob_id, in_chunk, want,
                               [&head](const char* data, size_t len) {
                                 head.append(data, len);
                                 return true;
                               },
                               &got, &verified);
    if (st.ok()) {
      plan.head_verified = verified;
      plan.head_chunk = index;
      plan.head_offset = offset;
      plan.head = std::move(head);
      std::rotate(holders.begin(), holders.begin() + static_cast<std::ptrdiff_t>(i),
                  holders.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      return Status::OK();
    }
    last = st;
    DFS_LOG(WARN, "master") << "read name=" << plan.file.path << " node=" << holder.node_id
                            << " cannot serve offset " << offset << ": " << st.ToString() << "; trying another copy";
    if (st.code() == Code::kNotFound) MarkReplicaBad(chunk.blob_id, holder.node_id);
  }
  return Status::Unavailable(last.message());
}

Status FileService::ReadChunk(const ReadPlan& plan, size_t index, uint64_t lo, uint64_t hi,
                              const std::function<bool(const char*, size_t)>& receiver) {
  const ChunkRecord& chunk = plan.file.chunks[index];
  // A chunk read whole is hashed and checked against its md5, unless its
  // bytes come from a node that checks block sums as it serves: then each
  // byte has passed its block's md5 already, and hashing again only costs.
  // Decided by the first source; a later one without block sums is logged.
  const bool whole = lo == 0 && hi == chunk.size;
  bool decided = false, hashing = false, unchecked = false;
  bool source_verifies = false;  // of the answer being received
  Md5 md5;
  bool receiver_failed = false;
  auto take = [&](const char* data, size_t len) {
    if (!decided) {
      decided = true;
      hashing = whole && !source_verifies;
    } else if (whole && !hashing && !source_verifies) {
      unchecked = true;
    }
    if (hashing) md5.Update(data, len);
    receiver_failed = !receiver(data, len);
    return !receiver_failed;
  };
  uint64_t done = 0;
  std::set<std::string> served_by;
  // The head Start fetched, when this read begins there.
  if (index == plan.head_chunk && !plan.head.empty() && plan.head_offset == chunk.offset + lo &&
      plan.head.size() <= hi - lo) {
    source_verifies = plan.head_verified;
    if (!take(plan.head.data(), plan.head.size())) return Status::Unavailable("client went away");
    done = plan.head.size();
    served_by.insert(plan.holders[index].front().node_id);
  }
  Status last = Status::Unavailable("no copy could be read");
  for (const auto& holder : plan.holders[index]) {
    if (lo + done == hi) break;
    uint64_t got = 0;
    Status st = nodes_.GetBlob(holder.node_url, chunk.blob_id, lo + done, hi - lo - done, take, &got,
                               &source_verifies);
    done += got;
    if (got > 0) served_by.insert(holder.node_id);
    if (receiver_failed) return Status::Unavailable("client went away");
    if (st.ok()) break;
    last = st;
    DFS_LOG(WARN, "master") << "read name=" << plan.file.path << " chunk=" << index << " node=" << holder.node_id
                            << " failed at offset " << chunk.offset + lo + done << ": " << st.ToString()
                            << "; trying another copy";
    if (st.code() == Code::kNotFound) MarkReplicaBad(chunk.blob_id, holder.node_id);
  }
  if (lo + done != hi) return last;
  if (unchecked) {
    DFS_LOG(WARN, "master") << "read name=" << plan.file.path << " chunk=" << index
                            << ": part came from a copy without block sums, after one with them, unhashed";
  }
  if (hashing && md5.HexDigest() != chunk.md5) {
    DFS_LOG(ERROR, "master") << "read name=" << plan.file.path << " chunk=" << index << " md5 mismatch: got "
                             << md5.HexDigest() << " expected " << chunk.md5 << "; marking the copy bad";
    if (served_by.size() == 1) MarkReplicaBad(chunk.blob_id, *served_by.begin());
    return Status::ChecksumMismatch("copy of '" + plan.file.path + "' failed its md5 check");
  }
  return Status::OK();
}

Status FileService::ReadChunkInto(const ReadPlan& plan, size_t index, uint64_t lo, uint64_t hi, SpoolFile& out) {
  if (lo >= hi) return Status::OK();
  Status write_status;
  Status st = ReadChunk(plan, index, lo, hi, [&](const char* data, size_t len) {
    write_status = out.Append(data, len);
    return write_status.ok();
  });
  return write_status.ok() ? st : write_status;
}

Status FileService::Read(const ReadPlan& plan, uint64_t offset, uint64_t length,
                         const std::function<bool(const char*, size_t)>& write) {
  const FileRecord& file = plan.file;
  const bool whole = offset == 0 && length == file.size;
  // Bytes go out in pieces of kPiece (fewer, larger writes to the client).
  // For a whole-file read the last piece is held back until the last
  // chunk has passed its md5 check: every chunk of a whole read is read
  // whole and checked, and the chunks are exactly the bytes whose md5 the
  // file records, so a client never receives all of a wrong file (and the
  // master hashes each byte once).
  constexpr size_t kPiece = 256 << 10;
  std::string pending, held;
  bool writer_failed = false;
  auto release = [&]() {
    if (!whole) {
      writer_failed = !write(pending.data(), pending.size());
    } else {
      if (!held.empty()) writer_failed = !write(held.data(), held.size());
      held.swap(pending);
    }
    pending.clear();
    return !writer_failed;
  };
  auto receiver = [&](const char* data, size_t len) {
    pending.append(data, len);
    return pending.size() < kPiece || release();
  };
  const uint64_t end = offset + length;
  for (size_t i = ChunkAt(file, offset); i < file.chunks.size() && file.chunks[i].offset < end; ++i) {
    const ChunkRecord& chunk = file.chunks[i];
    const uint64_t lo = std::max(offset, chunk.offset) - chunk.offset;
    const uint64_t hi = std::min(end, chunk.offset + chunk.size) - chunk.offset;
    if (lo >= hi) continue;
    if (Status st = ReadChunk(plan, i, lo, hi, receiver); !st.ok()) {
      return writer_failed ? Status::Unavailable("client went away") : st;
    }
  }
  if (!held.empty() && !write(held.data(), held.size())) return Status::Unavailable("client went away");
  if (!pending.empty() && !write(pending.data(), pending.size())) return Status::Unavailable("client went away");
  return Status::OK();
}

namespace {
// Appends the bytes of a finished spool to `out`.
Status CopySpool(const SpoolFile& from, SpoolFile& out) {
  auto reader = SpoolReader::Open(from);
  if (!reader.ok()) return reader.status();
  std::vector<char> buf(256 << 10);
  for (uint64_t offset = 0;;) {
    auto n = reader->ReadAt(offset, buf.data(), buf.size());
    if (!n.ok()) return n.status();
    if (*n == 0) return Status::OK();
    if (Status st = out.Append(buf.data(), *n); !st.ok()) return st;
    offset += *n;
  }
}
}  // namespace

Result<FileRecord> FileService::WriteRange(const PutRequest& request, uint64_t offset, const SpoolFile& body) {
  const Credentials* who = request.who ? &*request.who : nullptr;
  for (int attempt = 0; attempt < 5; ++attempt) {  // another write may commit first: redo on the new version
    auto file = request.handle.empty() ? store_.GetFile(request.path) : store_.GetFileOfHandle(request.handle);
    if (!file.ok()) return file.status();
    if (offset > file->size) {
      return Status::InvalidArgument("a range write starts at most at the end of the file (" +
                                     std::to_string(file->size) + " bytes)");
    }
    // The chunk it lands in: the one holding `offset`; at the end, a new
    // one (an append stores only its own bytes; compaction merges later),
    // unless the file is empty (its one empty chunk).
    const ChunkRecord& last = file->chunks.back();
    size_t index = offset < file->size ? ChunkAt(*file, offset) : static_cast<size_t>(last.index);
    if (offset == file->size && last.size > 0) index = file->chunks.size();
    ChunkRecord base = index < file->chunks.size() ? file->chunks[index] : ChunkRecord{};
    if (index == file->chunks.size()) {
      base.index = static_cast<int64_t>(index);
      base.offset = file->size;
    }
    const bool is_last = index + 1 >= file->chunks.size();
    const uint64_t lo = offset - base.offset, hi = lo + body.size();
    const uint64_t room = is_last ? std::max<uint64_t>(options_.chunk_size, base.size) : base.size;
    if (hi > room) {
      return Status::InvalidArgument("a range write stays within one chunk: bytes " + std::to_string(base.offset) +
                                     " to " + std::to_string(base.offset + room) + " here");
    }
    // The new chunk: the old one's bytes around the body's, unless the body
    // is all of it (an append, a whole chunk rewritten): then the body as it is.
    std::unique_ptr<SpoolFile> rebuilt;
    if (lo > 0 || hi < base.size) {
      auto plan = PlanFor(*file);
      if (!plan.ok()) return plan.status();
      auto spool = NewSpool();
      if (!spool.ok()) return spool.status();
      rebuilt = std::move(*spool);
      if (Status st = ReadChunkInto(*plan, index, 0, lo, *rebuilt); !st.ok()) return st;
      if (Status st = CopySpool(body, *rebuilt); !st.ok()) return st;
      if (hi < base.size) {
        if (Status st = ReadChunkInto(*plan, index, hi, base.size, *rebuilt); !st.ok()) return st;
      }
      if (Status st = rebuilt->Finish(); !st.ok()) return st;
    }
    const SpoolFile& chunk = rebuilt ? *rebuilt : body;
    auto placed = StoreBlob(chunk, request.path, request.request_id, request.sync);
    if (!placed.ok()) return placed.status();
    ChunkRecord fresh{base.index, base.offset, chunk.size(), chunk.md5(), placed->blob_id, placed->node_id};
    const uint64_t new_size = std::max(file->size, offset + body.size());
    // Committed unless this chunk (or, when the write grows it, which chunk
    // is last) changed meanwhile: writes to other chunks do not conflict.
    const ChunkExpectation expected{index < file->chunks.size() ? base.blob_id : "", hi > base.size};
    auto committed =
        store_.CommitChunk(file->ino, expected, fresh, new_size, NowSeconds(), request.request_id, who);
    if (!committed.ok() || !*committed) DeleteUnusedBlob(placed->node_url, placed->blob_id, placed->node_id);
    if (!committed.ok()) return committed.status();
    if (!*committed) continue;
    if (options_.on_jobs_queued) options_.on_jobs_queued();
    DFS_LOG(INFO, "master") << "write name=" << request.path << " offset=" << offset << " bytes=" << body.size()
                            << " chunk=" << fresh.index << " size=" << new_size << " req=" << request.request_id;
    return **committed;
  }
  return Status::Unavailable("the file kept changing during the write; try again");
}

Result<FileRecord> FileService::Truncate(const PutRequest& request, uint64_t size) {
  const Credentials* who = request.who ? &*request.who : nullptr;
  for (int attempt = 0; attempt < 5; ++attempt) {  // another write may commit first: redo on the new version
    auto file = request.handle.empty() ? store_.GetFile(request.path) : store_.GetFileOfHandle(request.handle);
    if (!file.ok()) return file.status();
    if (size > file->size) {
      return Status::InvalidArgument("a truncate only shortens a file (" + std::to_string(file->size) +
                                     " bytes); a range write of zeros lengthens it");
    }
    if (size == file->size) return *file;
    const size_t index = size == 0 ? 0 : ChunkAt(*file, size - 1);
    const ChunkRecord& keep = file->chunks[index];
    std::optional<ChunkRecord> cut;
    std::optional<PlacedBlob> placed;
    if (keep.offset + keep.size != size) {  // it ends inside this chunk: its first bytes become a chunk
      auto plan = PlanFor(*file);
      if (!plan.ok()) return plan.status();
      auto spool = NewSpool();
      if (!spool.ok()) return spool.status();
      SpoolFile& chunk = **spool;
      if (Status st = ReadChunkInto(*plan, index, 0, size - keep.offset, chunk); !st.ok()) return st;
      if (Status st = chunk.Finish(); !st.ok()) return st;
      auto stored = StoreBlob(chunk, request.path, request.request_id);
      if (!stored.ok()) return stored.status();
      placed = *stored;
      cut = ChunkRecord{keep.index, keep.offset, chunk.size(), chunk.md5(), placed->blob_id, placed->node_id};
    }
    auto committed =
        store_.CommitTruncate(file->ino, keep.blob_id, cut, size, NowSeconds(), request.request_id, who);
    if (placed && (!committed.ok() || !*committed)) DeleteUnusedBlob(placed->node_url, placed->blob_id, placed->node_id);
    if (!committed.ok()) return committed.status();
    if (!*committed) continue;
    if (cut && options_.on_jobs_queued) options_.on_jobs_queued();
    DFS_LOG(INFO, "master") << "truncate name=" << request.path << " size=" << size << " from=" << file->size
                            << " chunks=" << (*committed)->chunks.size() << " req=" << request.request_id;
    return **committed;
  }
  return Status::Unavailable("the file kept changing during the truncate; try again");
}

namespace {
// Runs of adjacent chunks (first index, count >= 2) that each fit in one
// chunk of `limit` bytes, greedily from the start.
std::vector<std::pair<size_t, size_t>> MergeRuns(const std::vector<ChunkRecord>& chunks, uint64_t limit) {
  std::vector<std::pair<size_t, size_t>> runs;
  for (size_t i = 0; i < chunks.size();) {
    size_t n = 1;
    uint64_t bytes = chunks[i].size;
    while (i + n < chunks.size() && bytes + chunks[i + n].size <= limit) bytes += chunks[i + n++].size;
    if (n >= 2) runs.emplace_back(i, n);
    i += n;
  }
  return runs;
}
}  // namespace

Result<int> FileService::CompactChunks(int64_t ino) {
  auto file = store_.GetFileByIno(ino);
  if (!file.ok()) return file.status();
  const auto runs = MergeRuns(file->chunks, options_.chunk_size);
  if (runs.empty()) return 0;
  auto plan = PlanFor(*file);
  if (!plan.ok()) return plan.status();
  int merged = 0;
  // From the last run back, so a commit's renumbering moves no run not yet merged.
  for (auto run = runs.rbegin(); run != runs.rend(); ++run) {
    const auto [first, count] = *run;
    auto spool = NewSpool();
    if (!spool.ok()) return spool.status();
    SpoolFile& out = **spool;
    std::vector<std::string> replaced;
    for (size_t i = first; i < first + count; ++i) {
      if (Status st = ReadChunkInto(*plan, i, 0, file->chunks[i].size, out); !st.ok()) return st;
      replaced.push_back(file->chunks[i].blob_id);
    }
    if (Status st = out.Finish(); !st.ok()) return st;
    const std::string request_id = "compact-" + RandomHex(6);
    auto placed = StoreBlob(out, file->path, request_id);
    if (!placed.ok()) return placed.status();
    const ChunkRecord& head = file->chunks[first];
    ChunkRecord one{head.index, head.offset, out.size(), out.md5(), placed->blob_id, placed->node_id};
    auto committed = store_.CommitMerge(ino, replaced, one);
    if (!committed.ok() || !*committed) DeleteUnusedBlob(placed->node_url, placed->blob_id, placed->node_id);
    if (!committed.ok()) return committed.status();
    if (!*committed) return Status::Unavailable("the file changed during its compaction");
    merged += static_cast<int>(count) - 1;
    DFS_LOG(INFO, "master") << "compact name=" << file->path << " ino=" << ino << " chunks=" << first << ".."
                            << first + count - 1 << " into one of " << one.size << " bytes req=" << request_id;
  }
  if (merged > 0 && options_.on_jobs_queued) options_.on_jobs_queued();
  return merged;
}

Status FileService::SettleMd5(int64_t ino) {
  auto file = store_.GetFileByIno(ino);
  if (!file.ok()) return file.status();
  if (!file->md5.empty()) return Status::OK();
  auto plan = PlanFor(*file);
  if (!plan.ok()) return plan.status();
  Md5 md5;
  for (size_t i = 0; i < file->chunks.size(); ++i) {
    Status st = ReadChunk(*plan, i, 0, file->chunks[i].size, [&md5](const char* data, size_t len) {
      md5.Update(data, len);
      return true;
    });
    if (!st.ok()) return st;
  }
  const std::string digest = md5.HexDigest();
  DFS_LOG(INFO, "master") << "md5 settled ino=" << ino << " version=" << file->version << " md5=" << digest;
  return store_.SettleMd5(ino, file->version, digest);
}

Result<FileRecord> FileService::Delete(const std::string& path, const Credentials* who) {
  auto f = store_.DeleteFile(path, who);
  if (f.ok()) DFS_LOG(INFO, "master") << "delete name=" << path << " chunks=" << f->chunks.size();
  return f;
}

Result<std::vector<Result<FileRecord>>> FileService::DeleteMany(const std::vector<wire::UnlinkEntry>& entries,
                                                                const Credentials* who) {
  auto done = store_.DeleteFiles(entries, who);
  if (!done.ok()) return done;
  size_t removed = 0;
  for (const auto& f : *done) removed += f.ok() ? 1 : 0;
  DFS_LOG(INFO, "master") << "delete names=" << entries.size() << " removed=" << removed;
  return done;
}

Result<std::vector<FileRecord>> FileService::List(const std::string& prefix) { return store_.ListFiles(prefix); }

Result<nlohmann::json> FileService::Meta(const std::string& path) {
  auto file = store_.GetFile(path);
  if (!file.ok()) return file.status();
  nlohmann::json out = FileToJson(*file);
  nlohmann::json chunks = nlohmann::json::array();
  int least_good = -1;  // the fewest good copies of any chunk
  for (const ChunkRecord& chunk : file->chunks) {
    auto replicas = store_.GetReplicas(chunk.blob_id);
    if (!replicas.ok()) return replicas.status();
    nlohmann::json c = {{"index", chunk.index}, {"offset", chunk.offset}, {"size", chunk.size},
                        {"md5", chunk.md5},     {"blob_id", chunk.blob_id}, {"version", file->version}};
    nlohmann::json reps = nlohmann::json::array();
    int good = 0;
    for (const auto& r : *replicas) {
      bool counts =
          r.state == ReplicaState::kOk && (r.node_state == NodeState::kUp || r.node_state == NodeState::kDraining);
      if (counts) ++good;
      nlohmann::json rj = {{"node_id", r.node_id}, {"url", r.node_url}, {"state", ToString(r.state)},
                           {"node_state", ToString(r.node_state)}};
      if (r.node_id == chunk.primary_node) c["primary"] = rj;
      reps.push_back(rj);
    }
    c["replicas"] = reps;
    c["good_copies"] = good;
    least_good = least_good < 0 ? good : std::min(least_good, good);
    chunks.push_back(std::move(c));
  }
  // The first chunk's blob, primary and copies at the top, as when a file was one blob.
  if (!chunks.empty()) {
    for (const char* key : {"blob_id", "primary", "replicas"}) {
      if (chunks[0].contains(key)) out[key] = chunks[0][key];
    }
  }
  out["chunks"] = chunks;
  out["chunk_size"] = options_.chunk_size;  // where range writes split (the last chunk grows to it)
  out["good_copies"] = std::max(least_good, 0);
  out["fully_replicated"] = least_good >= file->want_copies;
  return out;
}

Status FileService::Heartbeat(NodeRecord node) {
  node.last_heartbeat = NowSeconds();
  return store_.UpsertNode(node);
}

Result<std::vector<NodeRecord>> FileService::Nodes() { return store_.ListNodes(); }

Result<nlohmann::json> FileService::ClusterInfo() {
  auto nodes = store_.ListNodes();
  if (!nodes.ok()) return nodes.status();
  auto counts = store_.CountFiles();
  if (!counts.ok()) return counts.status();
  uint64_t capacity = 0, used = 0, free = 0;
  int up = 0;
  for (const auto& n : *nodes) {
    if (n.state != NodeState::kUp) continue;
    ++up;
    capacity += n.capacity;
    used += n.used;
    free += n.free;
  }
  auto replication = store_.CountReplication(DeadBefore());
  if (!replication.ok()) return replication.status();
  return nlohmann::json{{"capacity", capacity},
                        {"used", used},
                        {"free", free},
                        {"files", counts->files},
                        {"bytes", counts->bytes},
                        {"nodes_up", up},
                        {"nodes_total", nodes->size()},
                        {"under_replicated", replication->under_replicated},
                        {"unpublished_jobs", replication->unpublished_jobs}};
}

void FileService::MarkReplicaBad(const std::string& blob_id, const std::string& node_id) {
  DFS_LOG(WARN, "master") << "bad copy blob=" << blob_id << " node=" << node_id << "; queueing a repair";
  Status st = store_.MarkReplicaBad(blob_id, node_id);
  if (!st.ok()) {
    DFS_LOG(ERROR, "master") << "could not mark blob=" << blob_id << " node=" << node_id << " bad: " << st.ToString();
    return;
  }
  if (options_.on_jobs_queued) options_.on_jobs_queued();
}

double FileService::DeadBefore() const {
  return NowSeconds() - std::chrono::duration<double>(options_.node_dead).count();
}

}  // namespace dfs::master
