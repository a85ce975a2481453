// Server-Sent Events through HttpServer: framing, order, heartbeats, the
// backlog bound, and close callbacks.

#include <atomic>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "server/http_server.h"
#include "server/live.h"
#include "tests/server/test_client.h"

namespace runledger::server {
namespace {

using namespace std::chrono_literals;
using testing::Client;
using testing::Get;
using testing::kWait;
using testing::TestHandler;
using testing::WaitUntil;

std::string Frame(int n) {
  return "id: " + std::to_string(n) + "\ndata: {\"n\":" + std::to_string(n) +
         "}\n\n";
}

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

class SseStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    handler_.handle = [this](Request req, std::shared_ptr<Exchange> exchange) {
      if (req.target() != "/stream") return TestHandler::Echo(std::move(req), std::move(exchange));
      Response headers;
      headers.set("X-Request-Id", "sse-1");
      auto stream = exchange->StartStream(std::move(headers));
      stream->OnClose([this] { closed_.set_value(); });
      started_.set_value(std::move(stream));
    };
  }

  void StartServer(ServerOptions options) {
    options.port = 0;
    options.stop_timeout = 2s;
    server_ = std::make_unique<HttpServer>(std::move(options), handler_);
    ASSERT_TRUE(server_->Start().ok());
  }

  // Opens /stream on `client` and returns the server side of it.
  std::shared_ptr<EventStream> OpenStream(Client& client) {
    EXPECT_TRUE(client.Write(Get("/stream")));
    return started_.get_future().get();
  }

  bool ClosedWithin(std::chrono::milliseconds timeout) {
    return closed_future_.wait_for(timeout) == std::future_status::ready;
  }

  TestHandler handler_;
  std::promise<std::shared_ptr<EventStream>> started_;
  std::promise<void> closed_;
  std::future<void> closed_future_ = closed_.get_future();
  std::unique_ptr<HttpServer> server_;
};

TEST_F(SseStreamTest, FramesArriveInOrderThenHeartbeatsThenACleanEnd) {
  ServerOptions options;
  options.sse_heartbeat = 50ms;
  StartServer(options);
  Client client(server_->port());
  auto stream = OpenStream(client);
  EXPECT_EQ(server_->open_streams(), 1u);
  std::thread writer([&] {
    for (int n = 0; n < 100; ++n) EXPECT_TRUE(stream->Write(Frame(n)));
  });
  std::string received = client.ReadRawUntil([](std::string_view bytes) {
    auto last = bytes.find(Frame(99));
    return last != std::string_view::npos &&
           bytes.find(": keep-alive\n\n", last) != std::string_view::npos;
  });
  writer.join();
  EXPECT_TRUE(received.starts_with("HTTP/1.1 200 OK\r\n")) << received.substr(0, 200);
  const std::string head = received.substr(0, received.find("\r\n\r\n"));
  EXPECT_TRUE(Contains(head, "Content-Type: text/event-stream"));
  EXPECT_TRUE(Contains(head, "Cache-Control: no-store"));
  EXPECT_TRUE(Contains(head, "Transfer-Encoding: chunked"));
  EXPECT_TRUE(Contains(head, "X-Request-Id: sse-1"));
  EXPECT_FALSE(Contains(head, "Content-Length"));
  std::size_t at = 0;
  for (int n = 0; n < 100; ++n) {
    const std::size_t next = received.find(Frame(n), at);
    ASSERT_NE(next, std::string::npos) << "frame " << n << " missing or out of order";
    at = next;
  }

  stream->Close();
  EXPECT_FALSE(stream->Write(Frame(100)));
  std::string tail = client.ReadRawUntil([](std::string_view) { return false; });
  EXPECT_TRUE(tail.ends_with("0\r\n\r\n")) << tail;  // last chunk, then EOF
  EXPECT_TRUE(ClosedWithin(kWait));
  EXPECT_TRUE(WaitUntil([&] { return server_->open_streams() == 0; }));
}

