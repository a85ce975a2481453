#include "server/http_server.h"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <future>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "server/internal/server_core.h"
#include "server/internal/session.h"
#include "server/internal/sse_stream.h"

namespace runledger::server {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// After a failed accept (out of file descriptors, say), wait this long
// before the next, instead of spinning.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};
// After stop_timeout, how long aborted sessions get to unwind.
constexpr std::chrono::milliseconds kAbortGrace{2000};

ServerOptions Normalized(ServerOptions options) {
  options.io_threads = std::max(options.io_threads, 1);
  options.pipeline_depth = std::max<std::size_t>(options.pipeline_depth, 1);
  return options;
}

}  // namespace

HttpServer::HttpServer(ServerOptions options, Handler& handler)
    : core_(std::make_shared<internal::ServerCore>(
          Normalized(std::move(options)), handler)),
      acceptor_(net::make_strand(io_context_)),
      accept_retry_(acceptor_.get_executor()) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  std::lock_guard lock(state_mutex_);
  if (state_ != State::kNew) return Status::Internal("HttpServer started twice");
  const ServerOptions& options = core_->options();
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(options.address, ec);
  if (ec) {
    return Status::BadRequest("invalid listen address '" + options.address +
                              "': " + ec.message());
  }
  const tcp::endpoint endpoint(address, options.port);
  const std::string where = options.address + ":" + std::to_string(options.port);
  auto fail = [&](const char* step) {
    beast::error_code ignored;
    acceptor_.close(ignored);
    return Status::IOError(std::string(step) + " " + where + ": " + ec.message());
  };
  if (acceptor_.open(endpoint.protocol(), ec); ec) return fail("open");
  // Lets a restarted server bind while old connections sit in TIME_WAIT;
  // on Linux it does not allow two listeners on one port.
  if (acceptor_.set_option(net::socket_base::reuse_address(true), ec); ec) {
    return fail("setsockopt");
  }
  if (acceptor_.bind(endpoint, ec); ec) return fail("bind");
  if (acceptor_.listen(net::socket_base::max_listen_connections, ec); ec) {
    return fail("listen");
  }
  port_ = acceptor_.local_endpoint(ec).port();
  if (ec) return fail("getsockname");

  work_.emplace(io_context_.get_executor());
  net::post(acceptor_.get_executor(), [this] {
    accepting_ = true;
    DoAccept();
  });
  for (int i = 0; i < options.io_threads; ++i) {
    threads_.emplace_back([this] {
      for (;;) {
        try {
          io_context_.run();
          return;
        } catch (const std::exception& e) {
          // run() may be resumed after a handler throws.
          std::fprintf(stderr, "runledger: I/O handler threw: %s\n", e.what());
        }
      }
    });
  }
  state_ = State::kRunning;
  return Status::Ok();
}

void HttpServer::DoAccept() {
  // Each connection gets its own strand: its handlers never run
  // concurrently, so a session needs no locks.
  acceptor_.async_accept(
      net::make_strand(io_context_),
      beast::bind_front_handler(&HttpServer::OnAccept, this));
}

void HttpServer::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (!accepting_) return;  // Stop() closed the acceptor
  if (ec) {
    accept_retry_.expires_after(kAcceptRetryDelay);
    accept_retry_.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec && accepting_) DoAccept();
    });
    return;
  }
  if (core_->session_count() >= core_->options().max_connections) {
    socket.close(ec);  // over the limit: refuse fast rather than queue
  } else {
    // Small SSE chunks and pipelined answers must not wait for Nagle.
    socket.set_option(tcp::no_delay(true), ec);
    std::make_shared<internal::Session>(std::move(socket), core_)->Start();
  }
  DoAccept();
}

void HttpServer::CloseAcceptor() {
  std::promise<void> closed;
  net::post(acceptor_.get_executor(), [this, &closed] {
    accepting_ = false;
    beast::error_code ec;
    acceptor_.close(ec);
    accept_retry_.cancel();
    closed.set_value();
  });
  closed.get_future().wait();
}

void HttpServer::Stop() {
  {
    std::lock_guard lock(state_mutex_);
    const State previous = state_;
    state_ = State::kStopped;
    if (previous != State::kRunning) {
      core_->gate().Close();
      return;
    }
  }
  // 1. No new connections. Sessions accepted before this are registered.
  CloseAcceptor();
  // 2. Idle connections close, event streams end, streamed bodies are cut
  // (their writers' Write returns false), in-flight requests finish.
  for (const auto& session : core_->Sessions()) session->Drain();
  const auto now = std::chrono::steady_clock::now();
  if (!core_->WaitForNoSessions(now + core_->options().stop_timeout)) {
    // 3. Out of patience: close what is left.
    for (const auto& session : core_->Sessions()) session->Abort();
    core_->WaitForNoSessions(std::chrono::steady_clock::now() + kAbortGrace);
  }
  // 4. Stop the I/O threads. Handlers still queued are destroyed with the
  // io_context; the gate keeps late answers from posting into it.
  work_.reset();
  io_context_.stop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  core_->gate().Close();
  // 5. Streams whose session never ran again still owe their callbacks.
  for (const auto& stream : core_->Streams()) stream->Finish(/*discard=*/true);
}

std::size_t HttpServer::open_connections() const {
  return core_->session_count();
}

std::size_t HttpServer::open_streams() const { return core_->stream_count(); }

std::size_t HttpServer::body_backlog_peak_bytes() const { return core_->body_backlog_peak_bytes(); }

std::size_t HttpServer::body_writers_waiting() const { return core_->body_writers_waiting(); }

}  // namespace runledger::server
