#pragma once

// The types the API layer codes against: a Handler receives each complete
// request with an Exchange, and answers through it — once, with a Response,
// by starting a Server-Sent Events stream, or by starting a body streamed
// with back-pressure. The transport
// (server/http_server.h) owns sockets, framing, limits and timeouts; nothing
// here does I/O.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/beast/http.hpp>

namespace runledger::server {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// A Server-Sent Events stream owned by a connection. Thread-safe: every
// member may be called from any thread.
class EventStream {
 public:
  virtual ~EventStream() = default;

  // Queues one already-formatted SSE frame ("id: 5\ndata: {...}\n\n"); never
  // blocks on the network. Returns false if the stream is closed. If the
  // unsent backlog (queued plus being written) would exceed
  // ServerOptions::sse_backlog_bytes, the stream is closed instead (the
  // client reconnects with Last-Event-ID) and false is returned.
  virtual bool Write(std::string frame) = 0;

  // Refuses further frames, flushes what is queued, then ends the response
  // and the connection. Idempotent.
  virtual void Close() = 0;

  virtual bool closed() const = 0;

  // `callback` runs once when the stream closes for any reason (peer gone,
  // Close, backlog, write timeout, server shutdown). It runs on the
  // connection's I/O thread, or on the thread calling HttpServer::Stop(),
  // never inside Write() or Close(), so it may take locks the writer holds.
  // If the stream is already closed it runs immediately, on this thread.
  virtual void OnClose(std::function<void()> callback) = 0;
};

// A response body written as it is produced, at the pace of its reader
// (Exchange::StartBody). Thread-safe, but Write blocks: call it from a
// worker thread, never from an I/O thread, whose other connections (and
// perhaps this one's writes) would stall with it.
class BodyWriter {
 public:
  // A writer dropped without Finish() aborts: a body nobody ended is not whole.
  virtual ~BodyWriter() = default;

  // Queues `chunk`. Waits while the unsent backlog (queued plus being
  // written) and `chunk` would pass ServerOptions::body_backlog_bytes; a
  // larger chunk waits for an empty backlog. Returns false, dropping the
  // chunk, once the body is over: the client left or stalled past
  // write_timeout, the server is stopping, the request was a HEAD, or
  // Finish/Abort was called.
  virtual bool Write(std::string chunk) = 0;

  // Ends the body: what was written is sent, then the last chunk (HTTP/1.1)
  // and the connection closes. Idempotent.
  virtual void Finish() = 0;

  // Cuts the connection now, dropping unsent chunks and without the last
  // chunk, so the client sees a truncated body. Nothing after Finish().
  virtual void Abort() = 0;
};

// One request's answer. Call exactly one of Send / StartStream / StartBody,
// once, from any thread; later calls are ignored. Answers are written in
// request order, so a slow answer delays the answers to requests pipelined
// after it. Calling any after the connection is gone is harmless: Send drops
// the response and the others return a stream or writer that is already
// closed. An Exchange destroyed unanswered answers 500, so a connection
// never stalls.
class Exchange {
 public:
  virtual ~Exchange() = default;

  // The transport sets the version and keep-alive to match the request,
  // sets Content-Length, and adds X-Request-Id if the handler did not.
  virtual void Send(Response response) = 0;

  // Sends `headers` as the start of an SSE response: status 200,
  // Content-Type text/event-stream unless set, Cache-Control: no-store,
  // Connection: close, no Content-Length. HTTP/1.1 streams are chunked
  // (one chunk per batch of frames; Close ends with the last chunk); HTTP/1.0
  // streams end when the connection closes. From here on the connection is
  // dedicated to the stream: requests pipelined after it are not answered.
  virtual std::shared_ptr<EventStream> StartStream(Response headers) = 0;

  // Sends `headers` as they are (status, Content-Type ...) but with
  // Connection: close and no Content-Length, and returns the writer of the
  // body that follows: chunked for HTTP/1.1, ended by closing the connection
  // for HTTP/1.0; no heartbeats. As with StartStream, the connection then
  // belongs to this answer. A HEAD gets the headers alone.
  virtual std::unique_ptr<BodyWriter> StartBody(Response headers) = 0;

  // Runs `work` on this connection's I/O thread, or drops it if the
  // connection is gone. For answers that arrive on another thread (the
  // ledger's committer): building the response there keeps that thread free.
  virtual void Defer(std::function<void()> work) = 0;
};

// The API layer. Both members are called on I/O threads and must not block.
class Handler {
 public:
  virtual ~Handler() = default;

  // Body limit in bytes for this request, decided from its header (e.g.
  // 64 MiB for POST /v1/events, else 1 MiB). A larger body is answered
  // 413 payload_too_large by the transport, and the connection closed.
  virtual std::uint64_t BodyLimit(const http::request_header<>& header) = 0;

  // Receives the complete request. May answer later, from any thread.
  virtual void Handle(Request request, std::shared_ptr<Exchange> exchange) = 0;
};

}  // namespace runledger::server
