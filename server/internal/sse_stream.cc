#include "server/internal/sse_stream.h"

#include <algorithm>
#include <utility>

#include "server/internal/server_core.h"
#include "server/internal/session.h"

namespace runledger::server::internal {

SseStream::SseStream(std::shared_ptr<ServerCore> core, std::weak_ptr<Session> session,
                     StreamMode mode)
    : core_(std::move(core)), session_(std::move(session)), id_(core_->NewId()), mode_(mode) {}

SseStream::SseStream(std::shared_ptr<ServerCore> core)
    : core_(std::move(core)), id_(0), mode_(StreamMode::kEvents) {
  closed_ = true;
  finished_ = true;
}

SseStream::~SseStream() {
  // Normally Finish() unregistered us; this covers a stream dropped by a
  // session that never got to run again (the io_context was stopped).
  if (!finished_) core_->RemoveStream(id_);
}

void SseStream::Open() { core_->AddStream(id_, weak_from_this()); }

bool SseStream::Write(std::string frame) {
  bool notify = false;
  bool accepted = false;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    if (backlog_bytes_ + frame.size() > core_->options().sse_backlog_bytes) {
      // The reader is too slow: drop it rather than grow without bound.
      // Always notify: the writer may be stuck on this very reader.
      closed_ = true;
      cut_requested_ = true;
      notify = true;
    } else {
      backlog_bytes_ += frame.size();
      queue_.push_back(std::move(frame));
      accepted = true;
      notify = !notify_pending_;
      notify_pending_ = true;
    }
  }
  if (notify) Notify();
  return accepted;
}

bool SseStream::WriteWhenRoom(std::string chunk) {
  const std::size_t bound = core_->options().body_backlog_bytes;
  bool notify = false;
  {
    std::unique_lock lock(mutex_);
    auto has_room = [&] {
      return closed_ || backlog_bytes_ == 0 || backlog_bytes_ + chunk.size() <= bound;
    };
    if (!has_room()) {
      core_->BodyWriterWaits(true);
      room_.wait(lock, has_room);
      core_->BodyWriterWaits(false);
    }
    if (closed_) return false;
    backlog_bytes_ += chunk.size();
    core_->RecordBodyBacklog(backlog_bytes_);
    queue_.push_back(std::move(chunk));
    notify = !notify_pending_;
    notify_pending_ = true;
  }
  if (notify) Notify();
  return true;
}

void SseStream::Close() {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    close_requested_ = true;
  }
  room_.notify_all();
  Notify();
}

void SseStream::Abort() {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;  // finishing cleanly, or the connection is gone
    closed_ = true;
    cut_requested_ = true;
  }
  room_.notify_all();
  Notify();
}

void SseStream::EndForShutdown() {
  if (mode_ == StreamMode::kBody) {
    Abort();
  } else {
    Close();
  }
}

bool SseStream::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

void SseStream::OnClose(std::function<void()> callback) {
  {
    std::lock_guard lock(mutex_);
    if (!finished_) {
      on_close_.push_back(std::move(callback));
      return;
    }
  }
  callback();
}

std::size_t SseStream::TakeQueued(std::vector<std::string>* out) {
  std::lock_guard lock(mutex_);
  if (queue_.empty()) {
    notify_pending_ = false;
    return 0;
  }
  std::size_t bytes = 0;
  for (std::string& frame : queue_) {
    bytes += frame.size();
    out->push_back(std::move(frame));
  }
  queue_.clear();
  return bytes;
}

void SseStream::Sent(std::size_t bytes) {
  {
    std::lock_guard lock(mutex_);
    backlog_bytes_ -= std::min(bytes, backlog_bytes_);
  }
  room_.notify_all();
}

bool SseStream::cut_requested() const {
  std::lock_guard lock(mutex_);
  return cut_requested_;
}

bool SseStream::close_requested() const {
  std::lock_guard lock(mutex_);
  return close_requested_;
}

void SseStream::Finish(bool discard) {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    if (discard) {
      queue_.clear();
      backlog_bytes_ = 0;
    }
    if (finished_) return;
    finished_ = true;
    callbacks.swap(on_close_);
  }
  room_.notify_all();
  core_->RemoveStream(id_);
  for (auto& callback : callbacks) callback();
}

void SseStream::Notify() {
  // If the session is gone, its teardown (or Stop()) finished this stream.
  Session::Post(*core_, session_, [self = shared_from_this()](Session& session) {
    session.OnStreamActivity(self);
  });
}

}  // namespace runledger::server::internal
