// Registrar: joins the cluster and keeps the node alive in the master's eyes
// by sending PUT /api/v1/nodes/<id> at start and every heartbeat interval, to
// whichever master answers (MasterSet: a dead master costs a retry on the
// next one; a heartbeat is safe to repeat). All masters share one node table.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "common/master_set.h"
#include "storage/blob_store.h"

namespace dfs::storage {

class Registrar {
 public:
  Registrar(const BlobStore& store, std::shared_ptr<const MasterSet> masters, std::string node_id, std::string advertise_url,
            std::chrono::milliseconds interval);
  ~Registrar();  // stops the thread
  void Start();
  void Stop();
  // One registration/heartbeat call (used by Start's loop; public for tests).
  Status SendOnce();

 private:
  void Loop();

  const BlobStore& store_;
  std::shared_ptr<const MasterSet> masters_;
  std::string answered_;  // the master that took the last heartbeat (Loop's thread only)
  std::string node_id_;
  std::string advertise_url_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace dfs::storage
