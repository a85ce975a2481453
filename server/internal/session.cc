// Session lifecycle, reading, deadlines and closing. Writing is in
// session_write.cc.

#include "server/internal/session.h"

#include <cstdio>
#include <exception>
#include <string_view>
#include <utility>

#include "server/internal/exchange.h"
#include "server/internal/server_core.h"
#include "server/internal/sse_stream.h"
#include "server/problem.h"

namespace runledger::server::internal {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;

// Read buffer room beyond the header limit, and the size of one read.
constexpr std::size_t kReadChunkBytes = 64 * 1024;
// One read while discarding (a stream's connection, or lingering).
constexpr std::size_t kDiscardChunkBytes = 4 * 1024;
// After the final response, how long the client may keep sending before
// the connection is dropped (see CloseAfterWrite).
constexpr std::chrono::milliseconds kLingerTimeout{1000};
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

bool IsHttpError(const beast::error_code& ec) {
  return ec.category() == beast::error_code(http::error::bad_target).category();
}

bool ExpectsContinue(const http::request_header<>& header) {
  auto it = header.find(http::field::expect);
  return header.version() >= 11 && it != header.end() &&
         beast::iequals(it->value(), "100-continue");
}

}  // namespace

Session::Session(net::ip::tcp::socket socket, std::shared_ptr<ServerCore> core)
    : core_(std::move(core)),
      id_(core_->NewId()),
      stream_(std::move(socket), core_->options().tls.get()),
      executor_(stream_.get_executor()),
      buffer_(core_->options().header_limit_bytes + kReadChunkBytes),
      timer_(executor_),
      heartbeat_(executor_) {}

Session::~Session() {
  // Normally Terminate() finished these; not if the io_context was stopped
  // first, in which case Stop() already ran their callbacks.
  for (Slot& slot : slots_) {
    if (slot.stream) slot.stream->Finish(/*discard=*/true);
  }
  core_->RemoveSession(id_);
}

void Session::Start() {
  core_->AddSession(id_, weak_from_this());
  net::post(executor_, beast::bind_front_handler(&Session::DoStart,
                                                 shared_from_this()));
}

void Session::Drain() {
  Post(*core_, weak_from_this(), [](Session& self) { self.DoDrain(); });
}

void Session::Abort() {
  Post(*core_, weak_from_this(), [](Session& self) { self.Terminate(); });
}

void Session::DoStart() {
  if (!stream_.tls()) return Pump();
  // A client that never finishes its handshake is cut like a slow header.
  // reading_ keeps Pump() from starting a read meanwhile.
  reading_ = true;
  stream_.expires_after(core_->options().header_timeout);
  stream_.async_handshake(net::ssl::stream_base::server,
                          beast::bind_front_handler(&Session::OnHandshake, shared_from_this()));
}

void Session::OnHandshake(beast::error_code ec) {
  reading_ = false;
  if (terminated_) return;
  // Not TLS (plain HTTP on this port, say), refused, or too slow: there is
  // no channel to answer on.
  if (ec) return Terminate();
  Pump();
}

// The one place that decides what happens next; every completion ends here.
void Session::Pump() {
  if (terminated_) return;
  DoWrite();
  const bool nothing_pending = slots_.empty() && !writing_;
  if (nothing_pending && !closing_) {
    if (draining_) return Terminate();
    if (no_more_requests_) return CloseAfterWrite();
  }
  DoRead();
  // Every caller of Pump holds the session, so dropping self_ here is safe.
  if (!slots_.empty() && !reading_ && !writing_) {
    self_ = shared_from_this();
  } else {
    self_.reset();
  }
  if (closing_) return;  // the linger deadline owns the timer
  const bool idle = nothing_pending && waiting_for_request_;
  if (idle && !timer_armed_) {
    ArmTimer(core_->options().idle_timeout);
  } else if (!idle && timer_armed_) {
    DisarmTimer();
  }
}

void Session::DoRead() {
  if (terminated_ || reading_) return;
  if (streaming_ || closing_) return DoDiscard();
  if (draining_ || no_more_requests_ ||
      slots_.size() >= core_->options().pipeline_depth) {
    return;  // resumed by Pump() once an answer is written
  }
  if (requests_read_ > 0 && buffer_.size() == 0) return DoWaitForRequest();
  DoReadHeader();
}

// Between requests: wait for the next one's first byte with no read
// deadline; the idle timer (armed by Pump when nothing is pending) or the
// answers still to come bound the wait instead.
void Session::DoWaitForRequest() {
  reading_ = true;
  waiting_for_request_ = true;
  stream_.expires_never();
  stream_.async_read_some(
      buffer_.prepare(kReadChunkBytes),
      beast::bind_front_handler(&Session::OnWaitForRequest, shared_from_this()));
}

