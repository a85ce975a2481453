#include "tests/server/test_client.h"

#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace runledger::server::testing {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

}  // namespace

Client::Client(std::uint16_t port) : stream_(io_context_) {
  stream_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
}

bool Client::Write(std::string_view data) {
  beast::error_code ec;
  net::write(stream_.socket(), net::buffer(data), ec);
  return !ec;
}

std::optional<Response> Client::Read(std::chrono::milliseconds timeout) {
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  beast::error_code result = net::error::would_block;
  stream_.expires_after(timeout);
  http::async_read(stream_, buffer_, parser,
                   [&](beast::error_code ec, std::size_t) { result = ec; });
  io_context_.restart();
  io_context_.run();
  if (result) return std::nullopt;
  return parser.release();
}

std::string Client::ReadRawUntil(
    const std::function<bool(std::string_view)>& done,
    std::chrono::milliseconds timeout) {
  std::string received(static_cast<const char*>(buffer_.data().data()),
                       buffer_.size());
  buffer_.consume(buffer_.size());
  stream_.expires_after(timeout);  // one deadline for all reads below
  std::function<void()> read_more;
  char chunk[4096];
  read_more = [&] {
    if (done(received)) return;
    stream_.async_read_some(net::buffer(chunk),
                            [&](beast::error_code ec, std::size_t n) {
                              received.append(chunk, n);
                              if (!ec) read_more();
                            });
  };
  read_more();
  io_context_.restart();
  io_context_.run();
  return received;
}

bool Client::WaitForClose(std::chrono::milliseconds timeout,
                          std::string_view trickle,
                          std::chrono::milliseconds trickle_every) {
  bool closed = false;
  bool finished = false;
  char chunk[4096];
  std::function<void()> read_more = [&] {
    stream_.async_read_some(net::buffer(chunk),
                            [&](beast::error_code ec, std::size_t) {
                              if (!ec) return read_more();
                              closed = ec != beast::error::timeout;
                              finished = true;
                            });
  };
  net::steady_timer trickle_timer(io_context_);
  std::function<void()> trickle_more = [&] {
    trickle_timer.expires_after(trickle_every);
    trickle_timer.async_wait([&](beast::error_code ec) {
      if (ec || finished) return;
      beast::error_code ignored;
      net::write(stream_.socket(), net::buffer(trickle), ignored);
      trickle_more();
    });
  };
  stream_.expires_after(timeout);
  read_more();
  if (!trickle.empty()) trickle_more();
  io_context_.restart();
  while (!finished && io_context_.run_one() > 0) {
  }
  trickle_timer.cancel();
  io_context_.run();  // let the cancelled timer finish
  return closed;
}

bool Client::StaysQuietFor(std::chrono::milliseconds duration) {
  if (buffer_.size() > 0) return false;
  bool quiet = false;
  bool woke = false;
  net::steady_timer timer(io_context_);
  timer.expires_after(duration);
  timer.async_wait([&](beast::error_code ec) {
    if (ec || woke) return;
    quiet = true;
    stream_.socket().cancel();
  });
  stream_.socket().async_wait(tcp::socket::wait_read, [&](beast::error_code) {
    woke = true;
    timer.cancel();
  });
  io_context_.restart();
  io_context_.run();
  return quiet;
}

void Client::ShutdownSend() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

void Client::Close() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
}

std::optional<Response> ParseResponse(std::string_view raw) {
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  parser.eager(true);
  beast::error_code ec;
  while (!raw.empty() && !parser.is_done()) {
    const std::size_t used = parser.put(net::buffer(raw.data(), raw.size()), ec);
    if (ec == http::error::need_more) break;
    if (ec) return std::nullopt;
    if (used == 0) break;
    raw.remove_prefix(used);
  }
  if (!parser.is_done()) parser.put_eof(ec);  // a body ended by the close
  if (ec || !parser.is_done()) return std::nullopt;
  return parser.release();
}

std::string Get(std::string_view target, std::string_view extra) {
  std::string request = "GET ";
  request.append(target).append(" HTTP/1.1\r\nHost: test\r\n");
  request.append(extra).append("\r\n");
  return request;
}

std::string Post(std::string_view target, std::string_view body,
                 std::string_view extra) {
  std::string request = "POST ";
  request.append(target).append(" HTTP/1.1\r\nHost: test\r\n");
  request.append("Content-Length: ").append(std::to_string(body.size()));
  request.append("\r\n").append(extra).append("\r\n").append(body);
  return request;
}

void TestHandler::Echo(Request request, std::shared_ptr<Exchange> exchange) {
  std::string body(request.method_string());
  body.append(" ").append(request.target()).append("\n").append(request.body());
  exchange->Send(Text(std::move(body)));
}

Response TestHandler::Text(std::string body) {
  Response response{http::status::ok, 11};
  response.set(http::field::content_type, "text/plain");
  response.body() = std::move(body);
  return response;
}

bool WaitUntil(const std::function<bool()>& condition,
               std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // poll interval
  }
  return true;
}

}  // namespace runledger::server::testing
