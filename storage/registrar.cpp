// Registrar: the heartbeat loop (see registrar.h).
#include "storage/registrar.h"

#include "common/log.h"

namespace dfs::storage {

Registrar::Registrar(const BlobStore& store, std::shared_ptr<const MasterSet> masters, std::string node_id, std::string advertise_url,
                     std::chrono::milliseconds interval)
    : store_(store),
      masters_(std::move(masters)),
      node_id_(std::move(node_id)),
      advertise_url_(std::move(advertise_url)),
      interval_(interval) {}

Registrar::~Registrar() { Stop(); }

void Registrar::Start() { thread_ = std::thread([this] { Loop(); }); }

void Registrar::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status Registrar::SendOnce() {
  Usage u = store_.GetUsage();
  nlohmann::json body = {{"url", advertise_url_}, {"capacity", u.capacity}, {"used", u.used},
                         {"free", u.free},        {"blobs", u.blobs}};
  ClientTimeouts t{std::chrono::milliseconds(1000), std::chrono::milliseconds(3000), std::chrono::milliseconds(3000)};
  const std::string payload = body.dump();
  return masters_->Call(Resend::kSafe, [&](const Endpoint& master) {
    MasterAttempt a = AttemptFrom(MakeClient(master, t)->Put("/api/v1/nodes/" + node_id_, payload, "application/json"));
    if (a.reach == Reach::kAnswered) answered_ = master.ToUrl();
    return a;
  }).status;
}

void Registrar::Loop() {
  bool registered = false;
  int failures = 0;
  std::string last_master;
  for (;;) {
    Status st = SendOnce();
    if (st.ok()) {
      if (!registered || answered_ != last_master) {
        DFS_LOG(INFO, "storage") << "registered node=" << node_id_ << " master=" << answered_;
      }
      last_master = answered_;
      registered = true;
      failures = 0;
    } else {
      // Log the first failure and then every 30th, not every beat.
      if (failures++ % 30 == 0) {
        DFS_LOG(WARN, "storage") << "heartbeat failed node=" << node_id_ << " masters=" << masters_->ToString() << " "
                                 << st.ToString();
      }
      registered = false;
    }
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, interval_, [this] { return stopping_; })) return;
  }
}

}  // namespace dfs::storage