void Session::OnWaitForRequest(beast::error_code ec, std::size_t bytes) {
  reading_ = false;
  waiting_for_request_ = false;
  if (terminated_) return;
  if (ec) {
    // A client may half-close after its last request and still read the
    // answers; anything else ends the connection.
    if (ec == net::error::eof && !slots_.empty() && !streaming_) {
      no_more_requests_ = true;
      return Pump();
    }
    return Terminate();
  }
  buffer_.commit(bytes);
  if (timer_armed_ && !closing_) DisarmTimer();
  Pump();
}

void Session::DoReadHeader() {
  reading_ = true;
  request_id_.clear();
  header_parser_.emplace();
  header_parser_->header_limit(core_->options().header_limit_bytes);
  // Checked against the handler's limit once the header is known.
  header_parser_->body_limit(boost::none);
  stream_.expires_after(core_->options().header_timeout);
  http::async_read_header(
      stream_, buffer_, *header_parser_,
      beast::bind_front_handler(&Session::OnReadHeader, shared_from_this()));
}

void Session::OnReadHeader(beast::error_code ec, std::size_t /*bytes*/) {
  reading_ = false;
  if (terminated_) return;
  if (ec) {
    header_parser_.reset();
    if (streaming_ || closing_) return Terminate();
    if (ec == http::error::end_of_stream) {  // closed between requests
      no_more_requests_ = true;
      return Pump();
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      return Reject(431, "headers_too_large",
                    "The request header exceeds " +
                        std::to_string(core_->options().header_limit_bytes) +
                        " bytes.");
    }
    if (IsHttpError(ec) && ec != http::error::partial_message) {
      return Reject(400, "bad_request", "The request is not valid HTTP/1.1.");
    }
    return Terminate();  // deadline (socket already closed), reset, ...
  }
  ++requests_read_;
  if (streaming_ || draining_ || closing_) {  // never answered
    header_parser_.reset();
    return Pump();
  }
  const http::request_header<>& header = header_parser_->get();
  request_id_ = RequestIdFor(header);
  body_limit_ = core_->handler().BodyLimit(header);
  if (auto length = header_parser_->content_length();
      length && *length > body_limit_) {
    return RejectBody();
  }
  const bool expects_continue = ExpectsContinue(header);
  body_parser_.emplace(std::move(*header_parser_));
  header_parser_.reset();
  body_parser_->body_limit(body_limit_);  // enforces chunked bodies as they come
  if (body_parser_->is_done()) return Dispatch();
  if (expects_continue) DoWriteContinue();
  DoReadBody();
}

// Tells a client waiting on "Expect: 100-continue" to send the body. Only
// when nothing else is queued: an interim response may not overtake the
// answers to earlier requests (the client then sends after its own wait).
void Session::DoWriteContinue() {
  if (writing_ || !slots_.empty()) return;
  writing_ = true;
  stream_.expires_after(core_->options().write_timeout);
  net::async_write(
      stream_, net::buffer(kContinue),
      beast::bind_front_handler(&Session::OnWriteContinue, shared_from_this()));
}

void Session::OnWriteContinue(beast::error_code ec, std::size_t /*bytes*/) {
  writing_ = false;
  if (terminated_) return;
  if (ec) return Terminate();
  Pump();
}

void Session::DoReadBody() {
  reading_ = true;
  stream_.expires_after(core_->options().body_timeout);
  http::async_read(
      stream_, buffer_, *body_parser_,
      beast::bind_front_handler(&Session::OnReadBody, shared_from_this()));
}

void Session::OnReadBody(beast::error_code ec, std::size_t /*bytes*/) {
  reading_ = false;
  if (terminated_) return;
  if (ec) {
    body_parser_.reset();
    if (ec == http::error::body_limit) return RejectBody();
    if (IsHttpError(ec) && ec != http::error::partial_message &&
        ec != http::error::end_of_stream && !streaming_) {
      return Reject(400, "bad_request", "The request body is malformed.");
    }
    return Terminate();
  }
  if (streaming_ || draining_ || closing_) {  // never answered
    body_parser_.reset();
    return Pump();
  }
  Dispatch();
}

