// A fixed pool of threads running queued jobs, as cpp-httplib's TaskQueue
// (our servers' new_task_queue, see UseThreadPool). Ours rather than
// httplib::ThreadPool because Debian's cpp-httplib is built without
// ThreadSanitizer: jobs handed through its locks look like races to TSan.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

namespace dfs {

class WorkerPool : public httplib::TaskQueue {
 public:
  explicit WorkerPool(size_t threads);
  ~WorkerPool() override;  // shutdown()
  void enqueue(std::function<void()> job) override;
  // Runs the jobs already queued, then joins the threads.
  void shutdown() override;

 private:
  void Work();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace dfs
