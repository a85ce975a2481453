#include "server/http_server.h"

#include <algorithm>
#include <future>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/server/test_client.h"

namespace runledger::server {
namespace {

using namespace std::chrono_literals;
using testing::Client;
using testing::Get;
using testing::kWait;
using testing::Post;
using testing::TestHandler;
using testing::WaitUntil;

class HttpServerTest : public ::testing::Test {
 protected:
  static ServerOptions Options() {
    ServerOptions options;
    options.port = 0;
    options.header_timeout = 2s;
    options.body_timeout = 2s;
    options.idle_timeout = 2s;
    options.write_timeout = 2s;
    options.stop_timeout = 2s;
    return options;
  }

  void StartServer(ServerOptions options = Options()) {
    server_ = std::make_unique<HttpServer>(std::move(options), handler_);
    ASSERT_TRUE(server_->Start().ok());
  }

  std::uint16_t port() const { return server_->port(); }

  TestHandler handler_;  // outlives server_
  std::unique_ptr<HttpServer> server_;
};

std::string BodyCode(const Response& res) {
  const std::string& body = res.body();
  auto start = body.find(R"("code":")");
  if (start == std::string::npos) return "";
  start += 8;
  return body.substr(start, body.find('"', start) - start);
}

// Checks a transport-made problem: status, media type, code, and an
// X-Request-Id repeated in the body.
void ExpectProblem(const std::optional<Response>& res, unsigned status,
                   std::string_view code) {
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), status);
  EXPECT_EQ((*res)[http::field::content_type], "application/problem+json");
  EXPECT_EQ(BodyCode(*res), code);
  const std::string id((*res)["X-Request-Id"]);
  EXPECT_FALSE(id.empty());
  EXPECT_NE(res->body().find(R"("request_id":")" + id + '"'), std::string::npos);
  EXPECT_FALSE(res->keep_alive());
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  StartServer();
  Client client(port());
  for (int i = 0; i < 3; ++i) {
    const std::string target = "/r" + std::to_string(i);
    ASSERT_TRUE(client.Write(Post(target, "body" + std::to_string(i))));
    auto res = client.Read();
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->body(), "POST " + target + "\nbody" + std::to_string(i));
    EXPECT_TRUE(res->keep_alive());
    EXPECT_EQ((*res)["X-Request-Id"].size(), 16u);  // added by the transport
  }
  EXPECT_EQ(server_->open_connections(), 1u);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInRequestOrder) {
  constexpr int kRequests = 5;
  std::mutex mutex;
  std::vector<std::pair<std::string, std::shared_ptr<Exchange>>> held;
  std::thread answerer;
  handler_.handle = [&](Request req, std::shared_ptr<Exchange> exchange) {
    std::lock_guard lock(mutex);
    held.emplace_back(std::string(req.target()), std::move(exchange));
    if (held.size() < kRequests) return;
    // All five were read ahead; answer them shuffled, from another thread.
    answerer = std::thread([batch = std::move(held)]() mutable {
      std::shuffle(batch.begin(), batch.end(), std::mt19937(42));
      if (batch.front().first == "/0") std::swap(batch.front(), batch.back());
      for (auto& [target, held_exchange] : batch) {
        held_exchange->Send(TestHandler::Text("answer to " + target));
      }
    });
  };
  StartServer();
  Client client(port());
  std::string all;
  for (int i = 0; i < kRequests; ++i) all += Get("/" + std::to_string(i));
  ASSERT_TRUE(client.Write(all));
  for (int i = 0; i < kRequests; ++i) {
    auto res = client.Read();
    ASSERT_TRUE(res.has_value()) << i;
    EXPECT_EQ(res->body(), "answer to /" + std::to_string(i));
  }
  answerer.join();
}

