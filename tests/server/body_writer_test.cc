// Streamed bodies (Exchange::StartBody) through HttpServer: framing, the
// handler's headers, back-pressure under the backlog bound, and every way a
// body ends: Finish, Abort, a reader that leaves or stalls, Stop, HEAD.

#include <atomic>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "server/http_server.h"
#include "tests/server/test_client.h"

namespace runledger::server {
namespace {

using namespace std::chrono_literals;
using testing::Client;
using testing::Get;
using testing::kWait;
using testing::ParseResponse;
using testing::TestHandler;
using testing::WaitUntil;

constexpr std::size_t kChunkBytes = 16 * 1024;
// Far more than loopback socket buffers hold (tcp_wmem's 4 MiB at most), so
// a writer whose reader does not read must reach the backlog bound.
constexpr int kManyChunks = 1024;  // 16 MiB

// Chunk `n`: its number, then filler, kChunkBytes in all.
std::string Chunk(int n) {
  std::string chunk = "<" + std::to_string(n) + ">";
  chunk.resize(kChunkBytes, static_cast<char>('a' + n % 26));
  return chunk;
}

std::string Chunks(int count) {
  std::string all;
  for (int n = 0; n < count; ++n) all += Chunk(n);
  return all;
}

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

class BodyWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    handler_.handle = [this](Request req, std::shared_ptr<Exchange> exchange) {
      if (req.target() != "/body") return TestHandler::Echo(std::move(req), std::move(exchange));
      exchange_.set_value(std::move(exchange));  // written from the test's threads
    };
  }

  void StartServer(ServerOptions options = Defaults()) {
    options.port = 0;
    options.stop_timeout = 2s;
    server_ = std::make_unique<HttpServer>(std::move(options), handler_);
    ASSERT_TRUE(server_->Start().ok());
  }

  static ServerOptions Defaults() {
    ServerOptions options;
    options.body_backlog_bytes = 64 * 1024;
    return options;
  }

  // Sends `request` on `client` and starts the body of its answer.
  std::unique_ptr<BodyWriter> OpenBody(Client& client, std::string_view request = Get("/body")) {
    EXPECT_TRUE(client.Write(request));
    auto exchange = exchange_.get_future();
    if (exchange.wait_for(kWait) != std::future_status::ready) {
      ADD_FAILURE() << "the request did not reach the handler";
      return nullptr;
    }
    Response headers{http::status::ok, 11};
    headers.set(http::field::content_type, "application/x-ndjson");
    headers.set("X-Request-Id", "body-1");
    return exchange.get()->StartBody(std::move(headers));
  }

  // Writes Chunk(0..count-1) on a worker thread (Write blocks), then
  // Finish(); the future tells how many chunks Write took.
  static std::future<int> WriteOnWorker(BodyWriter& body, int count) {
    return std::async(std::launch::async, [&body, count] {
      int taken = 0;
      while (taken < count && body.Write(Chunk(taken))) ++taken;
      body.Finish();
      return taken;
    });
  }

  bool WriterBlocked() {
    return WaitUntil([&] { return server_->body_writers_waiting() == 1; });
  }

  TestHandler handler_;
  std::promise<std::shared_ptr<Exchange>> exchange_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(BodyWriterTest, ChunksArriveInOrderUnderTheHandlersHeadersThenTheLastChunk) {
  StartServer();
  Client client(server_->port());
  auto body = OpenBody(client);
  ASSERT_NE(body, nullptr);
  auto writer = WriteOnWorker(*body, 40);
  const std::string raw = client.ReadRawUntil([](std::string_view) { return false; });
  EXPECT_EQ(writer.get(), 40);
  const std::string head = raw.substr(0, raw.find("\r\n\r\n"));
  EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK\r\n")) << head;
  EXPECT_TRUE(Contains(head, "Content-Type: application/x-ndjson"));
  EXPECT_TRUE(Contains(head, "Transfer-Encoding: chunked"));
  EXPECT_TRUE(Contains(head, "Connection: close"));
  EXPECT_TRUE(Contains(head, "X-Request-Id: body-1"));
  EXPECT_FALSE(Contains(head, "Content-Length"));
  EXPECT_FALSE(Contains(raw, ": keep-alive"));  // no SSE heartbeat in a body
  EXPECT_TRUE(raw.ends_with("0\r\n\r\n"));
  auto response = ParseResponse(raw);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body(), Chunks(40));
  EXPECT_TRUE(WaitUntil([&] { return server_->open_streams() == 0; }));
}