void Session::Dispatch() {
  Request request = body_parser_->release();
  body_parser_.reset();
  Slot slot;
  slot.seq = next_seq_++;
  slot.version = request.version();
  slot.keep_alive = request.keep_alive();
  slot.head = request.method() == http::verb::head;
  slot.request_id = std::move(request_id_);
  if (!slot.keep_alive) no_more_requests_ = true;
  slots_.push_back(std::move(slot));
  auto exchange = std::make_shared<ExchangeImpl>(core_, weak_from_this(),
                                                 slots_.back().seq);
  try {
    core_->handler().Handle(std::move(request), std::move(exchange));
  } catch (const std::exception& e) {
    // Handlers should not throw; if one does, its dropped Exchange answers
    // 500 and the connection carries on.
    std::fprintf(stderr, "runledger: request handler threw: %s\n", e.what());
  }
  Pump();
}

// A request the handler never sees: answer it in turn, then close.
void Session::Reject(unsigned status, std::string_view code,
                     std::string detail) {
  no_more_requests_ = true;
  Slot slot;
  slot.seq = next_seq_++;
  slot.keep_alive = false;
  slot.request_id = request_id_.empty() ? NewRequestId() : request_id_;
  std::string_view title = http::obsolete_reason(http::int_to_status(status));
  slot.response = MakeProblem(status, code, title, detail, slot.request_id,
                              11, /*keep_alive=*/false);
  slots_.push_back(std::move(slot));
  Pump();
}

void Session::RejectBody() {
  Reject(413, "payload_too_large",
         "The request body exceeds " + std::to_string(body_limit_) + " bytes.");
}

void Session::DoDiscard() {
  reading_ = true;
  stream_.expires_never();
  buffer_.consume(buffer_.size());
  stream_.async_read_some(
      buffer_.prepare(kDiscardChunkBytes),
      beast::bind_front_handler(&Session::OnDiscard, shared_from_this()));
}

void Session::OnDiscard(beast::error_code ec, std::size_t /*bytes*/) {
  reading_ = false;
  if (terminated_) return;
  if (ec) return Terminate();  // the peer is gone, or done after our FIN
  Pump();
}

void Session::ArmTimer(std::chrono::milliseconds after) {
  const std::uint64_t generation = ++timer_generation_;
  timer_armed_ = true;
  timer_.expires_after(after);
  timer_.async_wait([self = shared_from_this(), generation](beast::error_code ec) {
    self->OnTimer(generation, ec);
  });
}

void Session::DisarmTimer() {
  ++timer_generation_;
  timer_armed_ = false;
  timer_.cancel();
}

void Session::OnTimer(std::uint64_t generation, beast::error_code ec) {
  if (ec || generation != timer_generation_ || terminated_) return;
  timer_armed_ = false;
  Terminate();  // idle too long, or the linger after our FIN ran out
}

void Session::DoDrain() {
  if (terminated_) return;
  draining_ = true;
  for (Slot& slot : slots_) {
    if (slot.stream) slot.stream->EndForShutdown();
  }
  Pump();
}

// Ends the connection after the final response. The linger deadline bounds
// all of it: over TLS, sending close_notify (so the client can tell a
// complete response from a cut one); then HalfClose.
void Session::CloseAfterWrite() {
  closing_ = true;
  if (timer_armed_) DisarmTimer();
  ArmTimer(kLingerTimeout);
  if (!stream_.tls()) return HalfClose();
  writing_ = true;
  stream_.expires_never();
  stream_.async_shutdown(beast::bind_front_handler(&Session::OnCloseNotify, shared_from_this()));
}

void Session::OnCloseNotify(beast::error_code ec) {
  writing_ = false;
  if (terminated_) return;
  if (ec) return Terminate();
  HalfClose();  // TLS is done; reads now drain TCP
}

// Half-close. If the client has sent more than we read, closing now would
// reset the connection and the client could lose the response (the 413 it
// must see while still uploading, say): then discard its input until it
// closes too or the linger deadline passes. Over TLS always: the client's
// records come one by one, so an empty queue says little about whether it
// is done, and a TLS client answers close_notify by closing anyway.
void Session::HalfClose() {
  beast::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  if (ec) return Terminate();
  if (!stream_.tls() && (stream_.socket().available(ec) == 0 || ec)) return Terminate();
  DoRead();
}

void Session::Terminate() {
  if (terminated_) return;
  terminated_ = true;
  stream_.close();  // pending reads and writes complete with errors
  if (timer_armed_) DisarmTimer();
  heartbeat_.cancel();
  std::deque<Slot> slots;
  slots.swap(slots_);
  for (Slot& slot : slots) {
    if (slot.stream) slot.stream->Finish(/*discard=*/true);
  }
  self_.reset();  // callers hold the session until they return
}

}  // namespace runledger::server::internal
