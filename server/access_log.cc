#include "server/access_log.h"

namespace runledger::server {

AccessLog::AccessLog(std::ostream& sink) : sink_(sink), writer_([this] { Loop(); }) {}

AccessLog::~AccessLog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_one();
  writer_.join();
}

void AccessLog::Write(std::string_view line) {
  bool full = false;
  {
    std::lock_guard lock(mutex_);
    pending_.append(line);
    full = pending_.size() >= kChunkBytes;
  }
  if (full) cv_.notify_one();
}

void AccessLog::Loop() {
  std::string chunk;
  std::unique_lock lock(mutex_);
  for (;;) {
    cv_.wait_for(lock, kFlushInterval, [this] { return stopping_ || pending_.size() >= kChunkBytes; });
    chunk.swap(pending_);
    const bool last = stopping_;
    lock.unlock();
    if (!chunk.empty()) {
      sink_.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      sink_.flush();
      chunk.clear();
    }
    if (last) return;
    lock.lock();
  }
}

}  // namespace runledger::server
