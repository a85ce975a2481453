#pragma once

// A bounded set of threads for handler work that blocks (a streamed export
// waits for its reader), so that the I/O threads hand it over and move on.
// At most `tasks_max` tasks are accepted at once; beyond that TryRun refuses
// and the caller answers 503, rather than queueing without bound.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace runledger::server {

class WorkerPool {
 public:
  explicit WorkerPool(std::size_t tasks_max) : tasks_max_(tasks_max) {}
  ~WorkerPool() { Stop(); }

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs `task` on a pool thread (threads start on first need, at most
  // tasks_max) and returns true; false when tasks_max tasks are running or
  // Stop() was called. Any thread.
  bool TryRun(std::function<void()> task);

  // Tasks accepted and not yet ended (their captures destroyed). Any thread.
  std::size_t running() const;
  // Set by Stop(): long tasks should look at it and end early. Any thread.
  bool stopping() const { return stopping_.load(std::memory_order_relaxed); }

  // Refuses new tasks, waits for the accepted ones to end and joins the
  // threads. It cannot interrupt a task: tasks must end on their own.
  // Idempotent; never from a pool thread.
  void Stop();

 private:
  void Loop();

  const std::size_t tasks_max_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queued_;
  std::size_t running_ = 0;  // queued + being run; never above threads_.size()
  std::vector<std::thread> threads_;
};

}  // namespace runledger::server