TEST_F(HttpServerTest, ManyPipeliningClientsOnSeveralIoThreads) {
  std::mutex mutex;
  std::vector<std::thread> answerers;
  handler_.handle = [&](Request req, std::shared_ptr<Exchange> exchange) {
    if (!req.target().ends_with("/async")) {
      return TestHandler::Echo(std::move(req), std::move(exchange));
    }
    std::lock_guard lock(mutex);
    answerers.emplace_back([req = std::move(req), exchange]() mutable {
      TestHandler::Echo(std::move(req), std::move(exchange));
    });
  };
  ServerOptions options = Options();
  options.io_threads = 3;
  StartServer(options);
  constexpr int kClients = 8;
  constexpr int kRounds = 25;
  std::vector<std::future<bool>> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.push_back(std::async(std::launch::async, [&, c] {
      Client client(port());
      for (int r = 0; r < kRounds; ++r) {
        const std::string a = "/" + std::to_string(c) + "/" + std::to_string(r) + "/async";
        const std::string b = "/" + std::to_string(c) + "/" + std::to_string(r) + "/sync";
        if (!client.Write(Get(a) + Post(b, "x"))) return false;
        auto first = client.Read();
        auto second = client.Read();
        if (!first || first->body() != "GET " + a + "\n") return false;
        if (!second || second->body() != "POST " + b + "\nx") return false;
      }
      return true;
    }));
  }
  for (auto& client : clients) EXPECT_TRUE(client.get());
  std::lock_guard lock(mutex);
  for (std::thread& thread : answerers) thread.join();
}

TEST_F(HttpServerTest, OversizedHeaderIs431ProblemThenClose) {
  StartServer();
  Client client(port());
  ASSERT_TRUE(client.Write(
      Get("/", "X-Big: " + std::string(20 * 1024, 'a') + "\r\n")));
  ExpectProblem(client.Read(), 431, "headers_too_large");
  EXPECT_TRUE(client.WaitForClose());
}

TEST_F(HttpServerTest, BodyOverTheHandlersLimitIs413) {
  handler_.limit = [](const http::request_header<>& header) {
    return header.target() == "/small" ? 1024u : 1u << 20;
  };
  StartServer();
  {  // Declared length: refused before any body byte is read.
    Client client(port());
    ASSERT_TRUE(client.Write(
        "POST /small HTTP/1.1\r\nHost: t\r\nX-Request-Id: mine\r\n"
        "Content-Length: 4096\r\n\r\n"));
    auto res = client.Read();
    ExpectProblem(res, 413, "payload_too_large");
    EXPECT_EQ((*res)["X-Request-Id"], "mine");
    EXPECT_TRUE(client.WaitForClose());
  }
  {  // Chunked: refused once the chunks pass the limit.
    Client client(port());
    ASSERT_TRUE(client.Write(
        "POST /small HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        "800\r\n" + std::string(0x800, 'x') + "\r\n0\r\n\r\n"));
    ExpectProblem(client.Read(), 413, "payload_too_large");
  }
  {  // The same body elsewhere is fine.
    Client client(port());
    ASSERT_TRUE(client.Write(Post("/big", std::string(4096, 'x'))));
    auto res = client.Read();
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->result_int(), 200u);
  }
}

TEST_F(HttpServerTest, MalformedRequestIs400ThenClose) {
  StartServer();
  Client client(port());
  ASSERT_TRUE(client.Write("GET / HTTP/1.1\r\nBad Header\r\n\r\n"));
  ExpectProblem(client.Read(), 400, "bad_request");
  EXPECT_TRUE(client.WaitForClose());
}

TEST_F(HttpServerTest, TricklingHeaderIsCutOffAtTheHeaderTimeout) {
  ServerOptions options = Options();
  options.header_timeout = 200ms;
  options.idle_timeout = 60s;
  StartServer(options);
  Client client(port());
  ASSERT_TRUE(client.Write("GET / HTTP/1.1\r\n"));
  // A header line every 20 ms keeps every single read short; only the
  // deadline on the whole header stops it.
  EXPECT_TRUE(client.WaitForClose(kWait, "X-Slow: 1\r\n", 20ms));
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  ServerOptions options = Options();
  options.idle_timeout = 200ms;
  StartServer(options);
  Client client(port());
  ASSERT_TRUE(client.Write(Get("/")));
  ASSERT_TRUE(client.Read().has_value());
  EXPECT_TRUE(client.WaitForClose());
  EXPECT_TRUE(WaitUntil([&] { return server_->open_connections() == 0; }));
}

TEST_F(HttpServerTest, SlowAnswerIsNotMistakenForIdleness) {
  ServerOptions options = Options();
  options.idle_timeout = 100ms;
  StartServer(options);
  std::promise<std::shared_ptr<Exchange>> got;
  handler_.handle = [&](Request, std::shared_ptr<Exchange> exchange) {
    got.set_value(std::move(exchange));
  };
  Client client(port());
  ASSERT_TRUE(client.Write(Get("/slow")));
  auto exchange = got.get_future().get();
  EXPECT_TRUE(client.StaysQuietFor(500ms));  // several idle periods pass
  exchange->Send(TestHandler::Text("late"));
  auto res = client.Read();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->body(), "late");
}

