// Admission of requests to a server's workers by route class, so that
// control traffic (heartbeats, registration, replication reports, metadata
// calls) never waits behind data transfers (file and blob bodies, which a
// slow client can hold for minutes). Each class is a Lane: its own workers
// and a bounded queue in front of them. A request whose lane is full is
// answered 503 with Retry-After at once (BusyAnswer), never queued without
// bound.
//
// Invariant: a lane's admitted count (requests running or queued on it) is
// never above threads + queue; it drops when the job it admitted returns.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <httplib.h>

namespace dfs {

enum class RequestClass { kControl, kData };
const char* ToString(RequestClass c);

// The method and path (query cut off, still percent-encoded) of the request
// line at the start of `head`; both empty when it is not one.
struct RequestLine {
  std::string_view method;
  std::string_view path;
};
RequestLine PeekRequestLine(std::string_view head);

struct LaneLimits {
  size_t threads = 8;
  size_t queue = 0;  // admitted beyond `threads`, waiting for a worker
};

struct AdmissionConfig {
  LaneLimits control{4, 256};
  LaneLimits data{CPPHTTPLIB_THREAD_POOL_COUNT, 16};
  std::chrono::seconds retry_after{1};
  // The class of a request from its request line; unset: every request is data.
  std::function<RequestClass(const RequestLine&)> classify;
  // Called (on the accepting thread: must be quick) for each request refused with 503.
  std::function<void(RequestClass)> on_refused;
};

// Workers for one class of requests, with admission bounded by LaneLimits.
class Lane {
 public:
  explicit Lane(LaneLimits limits);
  ~Lane();  // Shutdown()
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;

  // Queues `job` unless threads + queue jobs are admitted already; false then.
  [[nodiscard]] bool TryRun(std::function<void()> job);
  // Runs the jobs already queued, then joins the workers.
  void Shutdown();
  size_t admitted() const { return admitted_.load(); }
  // Whether a worker is free for the next job (asked by a running job: it counts itself).
  bool HasIdleWorker() const { return admitted_.load() < threads_; }

 private:
  const size_t threads_;
  const size_t max_admitted_;
  std::atomic<size_t> admitted_{0};
  std::unique_ptr<httplib::TaskQueue> workers_;
};

// The whole 503 answer (JSON error body `unavailable`, Retry-After,
// Connection: close) for a request refused because its lane is full.
std::string BusyAnswer(RequestClass c, std::chrono::seconds retry_after);

}  // namespace dfs
