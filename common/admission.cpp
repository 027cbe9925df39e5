#include "common/admission.h"

#include "common/server_stream.h"
#include "common/worker_pool.h"

namespace dfs {

const char* ToString(RequestClass c) { return c == RequestClass::kControl ? "control" : "data"; }

RequestLine PeekRequestLine(std::string_view head) {
  // RFC 9112 2.2: empty lines before a request line are ignored.
  const size_t start = head.find_first_not_of("\r\n");
  if (start == std::string_view::npos) return {};
  head.remove_prefix(start);
  const size_t line_end = head.find("\r\n");
  std::string_view line = head.substr(0, line_end);
  const size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return {};
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return {};
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  target = target.substr(0, target.find('?'));
  if (target.empty()) return {};
  return {line.substr(0, sp1), target};
}

Lane::Lane(LaneLimits limits)
    : threads_(limits.threads),
      max_admitted_(limits.threads + limits.queue), workers_(std::make_unique<WorkerPool>(limits.threads)) {}

Lane::~Lane() { Shutdown(); }

bool Lane::TryRun(std::function<void()> job) {
  size_t now = admitted_.load();
  do {
    if (now >= max_admitted_) return false;
  } while (!admitted_.compare_exchange_weak(now, now + 1));
  workers_->enqueue([this, job = std::move(job)] {
    job();
    admitted_.fetch_sub(1);
  });
  return true;
}

void Lane::Shutdown() { workers_->shutdown(); }

std::string BusyAnswer(RequestClass c, std::chrono::seconds retry_after) {
  return RefusalAnswer(503, std::string("server busy: every ") + ToString(c) + " worker is taken, retry later",
                       "Retry-After: " + std::to_string(retry_after.count()) + "\r\n");
}

}  // namespace dfs
