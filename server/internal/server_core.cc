#include "server/internal/server_core.h"

namespace runledger::server::internal {

void ServerCore::AddSession(std::uint64_t id, std::weak_ptr<Session> session) {
  std::lock_guard lock(mutex_);
  sessions_.emplace(id, std::move(session));
}

void ServerCore::RemoveSession(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  sessions_.erase(id);
  if (sessions_.empty()) sessions_gone_.notify_all();
}

std::vector<std::shared_ptr<Session>> ServerCore::Sessions() {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<Session>> live;
  live.reserve(sessions_.size());
  for (auto& [id, weak] : sessions_) {
    if (auto session = weak.lock()) live.push_back(std::move(session));
  }
  return live;
}

std::size_t ServerCore::session_count() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

bool ServerCore::WaitForNoSessions(
    std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return sessions_gone_.wait_until(lock, deadline,
                                   [this] { return sessions_.empty(); });
}

void ServerCore::AddStream(std::uint64_t id, std::weak_ptr<SseStream> stream) {
  std::lock_guard lock(mutex_);
  streams_.emplace(id, std::move(stream));
}

void ServerCore::RemoveStream(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  streams_.erase(id);
}

std::vector<std::shared_ptr<SseStream>> ServerCore::Streams() {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<SseStream>> live;
  live.reserve(streams_.size());
  for (auto& [id, weak] : streams_) {
    if (auto stream = weak.lock()) live.push_back(std::move(stream));
  }
  return live;
}

std::size_t ServerCore::stream_count() const {
  std::lock_guard lock(mutex_);
  return streams_.size();
}

void ServerCore::RecordBodyBacklog(std::size_t bytes) {
  std::size_t peak = body_backlog_peak_bytes_.load();
  while (bytes > peak && !body_backlog_peak_bytes_.compare_exchange_weak(peak, bytes)) {
  }
}

}  // namespace runledger::server::internal