TEST_F(BodyWriterTest, SlowReaderSetsThePaceAndTheBacklogStaysUnderTheBound) {
  StartServer();
  Client client(server_->port());
  auto body = OpenBody(client);
  ASSERT_NE(body, nullptr);
  std::atomic<bool> writer_done = false;
  auto writer = std::async(std::launch::async, [&] {
    int taken = 0;
    while (taken < kManyChunks && body->Write(Chunk(taken))) ++taken;
    body->Finish();
    writer_done = true;
    return taken;
  });
  // Read only while the writer waits for room, a little at a time.
  std::string raw;
  int pauses = 0;
  while (!writer_done) {
    ASSERT_TRUE(WaitUntil([&] { return server_->body_writers_waiting() == 1 || writer_done; }));
    if (server_->body_writers_waiting() == 1) ++pauses;
    raw += client.ReadRawUntil([](std::string_view bytes) { return bytes.size() >= 256 * 1024; });
  }
  raw += client.ReadRawUntil([](std::string_view) { return false; });
  EXPECT_EQ(writer.get(), kManyChunks);
  EXPECT_GT(pauses, 1);
  EXPECT_LE(server_->body_backlog_peak_bytes(), Defaults().body_backlog_bytes);
  EXPECT_GE(server_->body_backlog_peak_bytes(), Defaults().body_backlog_bytes - kChunkBytes);
  auto response = ParseResponse(raw);
  ASSERT_TRUE(response.has_value());
  EXPECT_TRUE(response->body() == Chunks(kManyChunks)) << "the body differs";
}

TEST_F(BodyWriterTest, AbortCutsTheBodyWithoutTheLastChunk) {
  StartServer();
  Client client(server_->port());
  auto body = OpenBody(client);
  ASSERT_NE(body, nullptr);
  ASSERT_TRUE(body->Write(Chunk(0)));
  client.ReadRawUntil([](std::string_view bytes) { return Contains(bytes, "<0>"); });
  body->Abort();
  EXPECT_FALSE(body->Write(Chunk(1)));
  const std::string rest = client.ReadRawUntil([](std::string_view) { return false; });
  EXPECT_FALSE(Contains(rest, "0\r\n\r\n")) << rest;
  EXPECT_TRUE(WaitUntil([&] { return server_->open_connections() == 0; }));
}

TEST_F(BodyWriterTest, WriterWaitingOnAReaderThatLeftIsReleased) {
  StartServer();
  Client client(server_->port());
  auto body = OpenBody(client);
  ASSERT_NE(body, nullptr);
  auto writer = WriteOnWorker(*body, kManyChunks);
  ASSERT_TRUE(WriterBlocked());
  client.Close();
  ASSERT_EQ(writer.wait_for(kWait), std::future_status::ready);
  EXPECT_LT(writer.get(), kManyChunks);
  EXPECT_TRUE(WaitUntil([&] { return server_->open_streams() == 0; }));
}

TEST_F(BodyWriterTest, ReaderThatStallsPastTheWriteTimeoutIsCut) {
  ServerOptions options = Defaults();
  options.write_timeout = 300ms;
  StartServer(options);
  Client client(server_->port());
  auto body = OpenBody(client);
  ASSERT_NE(body, nullptr);
  auto writer = WriteOnWorker(*body, kManyChunks);
  ASSERT_EQ(writer.wait_for(kWait), std::future_status::ready);
  EXPECT_LT(writer.get(), kManyChunks);
  EXPECT_TRUE(WaitUntil([&] { return server_->open_connections() == 0; }));
}

TEST_F(BodyWriterTest, StopCutsAWaitingWriterAndTheBody) {
  StartServer();
  Client client(server_->port());
  auto body = OpenBody(client);
  ASSERT_NE(body, nullptr);
  auto writer = WriteOnWorker(*body, kManyChunks);
  ASSERT_TRUE(WriterBlocked());
  server_->Stop();
  ASSERT_EQ(writer.wait_for(kWait), std::future_status::ready);
  EXPECT_LT(writer.get(), kManyChunks);
  const std::string raw = client.ReadRawUntil([](std::string_view) { return false; });
  EXPECT_FALSE(raw.ends_with("0\r\n\r\n"));
  EXPECT_FALSE(ParseResponse(raw).has_value());  // truncated
}

TEST_F(BodyWriterTest, Http10BodyEndsWithTheConnection) {
  StartServer();
  Client client(server_->port());
  auto body = OpenBody(client, "GET /body HTTP/1.0\r\n\r\n");
  ASSERT_NE(body, nullptr);
  auto writer = WriteOnWorker(*body, 3);
  const std::string raw = client.ReadRawUntil([](std::string_view) { return false; });
  EXPECT_EQ(writer.get(), 3);
  EXPECT_TRUE(raw.starts_with("HTTP/1.0 200 OK\r\n")) << raw.substr(0, 200);
  EXPECT_FALSE(Contains(raw, "chunked"));
  EXPECT_TRUE(raw.ends_with("\r\n\r\n" + Chunks(3)));
}

TEST_F(BodyWriterTest, HeadGetsTheHeadersAlone) {
  StartServer();
  Client client(server_->port());
  auto body = OpenBody(client, "HEAD /body HTTP/1.1\r\nHost: test\r\n\r\n");
  ASSERT_NE(body, nullptr);
  auto writer = WriteOnWorker(*body, kManyChunks);
  const std::string raw = client.ReadRawUntil([](std::string_view) { return false; });
  ASSERT_EQ(writer.wait_for(kWait), std::future_status::ready);
  EXPECT_LT(writer.get(), kManyChunks);
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 200 OK\r\n"));
  EXPECT_TRUE(raw.ends_with("\r\n\r\n"))
      << raw.substr(raw.size() - std::min<size_t>(raw.size(), 100));
  EXPECT_FALSE(Contains(raw, "<0>"));
}

}  // namespace
}  // namespace runledger::server
