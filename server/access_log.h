#pragma once

// The access log: one JSON line per answered request, written in chunks by
// a thread of its own. Writing each line from the I/O thread cost it a
// system call per request. A line waits at most kFlushInterval, or until
// kChunkBytes are pending, or until the log is destroyed.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>

namespace runledger::server {

class AccessLog {
 public:
  static constexpr std::chrono::milliseconds kFlushInterval{100};
  static constexpr size_t kChunkBytes = 64 << 10;
  // While stderr does not drain, lines past this are dropped (and counted in
  // a line of their own) rather than held in memory or blocking requests.
  static constexpr size_t kPendingMaxBytes = 16 << 20;

  explicit AccessLog(std::ostream& sink, size_t pending_max_bytes = kPendingMaxBytes);
  ~AccessLog();  // writes what is pending
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // `line` ends with a newline. Thread-safe.
  void Write(std::string_view line);

 private:
  void Loop();

  std::ostream& sink_;
  const size_t pending_max_bytes_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::string pending_;
  std::uint64_t dropped_ = 0;
  bool stopping_ = false;
  std::thread writer_;  // last: starts once the rest exists
};

}  // namespace runledger::server
