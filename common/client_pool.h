// Keep-alive connections to other dfs servers (the master's to its storage
// nodes), reused across requests instead of one TCP connection per call.
// Per endpoint at most Limits::idle connections wait for reuse; a connection
// goes back only when its exchange ended cleanly (Lease::Keep()), and one idle
// longer than Limits::max_idle is dropped (servers close idle keep-alive
// connections after min(5 s, their read timeout), at least 1 s). A client in
// use belongs to one caller: httplib::Client is not thread-safe.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <httplib.h>

#include "common/http_util.h"
#include "common/status.h"

namespace dfs {

class ClientPool {
 public:
  struct Limits {
    size_t idle = 8;  // per endpoint
    std::chrono::milliseconds max_idle{900};
  };

  // One client, returned to its pool on destruction if Keep() was called.
  class Lease {
   public:
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    httplib::Client* operator->() const { return client_.get(); }
    httplib::Client& operator*() const { return *client_; }
    // The request answered in full: the connection may serve another one.
    void Keep() { keep_ = true; }

   private:
    friend class ClientPool;
    Lease(ClientPool* pool, std::string key, std::unique_ptr<httplib::Client> client)
        : pool_(pool), key_(std::move(key)), client_(std::move(client)) {}
    ClientPool* pool_;
    std::string key_;
    std::unique_ptr<httplib::Client> client_;
    bool keep_ = false;
  };

  explicit ClientPool(ClientTimeouts timeouts) : ClientPool(timeouts, Limits{}) {}
  ClientPool(ClientTimeouts timeouts, Limits limits) : timeouts_(timeouts), limits_(limits) {}
  ClientPool(const ClientPool&) = delete;
  ClientPool& operator=(const ClientPool&) = delete;

  // An idle connection to `url` when there is a fresh one, else a new client (MakeClient).
  [[nodiscard]] Result<Lease> Acquire(const std::string& url);
  Lease Acquire(const Endpoint& ep);
  size_t idle() const;  // connections waiting for reuse, all endpoints

 private:
  using Clock = std::chrono::steady_clock;
  struct Idle {
    std::unique_ptr<httplib::Client> client;
    Clock::time_point since;
  };
  void Return(const std::string& key, std::unique_ptr<httplib::Client> client);

  const ClientTimeouts timeouts_;
  const Limits limits_;
  mutable std::mutex mu_;
  std::map<std::string, std::deque<Idle>> idle_;  // newest at the back
};

}  // namespace dfs
