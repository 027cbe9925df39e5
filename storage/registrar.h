// Registrar: joins the cluster and keeps the node alive in the master's eyes
// by sending PUT /api/v1/nodes/<id> at start and every heartbeat interval.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "common/http_util.h"
#include "storage/blob_store.h"

namespace dfs::storage {

class Registrar {
 public:
  Registrar(const BlobStore& store, Endpoint master, std::string node_id, std::string advertise_url,
            std::chrono::milliseconds interval);
  ~Registrar();  // stops the thread
  void Start();
  void Stop();
  // One registration/heartbeat call (used by Start's loop; public for tests).
  Status SendOnce();

 private:
  void Loop();

  const BlobStore& store_;
  Endpoint master_;
  std::string node_id_;
  std::string advertise_url_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace dfs::storage
