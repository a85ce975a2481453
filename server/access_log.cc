#include "server/access_log.h"

namespace runledger::server {

AccessLog::AccessLog(std::ostream& sink, size_t pending_max_bytes)
    : sink_(sink), pending_max_bytes_(pending_max_bytes), writer_([this] { Loop(); }) {}

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
    if (pending_.size() + line.size() > pending_max_bytes_) {
      ++dropped_;
      return;
    }
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
    if (dropped_ > 0) {
      chunk += "{\"access_log_dropped_lines\":" + std::to_string(dropped_) + "}\n";
      dropped_ = 0;
    }
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
