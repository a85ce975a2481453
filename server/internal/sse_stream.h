#pragma once

// The EventStream a session hands out from Exchange::StartStream. The API
// side (any thread) only queues frames under a mutex; the owning session
// takes them on its strand and writes them. A post to the strand is made
// only when the writer may be idle, so a burst of Writes costs one post.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "server/http.h"

namespace runledger::server::internal {

class ServerCore;
class Session;

class SseStream final : public EventStream,
                        public std::enable_shared_from_this<SseStream> {
 public:
  // An open stream of `session`, registered with `core` (see Open()).
  SseStream(std::shared_ptr<ServerCore> core, std::weak_ptr<Session> session);
  // A stream whose connection is already gone: closed from the start.
  explicit SseStream(std::shared_ptr<ServerCore> core);
  ~SseStream() override;

  // Registers with the core, for open_streams() and Stop().
  void Open();

  // EventStream; any thread.
  bool Write(std::string frame) override;
  void Close() override;
  bool closed() const override;
  void OnClose(std::function<void()> callback) override;

  // --- Transport side. ---

  // Moves every queued frame to `*out` and returns their bytes, which stay
  // in the backlog until Sent(). Returns 0 when nothing is queued; the next
  // Write then posts to the session again. Session strand.
  std::size_t TakeQueued(std::vector<std::string>* out);
  // `bytes` taken by TakeQueued reached the socket. Session strand.
  void Sent(std::size_t bytes);

  // True once the backlog overflowed: the connection must be dropped.
  bool overflowed() const;
  // True once Close() was called: flush, then end.
  bool close_requested() const;

  // Marks the stream closed and runs the close callbacks, once. With
  // `discard`, also drops unsent frames (the connection is gone). Any
  // thread; never while holding a lock the callbacks may need.
  void Finish(bool discard);

 private:
  // Posts OnStreamActivity to the session's strand.
  void Notify();

  const std::shared_ptr<ServerCore> core_;
  const std::weak_ptr<Session> session_;
  const std::uint64_t id_;

  mutable std::mutex mutex_;
  bool closed_ = false;          // Write refuses frames
  bool close_requested_ = false; // Close() called
  bool overflowed_ = false;      // backlog bound passed
  bool finished_ = false;        // callbacks ran (or are running)
  bool notify_pending_ = false;  // the session will look at the queue
  std::deque<std::string> queue_;
  std::size_t backlog_bytes_ = 0;  // queued + taken but not yet Sent
  std::vector<std::function<void()>> on_close_;
};

}  // namespace runledger::server::internal
