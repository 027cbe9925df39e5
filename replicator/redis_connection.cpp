#include "replicator/redis_connection.h"

#include <sys/time.h>

#include <charconv>

#include "common/log.h"

namespace dfs::replication {

namespace {
timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}
}  // namespace

Result<RedisAddress> ParseRedisAddress(std::string_view text) {
  if (text.substr(0, 8) == "redis://") text.remove_prefix(8);
  while (!text.empty() && text.back() == '/') text.remove_suffix(1);
  RedisAddress a;
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    a.host = std::string(text);
  } else {
    a.host = std::string(text.substr(0, colon));
    auto port_text = text.substr(colon + 1);
    int port = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port <= 0 || port > 65535) {
      return Status::InvalidArgument("bad redis port in '" + std::string(text) + "'");
    }
    a.port = port;
  }
  if (a.host.empty()) return Status::InvalidArgument("redis address needs a host: '" + std::string(text) + "'");
  return a;
}

bool IsError(const redisReply* r) { return r != nullptr && r->type == REDIS_REPLY_ERROR; }

std::string ReplyString(const redisReply* r) {
  if (r == nullptr) return "";
  if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR) {
    return std::string(r->str, r->len);
  }
  return "";
}

RedisConnection::RedisConnection(RedisAddress address, std::chrono::milliseconds connect_timeout,
                                 std::chrono::milliseconds command_timeout)
    : address_(std::move(address)), connect_timeout_(connect_timeout), command_timeout_(command_timeout) {}

Status RedisConnection::Connect() {
  std::unique_ptr<redisContext, ContextDeleter> ctx(
      redisConnectWithTimeout(address_.host.c_str(), address_.port, ToTimeval(connect_timeout_)));
  if (!ctx) return Status::Unavailable("redis: cannot allocate a context");
  if (ctx->err) {
    return Status::Unavailable("redis " + address_.host + ":" + std::to_string(address_.port) + ": " + ctx->errstr);
  }
  redisSetTimeout(ctx.get(), ToTimeval(command_timeout_));
  if (!address_.password.empty()) {
    const char* argv[] = {"AUTH", address_.password.c_str()};
    size_t lens[] = {4, address_.password.size()};
    RedisReply reply(static_cast<redisReply*>(redisCommandArgv(ctx.get(), 2, argv, lens)));
    if (!reply) return Status::Unavailable(std::string("redis AUTH: ") + ctx->errstr);
    if (IsError(reply.get())) return Status::InvalidArgument("redis AUTH failed: " + ReplyString(reply.get()));
  }
  ctx_ = std::move(ctx);
  DFS_LOG(DEBUG, "redis") << "connected " << address_.host << ":" << address_.port;
  return Status::OK();
}

Result<RedisReply> RedisConnection::Command(const std::vector<std::string>& argv,
                                            std::chrono::milliseconds extra_timeout) {
  if (!ctx_) {
    if (Status st = Connect(); !st.ok()) return st;
  }
  std::vector<const char*> args;
  std::vector<size_t> lens;
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  if (extra_timeout.count() > 0) redisSetTimeout(ctx_.get(), ToTimeval(command_timeout_ + extra_timeout));
  RedisReply reply(
      static_cast<redisReply*>(redisCommandArgv(ctx_.get(), static_cast<int>(args.size()), args.data(), lens.data())));
  if (!reply) {
    std::string err = ctx_->errstr;
    ctx_.reset();
    return Status::Unavailable("redis " + (argv.empty() ? std::string() : argv[0]) + ": " + err);
  }
  if (extra_timeout.count() > 0) redisSetTimeout(ctx_.get(), ToTimeval(command_timeout_));
  return reply;
}

}  // namespace dfs::replication
