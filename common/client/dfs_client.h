// DfsClient: the one place where clients (the dfs CLI, the FUSE mount) talk
// to the master: HTTP, failover, retries with backoff, md5 checks. Every call
// is bounded by timeouts. The master URL may be a comma-separated list
// (MasterSet, common/master_set.h): a master that cannot be reached or
// answers 503 costs a retry on the next one within the same attempt; when
// every master failed, transport failures and 5xx (but 507) are retried with
// exponential backoff, 4xx never. A request that may have been carried out
// (its answer was lost) is sent again only when repeating it is harmless (reads, a
// PUT with its Idempotency-Key, ...); a range write or a rename is not.
// Safe to use from many threads; copies share the current master.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/client_pool.h"
#include "common/http_util.h"
#include "common/master_set.h"
#include "common/credentials.h"
#include "common/wire_types.h"
#include "common/status.h"

namespace dfs {

struct ClientOptions {
  std::string master_url = "http://127.0.0.1:8820";  // or "URL,URL,..." (failover)
  ClientTimeouts timeouts{std::chrono::milliseconds(3000), std::chrono::milliseconds(30000),
                          std::chrono::milliseconds(30000)};
  int max_attempts = 5;
  std::chrono::milliseconds base_backoff{200};
  std::chrono::milliseconds max_backoff{3000};
  // Sent with every request (X-Dfs-Uid/-Gid/-Groups) unless a CallerScope on
  // the calling thread names another caller; unset: none (not checked).
  std::optional<Credentials> credentials;
};

// done, total (total 0 when unknown)
using ProgressFn = std::function<void(uint64_t, uint64_t)>;

// What the master says of a name (common/wire_types.h).
using FileInfo = wire::Entry;

struct NodeInfo {
  std::string node_id;
  std::string url;
  std::string state;
  uint64_t capacity = 0;
  uint64_t used = 0;
  uint64_t free = 0;
  uint64_t blobs = 0;
  double last_heartbeat = 0;
};

struct PutOptions {
  std::string conflict = "rename";  // rename | overwrite | fail
  int replicas = -1;                // -1: the cluster's default
  std::optional<int> mode;          // a new file's permission bits (X-Dfs-Mode)
  std::string handle;               // set: the content of the file open as this handle (?handle=)
  bool open_handle = false;         // ?open=1: the answer brings a handle on the stored file
  std::string md5;                  // of the local file when the caller knows it (not read an extra time)
  // ?sync=0: the master answers before its commit is on its disk (the data
  // is on the nodes'); Sync() later makes it durable (docs/namespace.md).
  bool relaxed = false;
  ProgressFn progress;
};

struct PutResult {
  std::string name;
  std::string requested_name;
  bool renamed = false;
  uint64_t size = 0;
  std::string md5;
  std::string node;
  std::string handle;  // with PutOptions::open_handle ("" from an older master)
};

// A body that is still being written while it is sent (the mount's
// write-behind). read(offset, buf, cap) blocks until bytes at `offset` exist
// and copies up to cap of them; 0 means the body ended there; an error
// abandons the upload (the master stores nothing). md5() is called after
// read answered 0: the md5 of the whole body, as its writer hashed it.
struct GrowingBody {
  std::function<Result<size_t>(uint64_t offset, char* buf, size_t cap)> read;
  std::function<std::string()> md5;
};

struct SetAttrRequest {
  std::optional<int> mode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  // Nanoseconds since the epoch, or "now" (the master's clock) when the *_now flag is set.
  std::optional<int64_t> atime_ns;
  std::optional<int64_t> mtime_ns;
  std::optional<double> mtime;  // seconds (the old field; mtime_ns wins)
  bool atime_now = false;
  bool mtime_now = false;
  std::optional<uint64_t> size;
};

// The caller the requests of this thread are made for, while it lives (the
// mount sets one per FUSE request, from the process that made it).
class CallerScope {
 public:
  explicit CallerScope(const Credentials& who);
  ~CallerScope();
  CallerScope(const CallerScope&) = delete;
  CallerScope& operator=(const CallerScope&) = delete;
  static const Credentials* Current();

