#include "server/connection_stream.h"

namespace runledger::server {

ConnectionStream::ConnectionStream(boost::asio::ip::tcp::socket socket,
                                   boost::asio::ssl::context* tls_context)
    : stream_(MakeStreams(std::move(socket), tls_context)) {}

ConnectionStream::Streams ConnectionStream::MakeStreams(boost::asio::ip::tcp::socket socket,
                                                        boost::asio::ssl::context* tls_context) {
  if (tls_context == nullptr) {
    return Streams(std::in_place_type<boost::beast::tcp_stream>, std::move(socket));
  }
  return Streams(std::in_place_type<TlsStream>, std::move(socket), *tls_context);
}

boost::beast::tcp_stream& ConnectionStream::tcp() {
  if (TlsStream* tls = tls_stream()) return tls->next_layer();
  return std::get<boost::beast::tcp_stream>(stream_);
}

}  // namespace runledger::server
