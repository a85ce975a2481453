#pragma once

// A blocking HTTP/1.1 test client over Beast (every call has a deadline),
// and a Handler whose behaviour a test sets with lambdas.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "server/http.h"

namespace runledger::server::testing {

inline constexpr std::chrono::milliseconds kWait{5000};

class Client {
 public:
  // Connects to 127.0.0.1:`port`.
  explicit Client(std::uint16_t port);

  // Writes all of `data`; false if the connection is gone.
  bool Write(std::string_view data);

  // Reads one response (a 1xx counts as one); nullopt on EOF, error or
  // `timeout`.
  std::optional<Response> Read(std::chrono::milliseconds timeout = kWait);

  // Reads raw bytes until `done(all bytes so far)` holds, the connection
  // ends, or `timeout` passes; returns all bytes read by this call.
  std::string ReadRawUntil(const std::function<bool(std::string_view)>& done,
                           std::chrono::milliseconds timeout = kWait);

  // True if the server ends the connection within `timeout`; what it sends
  // meanwhile is discarded. While waiting, writes `trickle` every
  // `trickle_every`, if given (a slowloris client).
  bool WaitForClose(std::chrono::milliseconds timeout = kWait,
                    std::string_view trickle = {},
                    std::chrono::milliseconds trickle_every = {});

  // True if nothing arrives and the connection stays open for `duration`.
  bool StaysQuietFor(std::chrono::milliseconds duration);

  // Half-closes: the server reads EOF, the client can still read.
  void ShutdownSend();
  void Close();

 private:
  boost::asio::io_context io_context_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
};

// Parses one whole response from the bytes a Client read raw (chunked, or
// ended by the connection's close); nullopt if it is incomplete or malformed
// (a chunked body cut before its last chunk, say).
std::optional<Response> ParseResponse(std::string_view raw);

// "GET <target> HTTP/1.1" with Host and `extra` header lines ("A: b\r\n").
std::string Get(std::string_view target, std::string_view extra = {});
// "POST <target> HTTP/1.1" with Content-Length and `body`.
std::string Post(std::string_view target, std::string_view body,
                 std::string_view extra = {});

class TestHandler : public Handler {
 public:
  using HandleFn = std::function<void(Request, std::shared_ptr<Exchange>)>;
  using LimitFn = std::function<std::uint64_t(const http::request_header<>&)>;

  // Set before the server starts. Defaults: 1 MiB limit; Echo.
  LimitFn limit = [](const http::request_header<>&) { return 1u << 20; };
  HandleFn handle = &Echo;

  std::uint64_t BodyLimit(const http::request_header<>& header) override {
    return limit(header);
  }
  void Handle(Request request, std::shared_ptr<Exchange> exchange) override {
    handle(std::move(request), std::move(exchange));
  }

  // 200 text/plain "<method> <target>\n<body>", right away.
  static void Echo(Request request, std::shared_ptr<Exchange> exchange);
  static Response Text(std::string body);
};

// Polls `condition` until it holds or `timeout` passes.
bool WaitUntil(const std::function<bool()>& condition,
               std::chrono::milliseconds timeout = kWait);

}  // namespace runledger::server::testing