// Nothing more is read on these connections, so no pending read keeps the
// session while the handler works: the answer must still be written.
TEST_F(HttpServerTest, LateAnswerToTheLastRequestIsWritten) {
  StartServer();  // one I/O thread
  std::mutex mutex;
  std::promise<std::shared_ptr<Exchange>> got;
  handler_.handle = [&](Request request, std::shared_ptr<Exchange> exchange) {
    if (request.target() != "/late") return TestHandler::Echo(std::move(request), exchange);
    std::lock_guard lock(mutex);
    got.set_value(std::move(exchange));
  };
  struct LastRequest {
    std::string_view text;
    bool half_close;  // the client shuts its sending side after it
  };
  const LastRequest requests[] = {
      {"GET /late HTTP/1.0\r\n\r\n", false},
      {"GET /late HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", false},
      {"GET /late HTTP/1.1\r\nHost: test\r\n\r\n", true},
  };
  for (const LastRequest& request : requests) {
    SCOPED_TRACE(request.text);
    Client client(port());
    ASSERT_TRUE(client.Write(request.text));
    if (request.half_close) client.ShutdownSend();
    auto exchange = got.get_future().get();
    // A round trip on another connection: the one I/O thread has finished
    // with the first request's handlers by then.
    Client other(port());
    ASSERT_TRUE(other.Write(Get("/ping")));
    ASSERT_TRUE(other.Read().has_value());
    exchange->Send(TestHandler::Text("late"));
    auto res = client.Read();
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->body(), "late");
    EXPECT_TRUE(client.WaitForClose());
    std::lock_guard lock(mutex);
    got = {};
  }
}

TEST_F(HttpServerTest, ConnectionCloseAndHttp10AreHonored) {
  StartServer();
  {
    Client client(port());
    ASSERT_TRUE(client.Write(Get("/", "Connection: close\r\n")));
    auto res = client.Read();
    ASSERT_TRUE(res.has_value());
    EXPECT_FALSE(res->keep_alive());
    EXPECT_TRUE(client.WaitForClose());
  }
  {
    Client client(port());
    ASSERT_TRUE(client.Write("GET /old HTTP/1.0\r\n\r\n"));
    auto res = client.Read();
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->version(), 10u);
    EXPECT_EQ(res->body(), "GET /old\n");
    EXPECT_TRUE(client.WaitForClose());
  }
}

TEST_F(HttpServerTest, ExpectContinueGetsInterimResponse) {
  StartServer();
  Client client(port());
  ASSERT_TRUE(client.Write(
      "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
      "Expect: 100-continue\r\n\r\n"));
  auto interim = client.Read();
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(interim->result_int(), 100u);
  ASSERT_TRUE(client.Write("hello"));
  auto res = client.Read();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->body(), "POST /up\nhello");
}

