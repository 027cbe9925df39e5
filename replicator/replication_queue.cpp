#include "replicator/replication_queue.h"

#include "common/log.h"

namespace dfs::replication {

namespace {
Status ErrorReply(const std::string& what, const redisReply* r) {
  return Status::Unavailable("redis " + what + ": " + ReplyString(r));
}

// [id, [field, value, ...]] -> entry; a nil field list (entry deleted while
// pending) gives an empty payload.
StreamEntry ParseEntry(const redisReply* r) {
  StreamEntry e;
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements < 1) return e;
  e.id = ReplyString(r->element[0]);
  if (r->elements >= 2 && r->element[1]->type == REDIS_REPLY_ARRAY) {
    const redisReply* fields = r->element[1];
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
      if (ReplyString(fields->element[i]) == "job") e.payload = ReplyString(fields->element[i + 1]);
    }
  }
  return e;
}

std::vector<StreamEntry> ParseEntries(const redisReply* list) {
  std::vector<StreamEntry> out;
  if (list == nullptr || list->type != REDIS_REPLY_ARRAY) return out;
  for (size_t i = 0; i < list->elements; ++i) {
    StreamEntry e = ParseEntry(list->element[i]);
    if (!e.id.empty()) out.push_back(std::move(e));
  }
  return out;
}

bool IsNoGroup(const redisReply* r) { return IsError(r) && ReplyString(r).rfind("NOGROUP", 0) == 0; }
}  // namespace

ReplicationQueue::ReplicationQueue(RedisAddress address, std::chrono::milliseconds connect_timeout)
    : conn_(std::move(address), connect_timeout) {}

Result<RedisReply> ReplicationQueue::Run(const std::vector<std::string>& argv,
                                         std::chrono::milliseconds extra_timeout) {
  auto reply = conn_.Command(argv, extra_timeout);
  if (!reply.ok()) group_ready_ = false;  // Redis may have restarted empty
  return reply;
}

Status ReplicationQueue::EnsureGroupLocked() {
  if (group_ready_) return Status::OK();
  // "0": a group created after jobs were published still delivers them.
  auto reply = Run({"XGROUP", "CREATE", kStream, kGroup, "0", "MKSTREAM"});
  if (!reply.ok()) return reply.status();
  if (IsError(reply->get()) && ReplyString(reply->get()).rfind("BUSYGROUP", 0) != 0) {
    return ErrorReply("XGROUP CREATE", reply->get());
  }
  group_ready_ = true;
  return Status::OK();
}

Status ReplicationQueue::EnsureGroup() {
  std::lock_guard lock(mu_);
  return EnsureGroupLocked();
}

Result<std::string> ReplicationQueue::Publish(const std::string& job_json) {
  std::lock_guard lock(mu_);
  auto reply = Run({"XADD", kStream, "*", "job", job_json});
  if (!reply.ok()) return reply.status();
  if (IsError(reply->get())) return ErrorReply("XADD", reply->get());
  return ReplyString(reply->get());
}

Result<std::vector<StreamEntry>> ReplicationQueue::Read(const std::string& consumer, int count, int block_ms) {
  std::lock_guard lock(mu_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (Status st = EnsureGroupLocked(); !st.ok()) return st;
    auto reply = Run({"XREADGROUP", "GROUP", kGroup, consumer, "COUNT", std::to_string(count), "BLOCK",
                      std::to_string(block_ms), "STREAMS", kStream, ">"},
                     std::chrono::milliseconds(block_ms));
    if (!reply.ok()) return reply.status();
    const redisReply* r = reply->get();
    if (IsNoGroup(r)) {  // the stream vanished (Redis restarted without its data)
      group_ready_ = false;
      continue;
    }
    if (IsError(r)) return ErrorReply("XREADGROUP", r);
    if (r->type == REDIS_REPLY_NIL || r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
      return std::vector<StreamEntry>{};
    }
    const redisReply* stream = r->element[0];  // [name, entries]
    if (stream->type != REDIS_REPLY_ARRAY || stream->elements < 2) return std::vector<StreamEntry>{};
    return ParseEntries(stream->element[1]);
  }
  return Status::Unavailable("redis: consumer group keeps disappearing");
}

