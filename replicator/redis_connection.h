// RedisConnection: one hiredis connection with RAII, lazy (re)connect and
// timeouts. Not thread-safe: each thread owns its own connection (or guards
// it with a mutex, as ReplicationQueue does).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <hiredis/hiredis.h>

#include "common/status.h"

namespace dfs::replication {

struct RedisAddress {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;  // empty: no AUTH
};

// "host:port" (port defaults to 6379); an optional "redis://" prefix is accepted.
Result<RedisAddress> ParseRedisAddress(std::string_view text);

struct RedisReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using RedisReply = std::unique_ptr<redisReply, RedisReplyDeleter>;

class RedisConnection {
 public:
  explicit RedisConnection(RedisAddress address,
                           std::chrono::milliseconds connect_timeout = std::chrono::milliseconds(1000),
                           std::chrono::milliseconds command_timeout = std::chrono::milliseconds(5000));

  // Runs one command. Connects first if needed. A transport failure drops
  // the connection (the next call reconnects) and is Unavailable; an error
  // reply ("-ERR ...") is returned as a reply of type REDIS_REPLY_ERROR.
  // `extra_timeout` extends the read timeout (for BLOCK commands).
  Result<RedisReply> Command(const std::vector<std::string>& argv,
                             std::chrono::milliseconds extra_timeout = std::chrono::milliseconds(0));

  bool connected() const { return ctx_ != nullptr; }
  void Disconnect() { ctx_.reset(); }
  const RedisAddress& address() const { return address_; }

 private:
  Status Connect();
  struct ContextDeleter {
    void operator()(redisContext* c) const { redisFree(c); }
  };
  RedisAddress address_;
  std::chrono::milliseconds connect_timeout_;
  std::chrono::milliseconds command_timeout_;
  std::unique_ptr<redisContext, ContextDeleter> ctx_;
};

// Helpers to read replies without repeating type checks.
bool IsError(const redisReply* r);
std::string ReplyString(const redisReply* r);  // string/status/error text, or ""

}  // namespace dfs::replication
