#pragma once

// The HTTP/1.1 transport: a listener that accepts, one session per
// connection (its own strand: no locks on the I/O path), and the Handler
// (server/http.h) that answers. The transport knows nothing of runs or
// events; it enforces the limits and deadlines below and produces the
// problem responses for requests that never reach the handler:
//
//   431 headers_too_large   header over header_limit_bytes
//   413 payload_too_large   body over Handler::BodyLimit
//   400 bad_request         malformed HTTP
//   500 internal            an Exchange destroyed unanswered
//
// each with X-Request-Id (the client's if sane, else new), and all but the
// 500 followed by closing the connection. A read that misses its deadline
// closes the connection without a response: Beast's tcp_stream closes the
// socket when a deadline passes, and a client that stalls mid-request is
// not reading either.
//
// Memory per connection is bounded by: the read buffer (header_limit_bytes
// + 64 KiB), pipeline_depth requests and their answers (each body at most
// its BodyLimit), sse_backlog_bytes of unsent stream frames, and
// body_backlog_bytes (or one larger chunk) of a streamed body's chunks; with
// TLS, also Asio's two 17 KiB record buffers, plus OpenSSL's and Beast's
// while a record is in flight.
//
// HTTPS (ServerOptions::tls) is the same server on the same listener: each
// connection starts with a TLS handshake, then everything above applies.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "ledger/status.h"
#include "server/http.h"

namespace runledger::server {

namespace internal {
class ServerCore;
}

struct ServerOptions {
  // Where to listen. Port 0 lets the OS pick; port() tells which.
  std::string address = "127.0.0.1";
  std::uint16_t port = 8080;
  // Threads running the io_context. On 2 shared cores one I/O thread beat
  // two (measured); handlers that do real work should hand it off anyway.
  int io_threads = 1;
  // A request header (request line + fields) over this is 431.
  std::uint32_t header_limit_bytes = 16 * 1024;
  // A request's header must be complete within this of its first byte (of
  // the accept, for a connection's first request): slowloris defence. With
  // TLS the handshake gets this long too, from the accept; the first
  // request's header then has it again from the handshake's end.
  std::chrono::milliseconds header_timeout{10000};
  // A request's body must be complete within this of its header.
  std::chrono::milliseconds body_timeout{30000};
  // A keep-alive connection with nothing in flight is closed after this.
  std::chrono::milliseconds idle_timeout{60000};
  // Each response write (or SSE chunk) must complete within this; a client
  // that stops reading is disconnected.
  std::chrono::milliseconds write_timeout{30000};
  // An SSE stream with nothing to send writes ": keep-alive\n\n" this often.
  std::chrono::milliseconds sse_heartbeat{15000};
  // Unsent SSE bytes (queued plus being written) beyond this: disconnect.
  std::size_t sse_backlog_bytes = 1 << 20;
  // Unsent bytes of a streamed body (Exchange::StartBody) beyond which
  // BodyWriter::Write waits: the reader sets the pace, memory stays bounded.
  std::size_t body_backlog_bytes = 1 << 20;
  // Connections beyond this are closed as soon as they are accepted.
  std::size_t max_connections = 10000;
  // Requests read ahead on one connection while earlier answers are pending.
  std::size_t pipeline_depth = 16;
  // Stop() waits this long for in-flight requests before closing the rest.
  std::chrono::milliseconds stop_timeout{10000};
  // Serve HTTPS with this context (LoadTlsContext, server/tls.h), shared by
  // every connection; null serves plain HTTP.
  std::shared_ptr<boost::asio::ssl::context> tls;
};

class HttpServer {
 public:
  // `handler` is not owned and must outlive the server.
  HttpServer(ServerOptions options, Handler& handler);
  ~HttpServer();  // Stop()

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the I/O threads. Errors: kBadRequest for an
  // address that does not parse, kIOError for socket errors (address in
  // use, permission), kInternal if called twice. A server starts once.
  Status Start();

  // The bound port, after a successful Start().
  std::uint16_t port() const { return port_.load(); }

  // Graceful and idempotent: stops accepting; closes idle connections;
  // lets in-flight requests be answered and written (up to stop_timeout,
  // then closes what is left); closes SSE streams, running their OnClose
  // callbacks; stops the io_context and joins its threads. Answers given
  // after Stop() are dropped. Must not be called from an I/O thread.
  void Stop();

  // For timers the API layer needs (e.g. the stale-run reaper). Work posted
  // here stops running at Stop().
  boost::asio::io_context& io_context() { return io_context_; }

  // For /metrics. Thread-safe.
  std::size_t open_connections() const;
  std::size_t open_streams() const;
  // Streamed bodies: the largest unsent backlog any body reached since the
  // server was made, and the BodyWriter::Write calls waiting for room now.
  std::size_t body_backlog_peak_bytes() const;
  std::size_t body_writers_waiting() const;

 private:
  enum class State { kNew, kRunning, kStopped };

  void DoAccept();
  void OnAccept(boost::beast::error_code ec,
                boost::asio::ip::tcp::socket socket);
  void CloseAcceptor();

  // Declared before io_context_: sessions destroyed with the io_context's
  // pending handlers still unregister from it.
  std::shared_ptr<internal::ServerCore> core_;
  boost::asio::io_context io_context_;
  std::optional<boost::asio::executor_work_guard<
      boost::asio::io_context::executor_type>>
      work_;
  boost::asio::ip::tcp::acceptor acceptor_;   // on its own strand
  boost::asio::steady_timer accept_retry_;    // same strand
  bool accepting_ = false;                    // acceptor strand only
  std::vector<std::thread> threads_;
  std::atomic<std::uint16_t> port_{0};
  std::mutex state_mutex_;
  State state_ = State::kNew;
};

}  // namespace runledger::server