Status ReplicationQueue::Ack(const std::string& id) {
  std::lock_guard lock(mu_);
  auto ack = Run({"XACK", kStream, kGroup, id});
  if (!ack.ok()) return ack.status();
  if (IsError(ack->get())) return ErrorReply("XACK", ack->get());
  auto del = Run({"XDEL", kStream, id});
  if (!del.ok()) return del.status();
  if (IsError(del->get())) return ErrorReply("XDEL", del->get());
  return Status::OK();
}

Result<std::vector<StreamEntry>> ReplicationQueue::ClaimStale(const std::string& consumer, int64_t min_idle_ms,
                                                              int count) {
  std::lock_guard lock(mu_);
  if (Status st = EnsureGroupLocked(); !st.ok()) return st;
  std::vector<StreamEntry> out;
  std::string cursor = "0-0";
  // XAUTOCLAIM scans the pending list in pages; a few pages are plenty.
  for (int page = 0; page < 10 && static_cast<int>(out.size()) < count; ++page) {
    auto reply = Run({"XAUTOCLAIM", kStream, kGroup, consumer, std::to_string(min_idle_ms), cursor, "COUNT",
                      std::to_string(count - static_cast<int>(out.size()))});
    if (!reply.ok()) return reply.status();
    const redisReply* r = reply->get();
    if (IsNoGroup(r)) {
      group_ready_ = false;
      return out;
    }
    if (IsError(r)) return ErrorReply("XAUTOCLAIM", r);
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) return Status::Internal("redis: odd XAUTOCLAIM reply");
    cursor = ReplyString(r->element[0]);
    for (auto& e : ParseEntries(r->element[1])) out.push_back(std::move(e));
    if (cursor == "0-0") break;
  }
  return out;
}

Status ReplicationQueue::Touch(const std::string& consumer, const std::string& id) {
  std::lock_guard lock(mu_);
  auto reply = Run({"XCLAIM", kStream, kGroup, consumer, "0", id, "JUSTID"});
  if (!reply.ok()) return reply.status();
  if (IsError(reply->get())) return ErrorReply("XCLAIM", reply->get());
  return Status::OK();
}

Status ReplicationQueue::DeadLetter(const StreamEntry& entry, const std::string& reason) {
  {
    std::lock_guard lock(mu_);
    auto reply = Run({"XADD", kDeadStream, "*", "job", entry.payload, "reason", reason, "original_id", entry.id});
    if (!reply.ok()) return reply.status();
    if (IsError(reply->get())) return ErrorReply("XADD dead", reply->get());
  }
  DFS_LOG(WARN, "replicator") << "dead letter id=" << entry.id << " reason=" << reason << " job=" << entry.payload;
  return Ack(entry.id);
}

Result<std::vector<DeadEntry>> ReplicationQueue::ListDead(int count, const std::string& after) {
  std::lock_guard lock(mu_);
  const std::string start = after.empty() ? "-" : "(" + after;  // "(": exclusive (Redis 6.2+)
  auto reply = Run({"XRANGE", kDeadStream, start, "+", "COUNT", std::to_string(count)});
  if (!reply.ok()) return reply.status();
  const redisReply* r = reply->get();
  if (IsError(r)) return ErrorReply("XRANGE", r);
  std::vector<DeadEntry> out;
  if (r->type != REDIS_REPLY_ARRAY) return out;
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* e = r->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2) continue;
    DeadEntry d;
    d.id = ReplyString(e->element[0]);
    const redisReply* fields = e->element[1];
    for (size_t j = 0; fields->type == REDIS_REPLY_ARRAY && j + 1 < fields->elements; j += 2) {
      std::string key = ReplyString(fields->element[j]);
      std::string value = ReplyString(fields->element[j + 1]);
      if (key == "job") d.payload = value;
      if (key == "reason") d.reason = value;
      if (key == "original_id") d.original_id = value;
    }
    out.push_back(std::move(d));
  }
  return out;
}

