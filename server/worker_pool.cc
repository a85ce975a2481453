#include "server/worker_pool.h"

#include <utility>

namespace runledger::server {

bool WorkerPool::TryRun(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping() || running_ >= tasks_max_) return false;
    ++running_;
    queued_.push_back(std::move(task));
    // Every accepted task has a thread free for it: it never waits behind
    // another task.
    if (threads_.size() < running_) threads_.emplace_back([this] { Loop(); });
  }
  wake_.notify_one();
  return true;
}

std::size_t WorkerPool::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

void WorkerPool::Stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    threads.swap(threads_);
  }
  wake_.notify_all();
  for (std::thread& thread : threads) thread.join();
}

void WorkerPool::Loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping() || !queued_.empty(); });
    if (queued_.empty()) return;  // stopping, and every accepted task ran
    std::function<void()> task = std::move(queued_.front());
    queued_.pop_front();
    lock.unlock();
    task();
    task = nullptr;  // its captures go before running() says it ended
    lock.lock();
    --running_;
  }
}

}  // namespace runledger::server
