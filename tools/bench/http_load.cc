#include "tools/bench/http_load.h"

#include <deque>
#include <limits>
#include <memory>
#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace runledger::tools::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::uint64_t kResponseBodyLimitBytes = 256ull << 20;
constexpr auto kTick = std::chrono::milliseconds(1);

size_t CountOccurrences(std::string_view text, std::string_view needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string_view::npos;
       at = text.find(needle, at + needle.size()))
    ++n;
  return n;
}

// The first line of a body that is not a 201 result (a bulk answer), or
// the start of the body.
std::string FirstProblem(std::string_view body) {
  for (size_t start = 0; start < body.size();) {
    size_t end = body.find('\n', start);
    if (end == std::string_view::npos) end = body.size();
    const std::string_view line = body.substr(start, end - start);
    if (line.find("\"status\":201") == std::string_view::npos)
      return std::string(line.substr(0, 400));
    start = end + 1;
  }
  return std::string(body.substr(0, 400));
}

class LoadRun {
 public:
  LoadRun(const LoadOptions& options, CallSource& source, const WindowHooks& hooks)
      : options_(options),
        source_(source),
        hooks_(hooks),
        timer_(io_),
        host_header_(options.host + ":" + std::to_string(options.port)) {
    result_.kinds.resize(options.kinds.size());
    for (size_t i = 0; i < options.kinds.size(); ++i) result_.kinds[i].name = options.kinds[i];
  }

