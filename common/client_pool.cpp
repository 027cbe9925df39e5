#include "common/client_pool.h"

namespace dfs {

ClientPool::Lease::~Lease() {
  if (keep_ && client_ && pool_) pool_->Return(key_, std::move(client_));
}

Result<ClientPool::Lease> ClientPool::Acquire(const std::string& url) {
  auto ep = ParseEndpoint(url);
  if (!ep.ok()) return ep.status();
  return Acquire(*ep);
}

ClientPool::Lease ClientPool::Acquire(const Endpoint& ep) {
  std::string key = ep.ToUrl();
  std::unique_ptr<httplib::Client> reused;
  {
    std::lock_guard lock(mu_);
    auto& idle = idle_[key];
    const auto stale = Clock::now() - limits_.max_idle;
    while (!idle.empty() && idle.front().since < stale) idle.pop_front();  // oldest first
    if (!idle.empty()) {
      reused = std::move(idle.back().client);
      idle.pop_back();
    }
  }
  if (!reused) reused = MakeClient(ep, timeouts_);
  return Lease(this, std::move(key), std::move(reused));
}

void ClientPool::Return(const std::string& key, std::unique_ptr<httplib::Client> client) {
  std::lock_guard lock(mu_);
  auto& idle = idle_[key];
  idle.push_back({std::move(client), Clock::now()});
  while (idle.size() > limits_.idle) idle.pop_front();
}

size_t ClientPool::idle() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [key, list] : idle_) n += list.size();
  return n;
}

}  // namespace dfs