TEST_F(SseStreamTest, ReaderThatNeverReadsIsDroppedWhileOthersAreServed) {
  ServerOptions options;
  options.sse_backlog_bytes = 64 * 1024;
  options.write_timeout = 60s;  // only the backlog bound may act
  StartServer(options);
  Client stuck(server_->port());
  auto stream = OpenStream(stuck);
  std::atomic<bool> refused = false;
  std::thread writer([&] {
    const std::string frame = "data: " + std::string(1024, 'x') + "\n\n";
    // Far more than the socket buffers hold: the backlog must overflow.
    for (int i = 0; i < 256 * 1024 && !refused; ++i) refused = !stream->Write(frame);
  });
  Client other(server_->port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(other.Write(Get("/ping")));
    auto res = other.Read();
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->body(), "GET /ping\n");
  }
  writer.join();
  EXPECT_TRUE(refused);
  EXPECT_TRUE(stream->closed());
  EXPECT_TRUE(ClosedWithin(kWait));
  EXPECT_TRUE(WaitUntil([&] { return server_->open_streams() == 0; }));
  EXPECT_TRUE(WaitUntil([&] { return server_->open_connections() == 1; }));
}

TEST_F(SseStreamTest, PeerDisconnectRunsOnClose) {
  StartServer(ServerOptions{});
  Client client(server_->port());
  auto stream = OpenStream(client);
  ASSERT_TRUE(stream->Write(Frame(1)));
  client.ReadRawUntil([](std::string_view bytes) { return Contains(bytes, Frame(1)); });
  client.Close();
  EXPECT_TRUE(ClosedWithin(kWait));
  EXPECT_TRUE(stream->closed());
  EXPECT_FALSE(stream->Write(Frame(2)));
}

TEST_F(SseStreamTest, StopEndsStreamsAndRunsOnClose) {
  StartServer(ServerOptions{});
  Client client(server_->port());
  auto stream = OpenStream(client);
  ASSERT_TRUE(stream->Write(Frame(1)));
  server_->Stop();
  EXPECT_TRUE(ClosedWithin(0ms));
  EXPECT_TRUE(stream->closed());
  std::string received = client.ReadRawUntil([](std::string_view) { return false; });
  EXPECT_TRUE(Contains(received, Frame(1)));
  EXPECT_TRUE(received.ends_with("0\r\n\r\n")) << received;
}

TEST_F(SseStreamTest, Http10StreamEndsWithTheConnection) {
  StartServer(ServerOptions{});
  Client client(server_->port());
  ASSERT_TRUE(client.Write("GET /stream HTTP/1.0\r\n\r\n"));
  auto stream = started_.get_future().get();
  ASSERT_TRUE(stream->Write(Frame(7)));
  stream->Close();
  std::string received = client.ReadRawUntil([](std::string_view) { return false; });
  EXPECT_TRUE(received.starts_with("HTTP/1.0 200 OK\r\n"));
  EXPECT_FALSE(Contains(received, "chunked"));
  EXPECT_TRUE(received.ends_with("\r\n\r\n" + Frame(7))) << received;
}

// The catch-up may read a batch that is stored but not yet delivered; when
// the committer delivers it after Release, the subscription must not send it
// a second time.
TEST_F(SseStreamTest, SubscriptionDropsFramesItsCatchUpAlreadySent) {
  StartServer(ServerOptions{});
  Client client(server_->port());
  auto stream = OpenStream(client);
  Subscription subscription(stream, "viewer",
                            [](const LiveItem& item, std::uint64_t* id, bool*) {
                              *id = item.event.position;
                              return Frame(static_cast<int>(item.event.position));
                            });
  const projections::RunChange change;
  auto deliver = [&](std::uint64_t position) {
    ledger::Event event;
    event.position = position;
    subscription.Deliver(LiveItem{event, change});
  };
  for (int n = 1; n <= 3; ++n) EXPECT_TRUE(stream->Write(Frame(n)));  // the catch-up
  deliver(2);  // delivered before Release: held, covered by the catch-up
  subscription.Release(3);
  deliver(3);  // stored before the catch-up read it, delivered only now
  deliver(4);
  stream->Close();
  const std::string received = client.ReadRawUntil([](std::string_view) { return false; });
  std::vector<int> ids;
  for (size_t at = received.find("id: "); at != std::string::npos; at = received.find("id: ", at + 1)) {
    ids.push_back(std::stoi(received.substr(at + 4)));
  }
  EXPECT_EQ(ids, (std::vector<int>{1, 2, 3, 4}));
}

}  // namespace
}  // namespace runledger::server
