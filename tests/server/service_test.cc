// The service as a whole: pipelining and keep-alive through the API, the
// transport's deadlines, and a restart on the same data directory.

#include <gtest/gtest.h>

#include "tests/testing/server_harness.h"

namespace runledger::server {
namespace {

using namespace std::chrono_literals;
using ledger::Json;
using runledger::testing::Append;
using runledger::testing::CreatedBody;
using runledger::testing::CreateRun;
using runledger::testing::HttpClient;
using runledger::testing::IsProblem;
using runledger::testing::Num;
using runledger::testing::ParseBody;
using runledger::testing::RunIn;
using runledger::testing::Str;
using runledger::testing::TestServerOptions;
using runledger::testing::TokenFor;

class ServiceTest : public runledger::testing::ServerTest {};

TEST_F(ServiceTest, PipelinedRequestsAreAnsweredInOrder) {
  HttpClient& client = admin();
  const std::string unknown = "/v1/runs/0190a5c8-2222-4222-8222-000000000002";
  std::string requests =
      client.Format("GET", "/v1/me", "", {{"X-Request-Id", "p1"}}) +
      client.Format("POST", "/v1/runs", CreatedBody(), {{"X-Request-Id", "p2"}}) +
      client.Format("GET", unknown, "", {{"X-Request-Id", "p3"}}) +
      client.Format("GET", "/healthz", "", {{"X-Request-Id", "p4"}});
  for (int i = 0; i < 8; ++i) requests += client.Format("POST", "/v1/runs", CreatedBody(), {});
  ASSERT_TRUE(client.WriteRaw(requests));
  const std::vector<unsigned> statuses = {200, 201, 404, 200};
  for (size_t i = 0; i < statuses.size(); ++i) {
    auto response = client.Read();
    ASSERT_TRUE(response.has_value()) << i << ": " << client.last_error();
    EXPECT_EQ(response->result_int(), statuses[i]) << i;
    EXPECT_EQ((*response)["X-Request-Id"], "p" + std::to_string(i + 1));
    EXPECT_TRUE(response->keep_alive());
  }
  // Appends pipelined on one connection take positions in request order.
  for (int i = 0; i < 8; ++i) {
    auto response = client.Read();
    ASSERT_TRUE(response.has_value()) << client.last_error();
    EXPECT_EQ(response->result_int(), 201u);
    EXPECT_EQ((*response)["X-Ledger-Position"], std::to_string(i + 2));
  }
  EXPECT_EQ(client.connects(), 1);
}

TEST_F(ServiceTest, KeepAliveServesManyRequestsOnOneConnection) {
  HttpClient& client = As("worker");
  const std::string id = CreateRun(client);
  for (int i = 0; i < 20; ++i) {
    const Response r = Append(client, id, "logged", R"({"level":"info","message":"m"})");
    ASSERT_EQ(r.result_int(), 201);
    EXPECT_TRUE(r.keep_alive());
  }
  EXPECT_EQ(client.Send("GET", "/v1/runs/" + id).result_int(), 200);
  EXPECT_EQ(client.connects(), 1);
  // A request that says Connection: close gets its answer, then the close.
  ASSERT_TRUE(client.WriteRaw(client.Format("GET", "/v1/me", "", {{"Connection", "close"}})));
  auto last = client.Read();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->result_int(), 200u);
  EXPECT_FALSE(last->keep_alive());
  EXPECT_TRUE(client.WaitForClose(runledger::testing::kDeadline));
}

TEST_F(ServiceTest, ARejectedRequestClosesOnlyItsConnection) {
  HttpClient& client = admin();
  EXPECT_TRUE(IsProblem(client.Send("GET", "/v1/me", "", {{"X-Pad", std::string(20000, 'x')}}), 431,
                        "headers_too_large"));
  EXPECT_EQ(client.Send("GET", "/v1/me").result_int(), 200);
  EXPECT_EQ(client.connects(), 2);
  EXPECT_EQ(As("worker").Send("GET", "/v1/me").result_int(), 200);
}

class TimeoutTest : public ServiceTest {
 protected:
  TestServerOptions Options() override {
    TestServerOptions options = ServiceTest::Options();
    options.http.header_timeout = 300ms;
    options.http.body_timeout = 300ms;
    options.http.idle_timeout = 300ms;
    return options;
  }
};

TEST_F(TimeoutTest, AHeaderSentByTheByteIsCutAtTheHeaderTimeout) {
  HttpClient slow(server_->port(), TokenFor("admin"));
  ASSERT_TRUE(slow.WriteRaw("GET /v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  // Each piece arrives well within any per-read timeout; only a deadline
  // on the whole header ends this.
  EXPECT_TRUE(slow.TrickleUntilClosed("X-Slow: 1\r\n", 20ms, runledger::testing::kDeadline));
  EXPECT_EQ(admin().Send("GET", "/v1/me").result_int(), 200) << "others are still served";
}

TEST_F(TimeoutTest, ABodyThatNeverComesIsCutAtTheBodyTimeout) {
  HttpClient slow(server_->port(), TokenFor("admin"));
  ASSERT_TRUE(slow.WriteRaw(
      "POST /v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TokenFor("admin") +
      "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"operation\""));
  EXPECT_TRUE(slow.WaitForClose(runledger::testing::kDeadline));
  EXPECT_EQ(runledger::testing::LedgerEventCount(As("auditor")), 0u);
}

TEST_F(TimeoutTest, AnIdleKeepAliveConnectionIsClosed) {
  HttpClient& client = admin();
  EXPECT_EQ(client.Send("GET", "/v1/me").result_int(), 200);
  EXPECT_TRUE(client.WaitForClose(runledger::testing::kDeadline));
  EXPECT_EQ(client.Send("GET", "/v1/me").result_int(), 200);
  EXPECT_EQ(client.connects(), 2);
}

TEST_F(ServiceTest, ARestartKeepsEveryRunAndEventAndPositionsContinue) {
  std::vector<std::string> ids;
  for (const char* status : {"queued", "running", "success", "failure", "aborted", "deleted"}) {
    ids.push_back(RunIn(admin(), status));
  }
  const std::string resumed =
      Str(ParseBody(admin().Send("POST", "/v1/runs/" + ids[3] + "/resume")), "id");
  ASSERT_EQ(Append(As("worker"), ids[1], "logged", R"({"level":"info","message":"before"})", "l-1")
                .result_int(),
            201);
  const std::string events_before = As("auditor").Send("GET", "/v1/events?limit=1000").body();
  const std::string runs_before =
      admin().Send("GET", "/v1/runs?include_deleted=true&limit=1000").body();
  const std::string counts_before = admin().Send("GET", "/v1/runs/counts").body();
  const std::uint64_t size = EventCount();
  ASSERT_GT(size, 10u);
  runledger::testing::SseReader live(server_->port(), "/v1/runs/live", TokenFor("viewer"));
  ASSERT_EQ(live.status(), 200u);

  clients_.clear();
  server_->Stop();
  EXPECT_TRUE(live.WaitForEnd()) << "stopping ends open streams";
  ASSERT_TRUE(server_->Start().ok());

  EXPECT_EQ(As("auditor").Send("GET", "/v1/events?limit=1000").body(), events_before);
  EXPECT_EQ(admin().Send("GET", "/v1/runs?include_deleted=true&limit=1000").body(), runs_before);
  EXPECT_EQ(admin().Send("GET", "/v1/runs/counts").body(), counts_before);
  EXPECT_EQ(admin().Send("GET", "/v1/runs/" + resumed).result_int(), 200);
  EXPECT_TRUE(IsProblem(admin().Send("GET", "/v1/runs/" + ids[5]), 404, "run_not_found"));
  // A clean stop signed every event.
  const Response checkpoint = As("auditor").Send("GET", "/v1/ledger/checkpoint");
  ASSERT_EQ(checkpoint.result_int(), 200);
  EXPECT_EQ(Num(ParseBody(checkpoint), "size"), static_cast<double>(size));
  // Appends continue, gap-free; the run's seq too; client ids are still known.
  const Response repeat =
      Append(As("worker"), ids[1], "logged", R"({"level":"info","message":"before"})", "l-1");
  EXPECT_EQ(repeat.result_int(), 200);
  const Response next =
      Append(As("worker"), ids[1], "logged", R"({"level":"info","message":"after"})");
  ASSERT_EQ(next.result_int(), 201);
  EXPECT_EQ(next["X-Ledger-Position"], std::to_string(size + 1));
  EXPECT_EQ(Num(ParseBody(next), "seq"), 4);
  EXPECT_EQ(CreateRun(admin()).size(), 36u);
  EXPECT_EQ(EventCount(), size + 2);
}

}  // namespace
}  // namespace runledger::server
