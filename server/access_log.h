#pragma once

// The access log: one JSON line per answered request, written in chunks by
// a thread of its own. Writing each line from the I/O thread cost it a
// system call per request. A line waits at most kFlushInterval, or until
// kChunkBytes are pending, or until the log is destroyed.

#include <chrono>
#include <condition_variable>
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

  explicit AccessLog(std::ostream& sink);
  ~AccessLog();  // writes what is pending
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // `line` ends with a newline. Thread-safe.
  void Write(std::string_view line);

 private:
  void Loop();

  std::ostream& sink_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::string pending_;
  bool stopping_ = false;
  std::thread writer_;  // last: starts once the rest exists
};

}  // namespace runledger::server
