#pragma once

// One HTTP/1.1 connection. Everything below runs on the connection's strand
// (the socket's executor); other threads reach a session only by posting
// through the ServerCore's gate (Exchange, SseStream, HttpServer::Stop).
//
// TLS: with ServerOptions::tls the stream is TLS over TCP, and the session
// starts with the handshake (header_timeout, like a header); everything
// after it is the same for HTTP and HTTPS.
//
// Reading: header (header_timeout, header_limit_bytes) -> Handler::BodyLimit
// -> body (body_timeout, that limit) -> Handler::Handle, then the next
// request is read ahead while answers are pending, up to pipeline_depth.
// Between requests, when nothing is pending, the idle timer runs instead of
// a read deadline, so a slow answer never looks like an idle client.
//
// Writing: `slots_` holds one entry per request in arrival order; the front
// slot is written as soon as its answer is there, so answers leave in
// request order whatever order the handler produces them in. A slot that
// became a stream (SSE, or a body from StartBody) stays at the front until
// the connection ends.
//
// Closing: Terminate() drops the connection at once (errors, deadlines,
// SSE overflow, an aborted body); CloseAfterWrite() half-closes after a
// final response and, if the client sent more than was read, discards its
// input for at most kLingerTimeout, so the client reads that response
// instead of a reset. Over TLS it first sends close_notify, and always
// discards (see HalfClose), all within that same kLingerTimeout.
//
// Lifetime: pending operations hold the session (shared_from_this);
// Exchanges and streams hold it weakly. While an answer is awaited and no
// operation is pending (no more requests will be read: Connection: close,
// HTTP/1.0, a client that half-closed), the session holds itself, so the
// late answer is still written. Once Terminate() has run and the operations
// have completed, it is destroyed and leaves the registry.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "server/connection_stream.h"
#include "server/http.h"
#include "server/internal/server_core.h"

namespace runledger::server::internal {

class SseStream;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(boost::asio::ip::tcp::socket socket,
          std::shared_ptr<ServerCore> core);
  ~Session();

  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Registers with the core and starts reading. Call once, right after
  // construction, from the accepting thread.
  void Start();
  // Any thread. Drain: read no more requests, close streams, answer what
  // is in flight, then close. Abort: close now.
  void Drain();
  void Abort();

  // Runs `fn(session)` on the session's strand if the session and the
  // io_context are still there (see PostGate); false otherwise. Any thread.
  template <typename Fn>
  static bool Post(ServerCore& core, const std::weak_ptr<Session>& weak,
                   Fn&& fn);

  // Strand only (posted by ExchangeImpl / SseStream).
  void OnAnswer(std::uint64_t seq, std::optional<Response> response);
  void OnStreamStart(std::uint64_t seq, Response headers,
                     std::shared_ptr<SseStream> stream);
  void OnStreamActivity(const std::shared_ptr<SseStream>& stream);

 private:
  struct Slot {
    std::uint64_t seq = 0;
    unsigned version = 11;
    bool keep_alive = true;  // the request allows another one after it
    bool head = false;       // HEAD: write the header only
    std::string request_id;
    std::optional<Response> response;   // the answer, once given
    std::shared_ptr<SseStream> stream;  // set if the answer is a stream
    bool stream_header_sent = false;
  };

  // --- Reading (session.cc). ---
  void DoStart();
  void OnHandshake(boost::beast::error_code ec);
  void Pump();
  void DoRead();
  void DoWaitForRequest();
  void OnWaitForRequest(boost::beast::error_code ec, std::size_t bytes);
  void DoReadHeader();
  void OnReadHeader(boost::beast::error_code ec, std::size_t bytes);
  void DoReadBody();
  void OnReadBody(boost::beast::error_code ec, std::size_t bytes);
  void DoWriteContinue();
  void OnWriteContinue(boost::beast::error_code ec, std::size_t bytes);
  void Dispatch();
  void Reject(unsigned status, std::string_view code, std::string detail);
  void RejectBody();
  void DoDiscard();
  void OnDiscard(boost::beast::error_code ec, std::size_t bytes);

