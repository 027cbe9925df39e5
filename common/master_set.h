// MasterSet: the masters a client process may send a request to (a
// comma-separated list of URLs: several masters over one database, or one
// load balancer), and the failover rule every client of the master follows
// (DfsClient for the CLI and the mount, storage nodes, the replicator).
//
// Invariants:
//  - A request goes to the current master first; when that master cannot be
//    reached (refused, reset, timed out) or answers 503, the next one in the
//    list is tried at once, each master at most once per round, and the first
//    master that answers becomes current for every later request (sticky, so
//    a dead master costs one retry, not one per request).
//  - An answer is final: 4xx, 5xx other than 502/503/504, 2xx are returned as
//    they are and never sent to another master.
//  - A request that may have reached a master (the connection broke after it
//    was sent, or a 502/504 from a proxy) is sent again only when it is safe
//    to: Resend::kSafe (reads, and writes the master recognises when repeated,
//    such as a PUT with an Idempotency-Key). Otherwise the round stops there
//    with an Unavailable status that says the outcome is unknown.
//  - One URL behaves exactly as before: one attempt per round.
// Thread-safe: the list is immutable, "current" is an atomic index.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/http_util.h"
#include "common/status.h"

namespace dfs {

// How one attempt against one master ended.
enum class Reach {
  kAnswered,     // the master answered (any status but 502/503/504): final
  kNotSent,      // nothing reached a master (connection refused, connect timeout)
  kUnavailable,  // the master (or the balancer) answered 503: not done, try another
  kMaybeDone,    // sent, but the answer was lost (reset, read timeout) or a 502/504
};

struct MasterAttempt {
  Status status;
  Reach reach = Reach::kAnswered;
};

// The status of a client call's outcome (StatusFromResult) and how far it got.
MasterAttempt AttemptFrom(const httplib::Result& result);
// The same for an answer read by the caller itself (a streamed GET).
MasterAttempt AttemptFromResponse(int http_status, const std::string& body);
// For attempts whose outcome the caller judged itself (a bad md5, a local error).
MasterAttempt Answered(Status status);

enum class Resend { kSafe, kUnsafe };

// True when an attempt that ended so may be repeated (on this or another
// master) for a request with that resend rule.
bool MayResend(const MasterAttempt& attempt, Resend resend);

class MasterSet {
 public:
  // "URL[,URL...]": each as ParseEndpoint takes it; blanks around commas are
  // ignored; an empty list or a bad URL is InvalidArgument.
  static Result<std::shared_ptr<MasterSet>> Parse(std::string_view list);
  explicit MasterSet(std::vector<Endpoint> masters);

  size_t size() const { return masters_.size(); }
  const std::vector<Endpoint>& masters() const { return masters_; }
  Endpoint current() const { return masters_[current_.load() % masters_.size()]; }
  // The URLs, comma-separated (for logs and messages).
  std::string ToString() const;

  // One round: `attempt` against the current master, then the next ones as
  // the rules above allow. Returns the last attempt (its status names the
  // master when no master could be reached).
  MasterAttempt Call(Resend resend, const std::function<MasterAttempt(const Endpoint&)>& attempt) const;

 private:
  std::vector<Endpoint> masters_;
  mutable std::atomic<size_t> current_{0};
};

}  // namespace dfs
