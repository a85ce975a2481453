// Session writing: answers in request order, and the stream a slot may
// become (SSE, or a streamed body). Reading and lifecycle are in session.cc.
//
// Stream framing. HTTP/1.1: chunked transfer coding, one chunk per batch of
// frames taken from the stream's queue ("<hex size>\r\n<frames>\r\n"), and
// Close() ends with the last chunk ("0\r\n\r\n") before the connection is
// closed, so a client can tell a clean end from a cut. HTTP/1.0: the frames
// as they are, ended by closing the connection. Both send Connection: close
// because the connection is dedicated to the stream. A HEAD gets the header
// alone. Each write has the write_timeout deadline, so a reader that stops
// reading is cut, which also releases a body writer waiting for room.

#include <string_view>
#include <utility>

#include "server/internal/server_core.h"
#include "server/internal/session.h"
#include "server/internal/sse_stream.h"
#include "server/problem.h"

namespace runledger::server::internal {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;

constexpr std::string_view kRequestIdField = "X-Request-Id";
constexpr std::string_view kHeartbeat = ": keep-alive\n\n";
constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";

bool StatusHasNoBody(unsigned status) {
  return status / 100 == 1 || status == 204 || status == 304;
}

std::string ChunkPrefix(std::size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string digits;
  do {
    digits.insert(digits.begin(), kHex[size & 0xF]);
    size >>= 4;
  } while (size != 0);
  return digits.append(kCrlf);
}

}  // namespace

void Session::OnAnswer(std::uint64_t seq, std::optional<Response> response) {
  Slot* slot = FindSlot(seq);
  if (slot == nullptr || slot->response || slot->stream) return;
  if (!response) {
    response = MakeProblem(500, "internal", "Internal Server Error",
                           "The request was not answered.", slot->request_id);
  }
  slot->response = std::move(response);
  Pump();
}

void Session::OnStreamStart(std::uint64_t seq, Response headers,
                            std::shared_ptr<SseStream> stream) {
  Slot* slot = FindSlot(seq);
  if (terminated_ || slot == nullptr || slot->response || slot->stream) {
    stream->Finish(/*discard=*/true);
    return;
  }
  // The connection now belongs to the stream: requests read after this one
  // are never answered.
  while (slots_.back().seq != seq) {
    if (slots_.back().stream) slots_.back().stream->Finish(/*discard=*/true);
    slots_.pop_back();
  }
  streaming_ = true;
  no_more_requests_ = true;
  const bool events = stream->mode() == StreamMode::kEvents;
  if (events) {
    headers.result(http::status::ok);
    if (headers.find(http::field::content_type) == headers.end()) {
      headers.set(http::field::content_type, "text/event-stream");
    }
    headers.set(http::field::cache_control, "no-store");
  }
  headers.version(slot->version);
  if (headers.find(kRequestIdField) == headers.end()) {
    headers.set(kRequestIdField, slot->request_id);
  }
  headers.body().clear();
  headers.content_length(boost::none);
  headers.keep_alive(false);
  headers.chunked(slot->version >= 11);
  stream_chunked_ = slot->version >= 11;
  slot->response = std::move(headers);
  slot->stream = std::move(stream);
  if (draining_) slot->stream->EndForShutdown();
  if (events) StartHeartbeat();
  Pump();
}

void Session::OnStreamActivity(const std::shared_ptr<SseStream>& stream) {
  if (terminated_) return;
  if (slots_.empty() || slots_.back().stream != stream) {
    stream->Finish(/*discard=*/true);  // not (or no longer) ours
    return;
  }
  if (stream->cut_requested()) return Terminate();
  if (stream->close_requested()) stream->Finish(/*discard=*/false);
  Pump();
}

Session::Slot* Session::FindSlot(std::uint64_t seq) {
  // Slots hold consecutive seqs: pushed at the back, popped at the front,
  // and cut from the back only when a stream starts.
  if (slots_.empty() || seq < slots_.front().seq) return nullptr;
  const std::uint64_t index = seq - slots_.front().seq;
  return index < slots_.size() ? &slots_[index] : nullptr;
}

void Session::Finalize(const Slot& slot, Response& response) const {
  const bool handler_keeps_alive = response.keep_alive();  // before version()
  response.version(slot.version);
  response.keep_alive(handler_keeps_alive && slot.keep_alive && !draining_);
  if (response.find(kRequestIdField) == response.end()) {
    response.set(kRequestIdField, slot.request_id);
  }
  if (StatusHasNoBody(response.result_int())) response.body().clear();
  // For HEAD the handler may have set the length of the body it left out.
  if (!(slot.head && response.has_content_length())) response.prepare_payload();
}