  // --- Timers and closing (session.cc). ---
  void ArmTimer(std::chrono::milliseconds after);
  void DisarmTimer();
  void OnTimer(std::uint64_t generation, boost::beast::error_code ec);
  void DoDrain();
  void CloseAfterWrite();
  void OnCloseNotify(boost::beast::error_code ec);
  void HalfClose();
  void Terminate();

  // --- Writing (session_write.cc). ---
  Slot* FindSlot(std::uint64_t seq);
  void Finalize(const Slot& slot, Response& response) const;
  void DoWrite();
  void OnWrite(boost::beast::error_code ec, std::size_t bytes);
  void DoWriteStreamHeader(Slot& slot);
  void OnWriteStreamHeader(boost::beast::error_code ec, std::size_t bytes);
  void DoWriteStreamBody(Slot& slot);
  void OnWriteStreamBody(boost::beast::error_code ec, std::size_t bytes);
  void StartHeartbeat();
  void OnHeartbeat(boost::beast::error_code ec);

  const std::shared_ptr<ServerCore> core_;
  const std::uint64_t id_;
  ConnectionStream stream_;  // TCP, or TLS over TCP
  const boost::asio::any_io_executor executor_;
  boost::beast::flat_buffer buffer_;

  std::optional<http::request_parser<http::empty_body>> header_parser_;
  std::optional<http::request_parser<http::string_body>> body_parser_;
  std::string request_id_;        // of the request being read
  std::uint64_t body_limit_ = 0;  // of the request being read
  std::uint64_t requests_read_ = 0;
  std::uint64_t next_seq_ = 0;
  std::deque<Slot> slots_;

  // In flight on the socket; kept here (not in slots_) so Terminate() never
  // frees a buffer an operation still points at.
  std::optional<Response> outgoing_;
  std::optional<http::response_serializer<http::string_body>> serializer_;
  std::vector<std::string> frames_;
  std::string chunk_prefix_;
  std::size_t frames_bytes_ = 0;
  std::vector<boost::asio::const_buffer> gather_;

  boost::asio::steady_timer timer_;      // idle, then linger deadline
  std::uint64_t timer_generation_ = 0;   // stale expiries are ignored
  bool timer_armed_ = false;
  boost::asio::steady_timer heartbeat_;  // SSE keep-alive comments
  bool heartbeat_due_ = false;
  bool stream_chunked_ = false;  // HTTP/1.1 stream: chunked framing
  bool last_chunk_ = false;      // the stream's last chunk is being written

  bool reading_ = false;     // a read is pending on the socket
  bool waiting_for_request_ = false;  // ... for the next request's first byte
  bool writing_ = false;     // a write is pending on the socket
  bool no_more_requests_ = false;  // Connection: close, EOF, or rejected
  bool streaming_ = false;   // a slot became a stream; reads only discard
  bool draining_ = false;    // HttpServer::Stop()
  bool closing_ = false;     // half-closed after the final response
  bool terminated_ = false;  // socket closed; wait for pending ops
  // Set while answers are awaited with no operation pending (see Lifetime).
  std::shared_ptr<Session> self_;
};

template <typename Fn>
bool Session::Post(ServerCore& core, const std::weak_ptr<Session>& weak,
                   Fn&& fn) {
  bool posted = false;
  core.gate().Run([&] {
    std::shared_ptr<Session> session = weak.lock();
    if (!session) return;
    const boost::asio::any_io_executor& executor = session->executor_;
    boost::asio::post(executor, [session = std::move(session),
                                 fn = std::forward<Fn>(fn)]() mutable {
      fn(*session);
    });
    posted = true;
  });
  return posted;
}

}  // namespace runledger::server::internal