Result<std::string> ReplicationQueue::Requeue(const std::string& dead_id) {
  std::lock_guard lock(mu_);
  auto range = Run({"XRANGE", kDeadStream, dead_id, dead_id});
  if (!range.ok()) return range.status();
  const redisReply* r = range->get();
  if (IsError(r)) return Status::InvalidArgument("bad dead-letter id '" + dead_id + "': " + ReplyString(r));
  if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) return Status::NotFound("no dead letter " + dead_id);
  StreamEntry e = ParseEntry(r->element[0]);
  auto add = Run({"XADD", kStream, "*", "job", e.payload});
  if (!add.ok()) return add.status();
  if (IsError(add->get())) return ErrorReply("XADD", add->get());
  std::string new_id = ReplyString(add->get());
  auto del = Run({"XDEL", kDeadStream, dead_id});
  if (!del.ok()) return del.status();
  DFS_LOG(INFO, "replicator") << "requeued dead=" << dead_id << " as id=" << new_id;
  return new_id;
}

Result<QueueStats> ReplicationQueue::Stats() {
  std::lock_guard lock(mu_);
  QueueStats s;
  auto len = Run({"XLEN", kStream});
  if (!len.ok()) return len.status();
  if (len->get()->type == REDIS_REPLY_INTEGER) s.length = len->get()->integer;
  auto pending = Run({"XPENDING", kStream, kGroup});
  if (!pending.ok()) return pending.status();
  const redisReply* p = pending->get();
  if (p->type == REDIS_REPLY_ARRAY && p->elements >= 1 && p->element[0]->type == REDIS_REPLY_INTEGER) {
    s.pending = p->element[0]->integer;
  }
  auto dead = Run({"XLEN", kDeadStream});
  if (!dead.ok()) return dead.status();
  if (dead->get()->type == REDIS_REPLY_INTEGER) s.dead = dead->get()->integer;
  return s;
}

Result<bool> ReplicationQueue::LockBlob(const std::string& blob_id, const std::string& owner, int64_t ttl_ms) {
  std::lock_guard lock(mu_);
  auto reply = Run({"SET", kBlobLockPrefix + blob_id, owner, "NX", "PX", std::to_string(ttl_ms)});
  if (!reply.ok()) return reply.status();
  if (IsError(reply->get())) return ErrorReply("SET", reply->get());
  return reply->get()->type == REDIS_REPLY_STATUS;  // "OK"; nil when someone else holds it
}

// Only the owner may extend or release its lock (compare and act, atomically).
Status ReplicationQueue::RefreshBlobLock(const std::string& blob_id, const std::string& owner, int64_t ttl_ms) {
  std::lock_guard lock(mu_);
  auto reply = Run({"EVAL",
                    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) "
                    "else return 0 end",
                    "1", kBlobLockPrefix + blob_id, owner, std::to_string(ttl_ms)});
  if (!reply.ok()) return reply.status();
  if (IsError(reply->get())) return ErrorReply("EVAL", reply->get());
  return Status::OK();
}

Status ReplicationQueue::UnlockBlob(const std::string& blob_id, const std::string& owner) {
  std::lock_guard lock(mu_);
  auto reply = Run({"EVAL",
                    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) "
                    "else return 0 end",
                    "1", kBlobLockPrefix + blob_id, owner});
  if (!reply.ok()) return reply.status();
  if (IsError(reply->get())) return ErrorReply("EVAL", reply->get());
  return Status::OK();
}

}  // namespace dfs::replication