 private:
  const Credentials* previous_;
};

// The retry decision for client calls: a transport failure or an overloaded
// / failing master may succeed later; an answer about the request (4xx) or a
// full cluster (507) will not.
bool ShouldRetry(const Status& status);

// The timeouts of one PUT of `size` bytes: the master answers only once the
// whole body is spooled and streamed on to a node, so the wait for the answer
// (counted from the last byte sent) gets size / 50 MiB/s on top of `read`.
ClientTimeouts PutTimeouts(const ClientTimeouts& base, uint64_t size);

class DfsClient {
 public:
  explicit DfsClient(ClientOptions options);
  // Validates the master URL.
  static Result<DfsClient> Create(ClientOptions options);

  const ClientOptions& options() const { return options_; }

  Status Healthz() const;
  Result<PutResult> Put(const std::string& local_file, const std::string& remote_name,
                        const PutOptions& options = {}) const;
  // A PUT of a body written while it is sent, in chunked encoding with its
  // md5 trailing it (X-Dfs-Md5: trailing): the master stores its chunks as
  // they arrive and commits at the end. options.md5 and progress are not
  // used. Retried like Put (the body is read again from offset 0), except
  // when the body itself failed.
  Result<PutResult> PutGrowing(const std::string& remote_name, const PutOptions& options,
                               const GrowingBody& body) const;
  // Downloads into a temp file beside local_dest, checks the md5 and renames
  // into place; on any failure nothing is left behind. durable: the file's
  // bytes are on the local disk (fsync) before the rename, so a power
  // failure leaves the old file or the whole new one; otherwise, as cp and
  // curl do, the kernel writes them back when it will.
  Result<FileInfo> Get(const std::string& remote_name, const std::string& local_dest,
                       const ProgressFn& progress = {}, bool durable = false) const;
  // Streams the file into `sink`; the md5 is checked at the end (ChecksumMismatch).
  // Not retried once bytes have reached the sink.
  Result<FileInfo> GetStream(const std::string& remote_name, const std::function<bool(const char*, size_t)>& sink,
                             const ProgressFn& progress = {}) const;
  // Bytes [offset, offset + length) of the file (open as `handle` when one
  // is given; `remote_name` then only names the request) into `sink`, with
  // one Range GET through the master. `restart` runs before every attempt
  // (a retry starts over); nothing here checks an md5: the caller knows the
  // md5 of what it asked for (a chunk's) and checks it.
  Status GetRange(const std::string& remote_name, const std::string& handle, uint64_t offset, uint64_t length,
                  const std::function<bool(const char*, size_t)>& sink, const std::function<void()>& restart) const;
  Result<FileInfo> Stat(const std::string& remote_name) const;
  Result<nlohmann::json> Meta(const std::string& remote_name) const;
  Result<std::vector<FileInfo>> List(const std::string& prefix) const;
  // relaxed: ?sync=0, as PutOptions::relaxed.
  Status Remove(const std::string& remote_name, bool relaxed = false) const;
  // Many names removed in one commit (POST /api/v1/unlink; relaxed: ?sync=0),
  // each only while it is still inode `ino` (0: any): one Status per entry,
  // in order. NotFound for the call itself: the master has no such route.
  Result<std::vector<Status>> RemoveMany(const std::vector<wire::UnlinkEntry>& entries, bool relaxed) const;
  // Every commit the master made so far is on its disk (POST /api/v1/sync;
  // an older master, which has no such route, commits each change fully).
  Status Sync() const;
  Result<std::vector<NodeInfo>> Nodes() const;
  Result<nlohmann::json> Cluster() const;
  // Operators: stop placing on a node and copy its files elsewhere (or undo).
  Status SetNodeDraining(const std::string& node_id, bool draining) const;
  // The replication queue: counts (GET /api/v1/replication), dead letters,
  // and putting a dead letter ("all": every one) back in the queue.
  Result<nlohmann::json> Replication() const;
  Result<nlohmann::json> DeadJobs() const;
  Status RequeueDead(const std::string& id) const;