  LoadResult Run() {
    endpoint_ = tcp::endpoint(asio::ip::make_address(options_.host), options_.port);
    for (size_t i = 0; i < options_.connections; ++i) {
      auto conn = std::make_unique<Connection>(io_, i);
      beast::error_code ec;
      conn->stream.socket().connect(endpoint_, ec);
      if (ec) {
        Error("connect: " + ec.message());
        break;
      }
      conn->stream.socket().set_option(tcp::no_delay(true), ec);
      conns_.push_back(std::move(conn));
    }
    if (conns_.empty()) return std::move(result_);
    const auto now = Clock::now();
    window_begin_ = now + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(options_.warmup_seconds));
    window_end_ = options_.seconds > 0
                      ? window_begin_ + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(options_.seconds))
                      : Clock::time_point::max();
    open_loop_ = options_.rate_per_second > 0;
    if (open_loop_) {
      interval_ = std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(1.0 / options_.rate_per_second));
      next_due_ = now;
      for (auto& conn : conns_) idle_.push_back(conn.get());
    } else {
      for (auto& conn : conns_) Send(*conn, now);
    }
    ScheduleTick();
    io_.run();
    for (auto& conn : conns_) {
      beast::error_code ignored;
      conn->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      conn->stream.socket().close(ignored);
    }
    if (!window_started_) result_.seconds = 0;
    return std::move(result_);
  }

 private:
  struct Connection {
    Connection(asio::io_context& io, size_t i) : stream(io), index(i) {}
    beast::tcp_stream stream;
    size_t index;
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    std::optional<http::response_parser<http::string_body>> parser;
    HttpCall call;
    Clock::time_point due;
    std::uint64_t answered = 0;  // on the current socket
    bool retried = false;
    bool busy = false;
    bool dead = false;
  };

  void Error(std::string what) {
    ++result_.errors;
    if (result_.first_error.empty()) result_.first_error = std::move(what);
  }

  void Send(Connection& c, Clock::time_point due) {
    if (stopping_ || c.dead) return MaybeFinish();
    c.call = HttpCall();
    if (!source_.Next(c.index, &c.call)) {
      c.dead = true;  // nothing more for this connection
      return MaybeFinish();
    }
    c.due = due;
    c.busy = true;
    c.retried = false;
    ++in_flight_;
    Transmit(c);
  }

  void Transmit(Connection& c) {
    c.request = {};
    c.request.version(11);
    c.request.method(c.call.method);
    c.request.target(c.call.target);
    c.request.set(http::field::host, host_header_);
    c.request.keep_alive(true);
    if (!c.call.body.empty() || c.call.method == http::verb::post) {
      if (!c.call.content_type.empty())
        c.request.set(http::field::content_type, c.call.content_type);
      c.request.body() = std::move(c.call.body);
      c.request.prepare_payload();
    }
    http::async_write(c.stream, c.request,
                      [this, &c](beast::error_code ec, size_t) { OnWrite(c, ec); });
  }

  // Opens a fresh socket for `c`; false when the server refuses.
  bool Reconnect(Connection& c) {
    beast::error_code ec;
    c.stream.socket().close(ec);
    c.buffer.clear();
    c.answered = 0;
    c.stream.socket().connect(endpoint_, ec);
    if (!ec) c.stream.socket().set_option(tcp::no_delay(true), ec);
    return !ec;
  }

  // A keep-alive connection the server closed while idle (its header or
  // idle timeout) fails the next request: like any HTTP client, retry a
  // GET once on a fresh connection. Anything else is an error.
  void Failed(Connection& c, std::string what) {
    if (!stopping_ && c.busy && !c.retried && c.answered > 0 && c.call.method == http::verb::get &&
        Reconnect(c)) {
      c.retried = true;
      return Transmit(c);
    }
    Broken(c, std::move(what));
  }

  void OnWrite(Connection& c, beast::error_code ec) {
    if (ec) return Failed(c, "write: " + ec.message());
    c.parser.emplace();
    c.parser->body_limit(kResponseBodyLimitBytes);
    http::async_read(c.stream, c.buffer, *c.parser,
                     [this, &c](beast::error_code ec2, size_t) { OnRead(c, ec2); });
  }

  void OnRead(Connection& c, beast::error_code ec) {
    if (ec) return Failed(c, "read: " + ec.message());
    ++c.answered;
    const auto done = Clock::now();
    const auto& response = c.parser->get();
    const unsigned status = response.result_int();
    bool ok = c.call.expect_status == 0 ? status / 100 == 2 : status == c.call.expect_status;
    if (ok && c.call.expect_bulk_created) {
      ok = CountOccurrences(response.body(), "\"status\":201") == c.call.units;
    }
    KindResult& kind = result_.kinds[c.call.kind];
    const bool counts = window_started_ && c.due >= window_begin_ && done <= window_end_;
    if (ok) {
      source_.Succeeded(c.index, c.call, response.body());
      if (counts) {
        ++kind.requests;
        kind.units += c.call.units;
        kind.latencies.Add(done - c.due);
      }
      last_success_ = done;
    } else {
      if (counts) ++kind.errors;
      Error(std::to_string(status) + " on " + c.call.target + ": " + FirstProblem(response.body()));
    }
    const bool keep = response.keep_alive();
    c.parser.reset();
    c.busy = false;
    --in_flight_;
    if (!keep && !Reconnect(c)) return Broken(c, "the server closed the connection", false);
    Next(c, done);
  }

  void Next(Connection& c, Clock::time_point now) {
    if (!open_loop_) return Send(c, now);
    idle_.push_back(&c);
    Dispatch();
    if (stopping_) MaybeFinish();
  }

  void Broken(Connection& c, std::string what, bool in_flight = true) {
    if (in_flight && c.busy) {
      c.busy = false;
      --in_flight_;
    }
    if (!stopping_ || in_flight) Error(std::move(what));
    c.dead = true;
    beast::error_code ignored;
    c.stream.socket().close(ignored);
    MaybeFinish();
  }

  void Dispatch() {
    while (!idle_.empty() && !pending_.empty() && !stopping_) {
      Connection* c = idle_.front();
      idle_.pop_front();
      if (c->dead) continue;
      const auto due = pending_.front();
      pending_.pop_front();
      Send(*c, due);
    }
  }

  // An open loop wakes when its next request is due, not at the next tick:
  // a request sent late would count the generator's lag as the server's.
  void ScheduleTick() {
    const auto tick = Clock::now() + kTick;
    timer_.expires_at(open_loop_ && !stopping_ ? std::min(tick, next_due_) : tick);
    timer_.async_wait([this](beast::error_code ec) {
      if (!ec) Tick();
    });
  }

  void Tick() {
    const auto now = Clock::now();
    if (!window_started_ && now >= window_begin_) {
      window_started_ = true;
      cpu_at_start_ = ThreadCpuSeconds();
      if (hooks_.start) hooks_.start();
    }
    if (!stopping_ && now >= window_end_) EndWindow(now);
    if (open_loop_ && !stopping_) {
      const size_t backlog_max = static_cast<size_t>(2 * options_.rate_per_second) + 1;
      for (; next_due_ <= now; next_due_ += interval_) {
        if (pending_.size() >= backlog_max) {
          result_.saturated = true;
          pending_.pop_front();
        }
        pending_.push_back(next_due_);
      }
      Dispatch();
    }
    if (stopping_ && now - stop_time_ > options_.drain_timeout) {
      Error("requests still unanswered " + std::to_string(options_.drain_timeout.count()) +
            " s after the end");
      for (auto& conn : conns_) Broken(*conn, "drain timeout", conn->busy);
    }
    if (!finished_) ScheduleTick();
  }

  void EndWindow(Clock::time_point now) {
    stopping_ = true;
    stop_time_ = now;
    if (window_started_) {
      result_.seconds =
          std::chrono::duration<double>(std::min(now, window_end_) - window_begin_).count();
      result_.client_cpu_seconds = ThreadCpuSeconds() - cpu_at_start_;
      if (hooks_.end) hooks_.end();
    }
    MaybeFinish();
  }

  // Ends the run once nothing is in flight and nothing more will be sent.
  void MaybeFinish() {
    if (finished_) return;
    if (!stopping_) {
      bool all_dead = true;
      for (auto& conn : conns_) all_dead = all_dead && conn->dead;
      if (!all_dead) return;
      // The source ran dry (or every connection broke): the window ends at
      // the last answer.
      if (!window_started_) {
        window_started_ = true;
        cpu_at_start_ = ThreadCpuSeconds();
        if (hooks_.start) hooks_.start();
      }
      window_end_ = std::max(window_begin_, last_success_);
      EndWindow(window_end_);
      return;
    }
    if (in_flight_ > 0) return;
    finished_ = true;
    timer_.cancel();
  }

  const LoadOptions& options_;
  CallSource& source_;
  const WindowHooks& hooks_;
  asio::io_context io_;
  asio::steady_timer timer_;
  std::string host_header_;
  tcp::endpoint endpoint_;
  std::vector<std::unique_ptr<Connection>> conns_;
  LoadResult result_;
  Clock::time_point window_begin_, window_end_, stop_time_, last_success_;
  bool window_started_ = false, stopping_ = false, finished_ = false, open_loop_ = false;
  double cpu_at_start_ = 0;
  size_t in_flight_ = 0;
  // Open loop.
  Clock::duration interval_{};
  Clock::time_point next_due_;
  std::deque<Clock::time_point> pending_;
  std::deque<Connection*> idle_;
};

}  // namespace

LoadResult RunLoad(const LoadOptions& options, CallSource& source, const WindowHooks& hooks) {
  return LoadRun(options, source, hooks).Run();
}

}  // namespace runledger::tools::bench