TEST_F(HttpServerTest, DroppedExchangeIsAnswered500) {
  handler_.handle = [](Request, std::shared_ptr<Exchange>) {};
  StartServer();
  Client client(port());
  ASSERT_TRUE(client.Write(Get("/", "X-Request-Id: abc\r\n")));
  auto res = client.Read();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 500u);
  EXPECT_EQ((*res)["X-Request-Id"], "abc");
  EXPECT_TRUE(res->keep_alive());  // the connection carries on
}

TEST_F(HttpServerTest, StopLetsAnInFlightRequestFinish) {
  std::promise<std::shared_ptr<Exchange>> got;
  handler_.handle = [&](Request, std::shared_ptr<Exchange> exchange) {
    got.set_value(std::move(exchange));
  };
  StartServer();
  Client client(port());
  ASSERT_TRUE(client.Write(Get("/work")));
  auto exchange = got.get_future().get();
  auto stopped = std::async(std::launch::async, [&] { server_->Stop(); });
  EXPECT_EQ(stopped.wait_for(100ms), std::future_status::timeout);
  exchange->Send(TestHandler::Text("done"));
  auto res = client.Read();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->body(), "done");
  EXPECT_FALSE(res->keep_alive());  // draining
  EXPECT_TRUE(client.WaitForClose());
  EXPECT_EQ(stopped.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(server_->open_connections(), 0u);
}

TEST_F(HttpServerTest, AnswersAfterTheConnectionOrServerIsGoneAreHarmless) {
  std::mutex mutex;
  std::vector<std::shared_ptr<Exchange>> held;
  handler_.handle = [&](Request, std::shared_ptr<Exchange> exchange) {
    std::lock_guard lock(mutex);
    held.push_back(std::move(exchange));
  };
  auto held_count = [&] {
    std::lock_guard lock(mutex);
    return held.size();
  };
  ServerOptions options = Options();
  options.stop_timeout = 50ms;
  StartServer(options);
  {  // The client leaves before its answer.
    Client client(port());
    ASSERT_TRUE(client.Write(Get("/")));
    ASSERT_TRUE(WaitUntil([&] { return held_count() == 1; }));
  }
  held[0]->Send(TestHandler::Text("nobody listens"));
  EXPECT_TRUE(WaitUntil([&] { return server_->open_connections() == 0; }));
  {  // The server goes before the answers.
    Client client(port());
    ASSERT_TRUE(client.Write(Get("/a") + Get("/b")));
    ASSERT_TRUE(WaitUntil([&] { return held_count() == 3; }));
    server_.reset();
  }
  held[1]->Send(TestHandler::Text("after the server"));
  held[1]->Send(TestHandler::Text("twice"));
  auto stream = held[2]->StartStream(Response{});
  EXPECT_TRUE(stream->closed());
  EXPECT_FALSE(stream->Write("data: x\n\n"));
  bool ran = false;
  stream->OnClose([&] { ran = true; });
  EXPECT_TRUE(ran);
  held.clear();  // unanswered Exchanges die after the server too
}

TEST_F(HttpServerTest, StartFailsWhenThePortIsTaken) {
  StartServer();
  ServerOptions options = Options();
  options.port = port();
  HttpServer second(options, handler_);
  Status status = second.Start();
  EXPECT_EQ(status.code(), Code::kIOError) << status.ToString();
  options.address = "not an address";
  HttpServer third(options, handler_);
  EXPECT_EQ(third.Start().code(), Code::kBadRequest);
}

TEST_F(HttpServerTest, ConnectionsBeyondTheLimitAreRefused) {
  ServerOptions options = Options();
  options.max_connections = 1;
  StartServer(options);
  Client first(port());
  ASSERT_TRUE(first.Write(Get("/")));
  ASSERT_TRUE(first.Read().has_value());
  Client second(port());
  EXPECT_TRUE(second.WaitForClose());
  ASSERT_TRUE(first.Write(Get("/")));
  EXPECT_TRUE(first.Read().has_value());
}

}  // namespace
}  // namespace runledger::server