  // Namespace calls (used by the FUSE mount).
  Result<std::vector<FileInfo>> ListDir(const std::string& dir) const;  // "" = root, every page
  // One page: the entries after `after` (byte order), at most `limit`; *next
  // is set to where the following page starts (empty after the last).
  Result<std::vector<FileInfo>> ListDirPage(const std::string& dir, const std::string& after, size_t limit,
                                            std::string* next) const;
  Result<FileInfo> StatPath(const std::string& path) const;
  Status MakeDir(const std::string& path, int mode = 0755) const;
  Status RemoveDir(const std::string& path) const;
  // flags: "" (replace), "noreplace" or "exchange".
  Status Rename(const std::string& from, const std::string& to, const std::string& flags = "") const;
  Status SetAttr(const std::string& path, const SetAttrRequest& attrs) const;
  Status Symlink(const std::string& path, const std::string& target) const;
  Status Link(const std::string& existing, const std::string& path) const;
  // type: fifo | socket | char | block.
  Status MakeNode(const std::string& path, const std::string& type, int mode, uint64_t rdev) const;
  // Open files (docs/protocol.md, "Open files"): a handle keeps the file
  // (and its content) while it is renewed, even once its last name goes.
  // An older master without handles answers NotFound/InvalidArgument.
  Result<wire::OpenedHandle> OpenHandle(const std::string& path) const;
  Result<FileInfo> StatHandle(const std::string& handle) const;
  Status CloseHandle(const std::string& handle) const;
  // A range write (PUT ?offset=N, docs/protocol.md): `data` at byte
  // `offset` of the file at `path`, or open as `handle` when given. The
  // master refuses (InvalidArgument, TooLarge) what does not fit in one of
  // the file's chunks; the caller then uploads the file whole.
  Status WriteRange(const std::string& path, const std::string& handle, uint64_t offset,
                    const std::string& data) const;
  // Cuts the file at `path` (or open as `handle`) to `size` bytes, at most
  // its size (POST /api/v1/truncate): the master rebuilds the chunk the new
  // end lands in; nothing is sent but the request.
  Status Truncate(const std::string& path, const std::string& handle, uint64_t size) const;
  // Renews every handle; returns the ones the master no longer has.
  Result<std::vector<std::string>> RenewHandles(const std::vector<std::string>& handles) const;

 private:
  using Attempt = std::function<MasterAttempt(const Endpoint&)>;
  // Runs `attempt` (one round over the masters each time) until it
  // succeeds, fails for good, may not be resent, or attempts run out.
  Status WithRetry(const std::string& what, Resend resend, const Attempt& attempt) const;
  // One round over the masters (InvalidArgument when the URL list was bad).
  MasterAttempt Round(Resend resend, const Attempt& attempt) const;
  // A connection to `master` that sends the caller's credentials: a
  // keep-alive one from the pool when there is one (a connection and a
  // server thread less per request); back to it on Keep() (an answered request).
  ClientPool::Lease Connect(const Endpoint& master, const ClientTimeouts& timeouts) const;
  httplib::Headers CallerHeaders() const;
  Result<nlohmann::json> GetJson(const std::string& path) const;
  Status SendJsonRequest(const std::string& method, const std::string& path, const nlohmann::json& body,
                         Resend resend = Resend::kSafe) const;
  // As SendJsonRequest, answering the response's JSON (null for an empty body).
  Result<nlohmann::json> RequestJson(const std::string& method, const std::string& path,
                                     const nlohmann::json& body, Resend resend = Resend::kSafe) const;
  Result<FileInfo> Download(const std::string& remote_name, const std::function<bool(const char*, size_t)>& sink,
                            const std::function<void()>& restart, const ProgressFn& progress,
                            bool retry_after_bytes) const;

  ClientOptions options_;
  std::shared_ptr<MasterSet> masters_;  // shared by copies: one "current" master
  std::shared_ptr<ClientPool> pool_;     // shared by copies too
};

FileInfo FileInfoFromJson(const nlohmann::json& j);
NodeInfo NodeInfoFromJson(const nlohmann::json& j);

}  // namespace dfs
