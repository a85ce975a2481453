#pragma once

// A connection's byte stream: plain TCP, or TLS over TCP (Beast's
// ssl_stream), chosen when the connection is made. One type for both lets a
// single Session serve HTTP and HTTPS: it models Asio's AsyncReadStream and
// AsyncWriteStream, so http::async_read, http::async_write and
// net::async_write take it as they take a beast::tcp_stream, and it mirrors
// the tcp_stream members the transport uses (deadlines, socket, close).
//
// Deadlines are the TCP stream's: TLS reads and writes are TCP reads and
// writes underneath, so expires_after() bounds a handshake or a TLS record
// exactly as it bounds a plain read.
//
// Used by the server's sessions and by the test clients (tests/testing).
// Not thread-safe: call it from one strand, as the wrapped streams require.

#include <chrono>
#include <utility>
#include <variant>

#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace runledger::server {

class ConnectionStream {
 public:
  using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
  using executor_type = boost::beast::tcp_stream::executor_type;

  // Over `socket` (connected or not yet). With `tls_context`, TLS: call
  // async_handshake before reading or writing; the context must outlive
  // this stream. Without, plain TCP.
  ConnectionStream(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context* tls_context);

  bool tls() const { return std::holds_alternative<TlsStream>(stream_); }
  // The TLS layer, for a client to set verification; null for plain TCP.
  TlsStream* tls_stream() { return std::get_if<TlsStream>(&stream_); }
  // The TCP stream under TLS (or the stream itself): connect, deadlines.
  boost::beast::tcp_stream& tcp();

  executor_type get_executor() { return tcp().get_executor(); }
  boost::asio::ip::tcp::socket& socket() { return tcp().socket(); }
  void expires_after(std::chrono::steady_clock::duration after) { tcp().expires_after(after); }
  void expires_at(std::chrono::steady_clock::time_point at) { tcp().expires_at(at); }
  void expires_never() { tcp().expires_never(); }
  // Closes the socket at once (no close_notify); pending operations
  // complete with errors.
  void close() { tcp().close(); }

  // TLS only: the handshake, as `type` (server or client). Handler:
  // void(error_code).
  template <typename Handler>
  void async_handshake(boost::asio::ssl::stream_base::handshake_type type, Handler&& handler) {
    std::get<TlsStream>(stream_).async_handshake(type, std::forward<Handler>(handler));
  }

  // TLS only: sends close_notify and completes once it is written, without
  // waiting for the peer's (RFC 8446 6.1: the initiator of the close need
  // not; Asio's own async_shutdown would wait, on a peer that may never
  // answer). Bound it with a deadline: the peer may not read. Reads started
  // after this call go straight to TCP, so the caller can still drain what
  // the peer sends before closing; writes are refused. Handler:
  // void(error_code).
  template <typename Handler>
  void async_shutdown(Handler&& handler) {
    TlsStream& tls = std::get<TlsStream>(stream_);
    // As if the peer's close_notify had come: SSL_shutdown then only sends.
    SSL_set_shutdown(tls.native_handle(),
                     SSL_get_shutdown(tls.native_handle()) | SSL_RECEIVED_SHUTDOWN);
    tls_closed_ = true;
    tls.async_shutdown(std::forward<Handler>(handler));
  }

  template <typename MutableBuffers, typename Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    if (TlsStream* tls = tls_stream(); tls != nullptr && !tls_closed_) {
      tls->async_read_some(buffers, std::forward<Handler>(handler));
    } else {
      tcp().async_read_some(buffers, std::forward<Handler>(handler));
    }
  }

  template <typename ConstBuffers, typename Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    if (TlsStream* tls = tls_stream()) {
      tls->async_write_some(buffers, std::forward<Handler>(handler));
    } else {
      tcp().async_write_some(buffers, std::forward<Handler>(handler));
    }
  }

 private:
  using Streams = std::variant<boost::beast::tcp_stream, TlsStream>;
  static Streams MakeStreams(boost::asio::ip::tcp::socket socket,
                             boost::asio::ssl::context* tls_context);

  Streams stream_;
  bool tls_closed_ = false;  // async_shutdown was called: reads bypass TLS
};

}  // namespace runledger::server