void Session::DoWrite() {
  if (writing_ || terminated_ || closing_ || slots_.empty()) return;
  Slot& front = slots_.front();
  if (front.stream) {
    if (front.stream_header_sent) return DoWriteStreamBody(front);
    return DoWriteStreamHeader(front);
  }
  if (!front.response) return;  // the handler has not answered yet
  outgoing_ = std::move(front.response);
  front.response.reset();
  Finalize(front, *outgoing_);
  serializer_.emplace(*outgoing_);
  writing_ = true;
  stream_.expires_after(core_->options().write_timeout);
  auto on_write = beast::bind_front_handler(&Session::OnWrite, shared_from_this());
  if (front.head) {
    http::async_write_header(stream_, *serializer_, std::move(on_write));
  } else {
    http::async_write(stream_, *serializer_, std::move(on_write));
  }
}

void Session::OnWrite(beast::error_code ec, std::size_t /*bytes*/) {
  writing_ = false;
  const bool keep_alive = outgoing_->keep_alive();
  serializer_.reset();
  outgoing_.reset();
  if (terminated_) return;
  if (ec) return Terminate();
  slots_.pop_front();
  if (!keep_alive) {
    // We said Connection: close; answers after this one are never sent.
    for (Slot& slot : slots_) {
      if (slot.stream) slot.stream->Finish(/*discard=*/true);
    }
    slots_.clear();
    no_more_requests_ = true;
  }
  Pump();
}

void Session::DoWriteStreamHeader(Slot& slot) {
  outgoing_ = std::move(slot.response);
  slot.response.reset();
  serializer_.emplace(*outgoing_);
  writing_ = true;
  stream_.expires_after(core_->options().write_timeout);
  http::async_write_header(
      stream_, *serializer_,
      beast::bind_front_handler(&Session::OnWriteStreamHeader,
                                shared_from_this()));
}

void Session::OnWriteStreamHeader(beast::error_code ec, std::size_t /*bytes*/) {
  writing_ = false;
  serializer_.reset();
  outgoing_.reset();
  if (terminated_) return;
  if (ec) return Terminate();
  Slot& front = slots_.front();
  front.stream_header_sent = true;
  if (front.head) {  // the header is the whole answer
    front.stream->Finish(/*discard=*/true);
    return CloseAfterWrite();
  }
  Pump();
}

void Session::DoWriteStreamBody(Slot& slot) {
  SseStream& stream = *slot.stream;
  // Read before taking the queue: every frame written before Close() is
  // then in this batch or an earlier one.
  const bool ending = stream.close_requested();
  frames_.clear();
  frames_bytes_ = stream.TakeQueued(&frames_);
  if (frames_bytes_ == 0) {
    if (ending) {
      if (!stream_chunked_) return CloseAfterWrite();
      last_chunk_ = true;
    } else if (heartbeat_due_) {
      frames_.emplace_back(kHeartbeat);
    } else {
      return;  // nothing to send; the next Write notifies us
    }
  }
  heartbeat_due_ = false;
  gather_.clear();
  if (last_chunk_) {
    gather_.push_back(net::buffer(kLastChunk));
  } else {
    std::size_t size = 0;
    for (const std::string& frame : frames_) size += frame.size();
    if (stream_chunked_) {
      chunk_prefix_ = ChunkPrefix(size);
      gather_.push_back(net::buffer(chunk_prefix_));
    }
    for (const std::string& frame : frames_) gather_.push_back(net::buffer(frame));
    if (stream_chunked_) gather_.push_back(net::buffer(kCrlf));
  }
  writing_ = true;
  stream_.expires_after(core_->options().write_timeout);
  net::async_write(stream_, gather_,
                   beast::bind_front_handler(&Session::OnWriteStreamBody,
                                             shared_from_this()));
}

void Session::OnWriteStreamBody(beast::error_code ec, std::size_t /*bytes*/) {
  writing_ = false;
  if (terminated_) return;
  if (ec) return Terminate();
  slots_.front().stream->Sent(frames_bytes_);
  frames_.clear();
  gather_.clear();
  if (last_chunk_) return CloseAfterWrite();
  Pump();
}

void Session::StartHeartbeat() {
  heartbeat_.expires_after(core_->options().sse_heartbeat);
  heartbeat_.async_wait(
      beast::bind_front_handler(&Session::OnHeartbeat, shared_from_this()));
}

// Due once per period; sent only if the stream has nothing else to send
// (data keeps the connection alive as well as a comment does).
void Session::OnHeartbeat(beast::error_code ec) {
  if (ec || terminated_ || closing_) return;
  heartbeat_due_ = true;
  Pump();
  StartHeartbeat();
}

}  // namespace runledger::server::internal
