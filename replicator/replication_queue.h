// ReplicationQueue: the replication job queue, a Redis Stream with a consumer
// group (at-least-once delivery):
//   stream  dfs:replication        entries {"job": "<job json>"}
//   group   replicators            each entry goes to one consumer; unacked
//                                  entries stay pending and are claimed by
//                                  another consumer after an idle timeout
//   stream  dfs:replication:dead   dead letters {"job", "reason", "original_id"}
// Acknowledged entries are also deleted, so XLEN is the number of jobs not
// yet finished. Thread-safe (one mutex around the connection); a blocking
// Read holds it, so give each consuming thread its own queue object.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "replicator/redis_connection.h"

namespace dfs::replication {

inline constexpr const char* kStream = "dfs:replication";
inline constexpr const char* kDeadStream = "dfs:replication:dead";
inline constexpr const char* kGroup = "replicators";
inline constexpr const char* kBlobLockPrefix = "dfs:replication:lock:";

struct StreamEntry {
  std::string id;       // stream entry id "ms-seq"
  std::string payload;  // the "job" field ("" when absent)
};

struct DeadEntry {
  std::string id;
  std::string payload;
  std::string reason;
  std::string original_id;
};

struct QueueStats {
  int64_t length = 0;   // entries in the stream (not yet acknowledged)
  int64_t pending = 0;  // delivered to a consumer, not yet acknowledged
  int64_t dead = 0;     // dead letters
};

class ReplicationQueue {
 public:
  explicit ReplicationQueue(RedisAddress address,
                            std::chrono::milliseconds connect_timeout = std::chrono::milliseconds(1000));

  // Creates the stream and the group if missing (BUSYGROUP is fine).
  Status EnsureGroup();
  // XADD; returns the entry id.
  Result<std::string> Publish(const std::string& job_json);
  // New entries for `consumer` (XREADGROUP ... >), waiting up to block_ms.
  Result<std::vector<StreamEntry>> Read(const std::string& consumer, int count, int block_ms);
  // XACK + XDEL.
  Status Ack(const std::string& id);
  // Takes over entries pending longer than min_idle_ms (from dead or stuck
  // consumers, or this one) for `consumer` (XAUTOCLAIM).
  Result<std::vector<StreamEntry>> ClaimStale(const std::string& consumer, int64_t min_idle_ms, int count);
  // Resets the idle time of an entry this consumer holds, so a long job is
  // not claimed by another consumer while it is still running.
  Status Touch(const std::string& consumer, const std::string& id);
  // Copies the entry to the dead-letter stream with the reason, then acks it.
  Status DeadLetter(const StreamEntry& entry, const std::string& reason);
  // Up to `count` dead letters, oldest first, after the entry id `after`
  // ("" = from the start): page with the last id of the previous page.
  Result<std::vector<DeadEntry>> ListDead(int count = 1000, const std::string& after = "");
  // Moves a dead letter back to the main stream; returns the new entry id.
  Result<std::string> Requeue(const std::string& dead_id);
  Result<QueueStats> Stats();

  // A per-blob lock (SET NX PX) so that two jobs for one blob, in any
  // replicator process, never copy it at the same time. It expires after
  // ttl_ms unless refreshed, so a crashed holder cannot block the blob.
  Result<bool> LockBlob(const std::string& blob_id, const std::string& owner, int64_t ttl_ms);
  Status RefreshBlobLock(const std::string& blob_id, const std::string& owner, int64_t ttl_ms);
  Status UnlockBlob(const std::string& blob_id, const std::string& owner);

  const RedisAddress& address() const { return conn_.address(); }

 private:
  Result<RedisReply> Run(const std::vector<std::string>& argv,
                         std::chrono::milliseconds extra_timeout = std::chrono::milliseconds(0));
  Status EnsureGroupLocked();

  std::mutex mu_;
  RedisConnection conn_;
  bool group_ready_ = false;
};

}  // namespace dfs::replication
