#pragma once

// The stream a session hands out from Exchange::StartStream (an EventStream
// of SSE frames) or Exchange::StartBody (a streamed body, through
// StreamBodyWriter). The API side (any thread) only queues bytes under a
// mutex; the owning session takes them on its strand and writes them. A post
// to the strand is made only when the writer may be idle, so a burst of
// Writes costs one post.
//
// The two modes differ only in what a full backlog does: an event stream
// drops its reader (who reconnects with Last-Event-ID); a body makes its
// writer wait (the bytes cannot be sent again), and the session's write
// deadline cuts a reader that stops reading, which wakes the writer.

#include <condition_variable>
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

enum class StreamMode {
  kEvents,  // SSE: heartbeats; a backlog over sse_backlog_bytes drops the reader
  kBody,    // StartBody: Write waits for room under body_backlog_bytes
};

class SseStream final : public EventStream,
                        public std::enable_shared_from_this<SseStream> {
 public:
  // An open stream of `session`, registered with `core` (see Open()).
  SseStream(std::shared_ptr<ServerCore> core, std::weak_ptr<Session> session, StreamMode mode);
  // A stream whose connection is already gone: closed from the start.
  explicit SseStream(std::shared_ptr<ServerCore> core);
  ~SseStream() override;

  // Registers with the core, for open_streams() and Stop().
  void Open();
  StreamMode mode() const { return mode_; }

  // EventStream (kEvents); any thread.
  bool Write(std::string frame) override;
  void Close() override;
  bool closed() const override;
  void OnClose(std::function<void()> callback) override;

  // BodyWriter (kBody); any thread but an I/O thread. Write waits for room;
  // Finish is Close(); Abort asks the session to cut the connection.
  bool WriteWhenRoom(std::string chunk);
  void Abort();

  // HttpServer::Stop(): an event stream ends cleanly (its reader reconnects
  // elsewhere); a body that was not finished is cut, as it is not whole.
  void EndForShutdown();

  // --- Transport side. ---

  // Moves every queued frame to `*out` and returns their bytes, which stay
  // in the backlog until Sent(). Returns 0 when nothing is queued; the next
  // Write then posts to the session again. Session strand.
  std::size_t TakeQueued(std::vector<std::string>* out);
  // `bytes` taken by TakeQueued reached the socket. Session strand.
  void Sent(std::size_t bytes);

  // True once the backlog overflowed (kEvents) or Abort() was called
  // (kBody): the connection must be dropped without ending the response.
  bool cut_requested() const;
  // True once Close() was called: flush, then end.
  bool close_requested() const;

  // Marks the stream closed, wakes a waiting writer and runs the close
  // callbacks, once. With `discard`, also drops unsent frames (the
  // connection is gone). Any thread; never while holding a lock the
  // callbacks may need.
  void Finish(bool discard);

 private:
  // Posts OnStreamActivity to the session's strand.
  void Notify();

  const std::shared_ptr<ServerCore> core_;
  const std::weak_ptr<Session> session_;
  const std::uint64_t id_;
  const StreamMode mode_;

  mutable std::mutex mutex_;
  std::condition_variable room_;  // kBody: the backlog shrank or the stream closed
  bool closed_ = false;           // Write refuses frames
  bool close_requested_ = false;  // Close() called
  bool cut_requested_ = false;    // backlog bound passed (kEvents), Abort() (kBody)
  bool finished_ = false;         // callbacks ran (or are running)
  bool notify_pending_ = false;   // the session will look at the queue
  std::deque<std::string> queue_;
  std::size_t backlog_bytes_ = 0;  // queued + taken but not yet Sent
  std::vector<std::function<void()>> on_close_;
};

// The BodyWriter of Exchange::StartBody, over a kBody stream.
class StreamBodyWriter final : public BodyWriter {
 public:
  explicit StreamBodyWriter(std::shared_ptr<SseStream> stream) : stream_(std::move(stream)) {}
  ~StreamBodyWriter() override { stream_->Abort(); }  // nothing after Finish()

  bool Write(std::string chunk) override { return stream_->WriteWhenRoom(std::move(chunk)); }
  void Finish() override { stream_->Close(); }
  void Abort() override { stream_->Abort(); }

 private:
  const std::shared_ptr<SseStream> stream_;
};

}  // namespace runledger::server::internal
