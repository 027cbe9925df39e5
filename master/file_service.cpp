#include "master/file_service.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "common/http_util.h"
#include "common/log.h"
#include "master/collision_namer.h"

namespace dfs::master {

nlohmann::json FileToJson(const FileRecord& f) {
  return {{"name", f.path},   {"size", f.size},       {"md5", f.md5},
          {"mtime", f.mtime}, {"mode", f.mode},       {"version", f.version},
          {"blob_id", f.blob_id}, {"want_copies", f.want_copies}};
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

Result<std::unique_ptr<SpoolFile>> FileService::NewSpool() const { return SpoolFile::Create(options_.spool_dir); }

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

Result<PutResult> FileService::Put(const PutRequest& request, SpoolFile& body) {
  if (!request.client_md5.empty() && request.client_md5 != body.md5()) {
    return Status::ChecksumMismatch("md5 of the received body is " + body.md5() + ", the client sent " +
                                    request.client_md5);
  }
  if (!request.idempotency_key.empty()) {
    auto earlier = store_.FindKeyedPut(request.idempotency_key);
    if (!earlier.ok()) return earlier.status();
    if (*earlier) return Replay(request, **earlier, body);
  }
  auto nodes = store_.ListNodes();
  if (!nodes.ok()) return nodes.status();
  const std::string blob_id = RandomHex(16);
  std::set<std::string> tried;
  std::optional<NodeRecord> placed;
  Status last = Status::Unavailable("no storage node is up");
  bool saw_room_problem = false;
  // Retry by error code: a failure that another node may not have
  // (connection, 5xx, 507 full) moves on to another random node; a 4xx is
  // about the request itself and goes back to the client.
  for (;;) {
    auto node = placement_.Choose(*nodes, body.size(), tried);
    if (!node) break;
    tried.insert(node->node_id);
    auto stored = nodes_.PutBlob(node->url, blob_id, body.path(), body.size(), body.md5(), request.request_id);
    if (stored.ok()) {
      placed = node;
      break;
    }
    last = stored.status();
    DFS_LOG(WARN, "master") << "put name=" << request.path << " req=" << request.request_id
                            << " node=" << node->node_id << " failed: " << last.ToString();
    if (last.code() == Code::kNoSpace) saw_room_problem = true;
    if (!IsRetryable(last)) return last;
  }
  if (!placed) {
    if (tried.empty()) {
      bool any_up = std::any_of(nodes->begin(), nodes->end(), [](const NodeRecord& n) { return n.state == NodeState::kUp; });
      if (any_up) return Status::NoSpace("no storage node has room for " + std::to_string(body.size()) + " bytes");
      return Status::Unavailable("no storage node is up");
    }
    if (saw_room_problem && last.code() == Code::kNoSpace) return Status::NoSpace("every storage node is full");
    return Status::Unavailable("every storage node failed; last error: " + last.ToString());
  }
  FileRecord file;
  file.path = request.path;
  file.mode = request.mode;
  file.size = body.size();
  file.md5 = body.md5();
  file.mtime = NowSeconds();
  file.blob_id = blob_id;
  file.primary_node = placed->node_id;
  int replicas = request.replicas >= 0 ? request.replicas : options_.replicas;
  file.want_copies = 1 + replicas;
  const Credentials* who = request.who ? &*request.who : nullptr;
  auto committed = !request.handle.empty()
                       ? store_.CommitToHandle(request.handle, file, request.request_id, who)
                       : store_.CommitFile(file, request.conflict,
                                           [](const std::string& p) { return CollisionName(p, RandomSuffix()); },
                                           request.request_id, request.idempotency_key, who);
  if (!committed.ok() || committed->earlier) {
    // The blob is not referenced by any file: remove it now.
    Status del = nodes_.DeleteBlob(placed->url, blob_id);
    if (!del.ok()) DFS_LOG(WARN, "master") << "orphan blob=" << blob_id << " node=" << placed->node_id;
    if (!committed.ok()) return committed.status();
    return Replay(request, *committed->earlier, body);  // the same key won a race meanwhile
  }
  if (options_.on_jobs_queued) options_.on_jobs_queued();
  DFS_LOG(INFO, "master") << "put name=" << committed->file.path << " requested=" << request.path
                          << " size=" << file.size << " md5=" << file.md5 << " blob=" << blob_id
                          << " node=" << placed->node_id << " req=" << request.request_id;
  PutResult result{committed->file.path, request.path, committed->renamed, file.size,
                   file.md5,            placed->node_id, committed->file.version, false, ""};
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

Result<PutResult> FileService::Replay(const PutRequest& request, const KeyedPut& earlier, const SpoolFile& body) {
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

Result<ReadPlan> FileService::PlanRead(const std::string& path, const std::string& handle) {
  auto file = handle.empty() ? store_.GetFile(path) : store_.GetFileOfHandle(handle);
  if (!file.ok()) return file.status();
  auto replicas = store_.GetReplicas(file->blob_id);
  if (!replicas.ok()) return replicas.status();
  ReadPlan plan;
  plan.file = *file;
  // Primary first, then the other good copies; nodes believed down go last
  // (they are still worth a try: the belief may be stale).
  auto rank = [&](const ReplicaRecord& r) {
    int score = r.node_state == NodeState::kUp || r.node_state == NodeState::kDraining ? 0 : 2;
    if (r.node_id != file->primary_node) score += 1;
    return score;
  };
  for (const auto& r : *replicas) {
    if (r.state == ReplicaState::kOk && !r.node_url.empty()) plan.holders.push_back(r);
  }
  std::stable_sort(plan.holders.begin(), plan.holders.end(),
                   [&](const ReplicaRecord& a, const ReplicaRecord& b) { return rank(a) < rank(b); });
  if (plan.holders.empty()) return Status::Unavailable("no copy of '" + path + "' is available");
  return plan;
}

Status FileService::Start(ReadPlan& plan, uint64_t offset, uint64_t length) {
  const size_t want = static_cast<size_t>(std::min<uint64_t>(length, kHeadBytes));
  Status last = Status::Unavailable("no copy of '" + plan.file.path + "' could be read");
  for (size_t i = 0; i < plan.holders.size(); ++i) {
    const ReplicaRecord& holder = plan.holders[i];
    std::string head;
    uint64_t got = 0;
    Status st = nodes_.GetBlob(holder.node_url, plan.file.blob_id, offset, want,
                               [&head](const char* data, size_t len) {
                                 head.append(data, len);
                                 return true;
                               },
                               &got);
    if (st.ok()) {
      plan.head_offset = offset;
      plan.head = std::move(head);
      std::rotate(plan.holders.begin(), plan.holders.begin() + static_cast<std::ptrdiff_t>(i),
                  plan.holders.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      return Status::OK();
    }
    last = st;
    DFS_LOG(WARN, "master") << "read name=" << plan.file.path << " node=" << holder.node_id
                            << " cannot serve offset " << offset << ": " << st.ToString() << "; trying another copy";
    if (st.code() == Code::kNotFound) MarkReplicaBad(plan.file.blob_id, holder.node_id);
  }
  return Status::Unavailable(last.message());
}

Status FileService::Read(const ReadPlan& plan, uint64_t offset, uint64_t length,
                         const std::function<bool(const char*, size_t)>& write) {
  const FileRecord& file = plan.file;
  const bool whole = offset == 0 && length == file.size;
  // Bytes go out in chunks of kChunk (fewer, larger writes to the client).
  // For a whole-file read the last chunk is held back until the md5 is
  // known good, so a client never receives all of a wrong file.
  constexpr size_t kChunk = 256 << 10;
  Md5 md5;
  std::string pending, held;
  bool writer_failed = false;
  uint64_t done = 0;
  std::set<std::string> served_by;
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
    if (whole) md5.Update(data, len);
    pending.append(data, len);
    return pending.size() < kChunk || release();
  };
  Status last = Status::Unavailable("no copy could be read");
  if (!plan.head.empty() && plan.head_offset == offset && plan.head.size() <= length) {
    if (!receiver(plan.head.data(), plan.head.size()) || writer_failed) return Status::Unavailable("client went away");
    done = plan.head.size();
    served_by.insert(plan.holders.front().node_id);
  }
  for (const auto& holder : plan.holders) {
    if (done == length) break;
    uint64_t got = 0;
    Status st = nodes_.GetBlob(holder.node_url, file.blob_id, offset + done, length - done, receiver, &got);
    done += got;
    if (got > 0) served_by.insert(holder.node_id);
    if (writer_failed) return Status::Unavailable("client went away");
    if (st.ok()) break;
    last = st;
    DFS_LOG(WARN, "master") << "read name=" << file.path << " node=" << holder.node_id << " failed at offset "
                            << offset + done << ": " << st.ToString() << "; trying another copy";
    if (st.code() == Code::kNotFound) MarkReplicaBad(file.blob_id, holder.node_id);
  }
  if (done != length) return last;
  if (whole) {
    std::string actual = md5.HexDigest();
    if (actual != file.md5) {
      DFS_LOG(ERROR, "master") << "read name=" << file.path << " md5 mismatch: got " << actual << " expected "
                               << file.md5 << "; marking copies bad";
      if (served_by.size() == 1) MarkReplicaBad(file.blob_id, *served_by.begin());
      return Status::ChecksumMismatch("copy of '" + file.path + "' failed its md5 check");
    }
    if (!held.empty() && !write(held.data(), held.size())) return Status::Unavailable("client went away");
  }
  if (!pending.empty() && !write(pending.data(), pending.size())) return Status::Unavailable("client went away");
  return Status::OK();
}

Result<FileRecord> FileService::Delete(const std::string& path, const Credentials* who) {
  auto f = store_.DeleteFile(path, who);
  if (f.ok()) DFS_LOG(INFO, "master") << "delete name=" << path << " blob=" << f->blob_id;
  return f;
}

Result<std::vector<FileRecord>> FileService::List(const std::string& prefix) { return store_.ListFiles(prefix); }

Result<nlohmann::json> FileService::Meta(const std::string& path) {
  auto file = store_.GetFile(path);
  if (!file.ok()) return file.status();
  auto replicas = store_.GetReplicas(file->blob_id);
  if (!replicas.ok()) return replicas.status();
  nlohmann::json out = FileToJson(*file);
  nlohmann::json reps = nlohmann::json::array();
  int good = 0;
  for (const auto& r : *replicas) {
    bool counts = r.state == ReplicaState::kOk && (r.node_state == NodeState::kUp || r.node_state == NodeState::kDraining);
    if (counts) ++good;
    nlohmann::json rj = {{"node_id", r.node_id}, {"url", r.node_url}, {"state", ToString(r.state)},
                         {"node_state", ToString(r.node_state)}};
    if (r.node_id == file->primary_node) out["primary"] = rj;
    reps.push_back(rj);
  }
  out["replicas"] = reps;
  out["good_copies"] = good;
  out["fully_replicated"] = good >= file->want_copies;
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
