#pragma once

// State shared by the HttpServer, its sessions, and the Exchanges and event
// streams they hand to the API layer — which may keep those past the
// connection and even past the server. Private to server/.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "server/http.h"
#include "server/http_server.h"

namespace runledger::server::internal {

class Session;
class SseStream;

// Guards every touch of the io_context from outside it. An Exchange or
// stream may outlive the server, and asio objects — a strand executor
// copy, a session — must not outlive the io_context (destroying a strand
// after it locks a freed mutex). So they hold sessions weakly, and lock,
// post and release only inside Run(). HttpServer::Stop() closes the gate
// after joining the I/O threads and before the io_context is destroyed.
class PostGate {
 public:
  // Runs `work` and returns true, unless closed.
  template <typename Work>
  bool Run(Work&& work) {
    std::shared_lock lock(mutex_);
    if (closed_) return false;
    std::forward<Work>(work)();
    return true;
  }

  // Waits for Runs in progress, then refuses all later ones.
  void Close() {
    std::unique_lock lock(mutex_);
    closed_ = true;
  }

 private:
  std::shared_mutex mutex_;
  bool closed_ = false;
};

class ServerCore {
 public:
  ServerCore(ServerOptions options, Handler& handler)
      : options_(std::move(options)), handler_(handler) {}

  const ServerOptions& options() const { return options_; }
  // Only sessions call this, and only while the server runs.
  Handler& handler() { return handler_; }
  PostGate& gate() { return gate_; }

  std::uint64_t NewId() { return next_id_.fetch_add(1) + 1; }

  // The registry of live sessions (registered at accept, removed by the
  // session's destructor) and of open streams (until their close callbacks
  // run). Thread-safe.
  void AddSession(std::uint64_t id, std::weak_ptr<Session> session);
  void RemoveSession(std::uint64_t id);
  std::vector<std::shared_ptr<Session>> Sessions();
  std::size_t session_count() const;
  // Waits until no session is registered; false if `deadline` passed first.
  bool WaitForNoSessions(std::chrono::steady_clock::time_point deadline);

  void AddStream(std::uint64_t id, std::weak_ptr<SseStream> stream);
  void RemoveStream(std::uint64_t id);
  std::vector<std::shared_ptr<SseStream>> Streams();
  std::size_t stream_count() const;

  // Streamed bodies (SseStream in body mode): the peak unsent backlog, and
  // the writers waiting for room. Thread-safe.
  void RecordBodyBacklog(std::size_t bytes);
  std::size_t body_backlog_peak_bytes() const { return body_backlog_peak_bytes_.load(); }
  void BodyWriterWaits(bool waiting) {
    if (waiting) {
      body_writers_waiting_.fetch_add(1);
    } else {
      body_writers_waiting_.fetch_sub(1);
    }
  }
  std::size_t body_writers_waiting() const { return body_writers_waiting_.load(); }

 private:
  const ServerOptions options_;
  Handler& handler_;
  PostGate gate_;
  std::atomic<std::uint64_t> next_id_{0};
  std::atomic<std::size_t> body_backlog_peak_bytes_{0};
  std::atomic<std::size_t> body_writers_waiting_{0};

  mutable std::mutex mutex_;
  std::condition_variable sessions_gone_;
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> sessions_;
  std::unordered_map<std::uint64_t, std::weak_ptr<SseStream>> streams_;
};

}  // namespace runledger::server::internal
