#include "tools/bench/hello_server.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace runledger::tools::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::uint64_t kBodyLimitBytes = 64ull << 20;

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket socket) : stream_(std::move(socket)) {}
  void Start() { DoRead(); }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->body_limit(kBodyLimitBytes);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }
  void OnRead(beast::error_code ec) {
    if (ec) return Close();
    const auto& request = parser_->get();
    response_ = {};
    response_.result(http::status::ok);
    response_.version(request.version());
    response_.keep_alive(request.keep_alive());
    response_.set(http::field::content_type, "application/json");
    response_.body() = R"({"hello":"world"})";
    response_.prepare_payload();
    http::async_write(
        stream_, response_,
        [self = shared_from_this()](beast::error_code ec2, size_t) { self->OnWrite(ec2); });
  }
  void OnWrite(beast::error_code ec) {
    if (ec || !response_.keep_alive()) return Close();
    DoRead();
  }
  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
};

}  // namespace

class HelloServer::Impl {
 public:
  Impl() : acceptor_(io_) {}
  Status Listen() {
    beast::error_code ec;
    const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status::IOError("hello server: " + ec.message());
    port_ = acceptor_.local_endpoint().port();
    DoAccept();
    thread_ = std::thread([this] {
      tid_ = static_cast<pid_t>(syscall(SYS_gettid));
      io_.run();
    });
    while (tid_.load() == 0) std::this_thread::yield();
    return Status::Ok();
  }
  ~Impl() {
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  std::uint16_t port_ = 0;
  std::atomic<pid_t> tid_{0};

 private:
  void DoAccept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<Session>(std::move(socket))->Start();
      DoAccept();
    });
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

Result<std::unique_ptr<HelloServer>> HelloServer::Start() {
  auto impl = std::make_unique<Impl>();
  RUNLEDGER_RETURN_IF_ERROR(impl->Listen());
  return std::unique_ptr<HelloServer>(new HelloServer(std::move(impl)));
}

HelloServer::HelloServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HelloServer::~HelloServer() = default;
std::uint16_t HelloServer::port() const { return impl_->port_; }
pid_t HelloServer::thread_id() const { return impl_->tid_.load(); }

}  // namespace runledger::tools::bench
