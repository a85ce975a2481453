// GET /v1/export streamed from an export worker over a real server and
// ledger: a bundle far larger than the backlog bound reaches a slow reader
// whole and verifies, with the server's unsent backlog held under the bound;
// a reader that leaves stops its worker; errors found before the first byte
// stay problem answers; a third concurrent export is turned away; CSV,
// filtered and HTTP/1.0 bundles; a stop in the middle of an export is clean.

#include <future>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "ledger/export.h"
#include "tests/server/test_client.h"
#include "tests/testing/server_harness.h"

namespace runledger::server {
namespace {

using namespace std::chrono_literals;
using runledger::testing::HttpClient;
using runledger::testing::IsProblem;
using runledger::testing::kDeadline;
using runledger::testing::RunIn;
using runledger::testing::TestServer;
using runledger::testing::TestServerOptions;
using runledger::testing::WaitFor;
using testing::Client;
using testing::ParseResponse;

constexpr std::size_t kBacklogBytes = 256 * 1024;
// The big run's logged events: about 12 MiB of bundle, several times what
// the loopback socket buffers and the backlog bound hold together.
constexpr int kBigEvents = 384;
constexpr std::size_t kMessageBytes = 32 * 1024;
constexpr std::size_t kSlowReadBytes = 256 * 1024;
const std::string kWholeLedger = "/v1/export?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z";

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::string ReadToEnd(Client& client) {
  return client.ReadRawUntil([](std::string_view) { return false; }, kDeadline);
}

class ExportStreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestServerOptions options;  // local mode: the caller is the admin
    options.http.body_backlog_bytes = kBacklogBytes;
    options.http.write_timeout = 60s;  // the tests' readers alone set the pace
    server_ = new TestServer(std::move(options));
    ASSERT_TRUE(server_->Start().ok());
    HttpClient admin(server_->port());
    big_run_ = RunIn(admin, "running", "scan", "ds1");
    std::string bulk;
    for (int i = 0; i < kBigEvents; ++i) {
      bulk += R"({"run_id":")" + big_run_ + R"(","id":"big-)" + std::to_string(i) +
              R"(","type":"logged","data":{"level":"info","message":")" +
              std::string(kMessageBytes, 'm') + "\"}}\n";
    }
    const Response ingest =
        admin.Send("POST", "/v1/events", bulk, {{"Content-Type", "application/x-ndjson"}});
    ASSERT_EQ(ingest.result_int(), 200);
    ASSERT_FALSE(Contains(ingest.body(), "\"type\"")) << "a line was refused";
    small_run_ = RunIn(admin, "success", "profile", "ds2");
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (!server_->running()) {
      ASSERT_TRUE(server_->Start().ok());
    }
  }

  // Sends GET `target` on a connection of its own and reads nothing yet.
  static std::unique_ptr<Client> StartExport(const std::string& target) {
    auto client = std::make_unique<Client>(server_->port());
    EXPECT_TRUE(client->Write(HttpClient(server_->port()).Format("GET", target, "", {})));
    return client;
  }

  static bool WritersWaiting(std::size_t count) {
    return WaitFor([count] { return server_->http().body_writers_waiting() == count; });
  }

  // Reads only while the export's writer waits for room, kSlowReadBytes at
  // a time, then to the end; counts the waits it saw.
  static std::string ReadSlowly(Client& client, int* pauses) {
    std::string raw;
    for (;;) {
      bool waiting = false;
      EXPECT_TRUE(WaitFor([&] {
        waiting = server_->http().body_writers_waiting() > 0;
        return waiting || server_->api().exports_in_flight() == 0;
      }));
      if (!waiting) break;
      ++*pauses;
      raw += client.ReadRawUntil(
          [](std::string_view bytes) { return bytes.size() >= kSlowReadBytes; }, kDeadline);
    }
    return raw + ReadToEnd(client);
  }

  static ::testing::AssertionResult Verifies(const std::string& bundle,
                                             ledger::VerifyExportReport* report) {
    std::istringstream in(bundle);
    const Status s =
        ledger::VerifyExport(in, server_->ledger().store().PublicKeyPem(), std::nullopt, report);
    if (s.ok()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << s.message();
  }

  // runledger_exports_in_flight as GET /metrics reports it; -1 if absent.
  static double ExportsInFlightMetric(HttpClient& client) {
    const std::string body = client.Send("GET", "/metrics").body();
    const std::string name = "\nrunledger_exports_in_flight ";
    const size_t at = body.find(name);
    return at == std::string::npos ? -1 : std::stod(body.substr(at + name.size()));
  }

  static TestServer* server_;
  static std::string big_run_;
  static std::string small_run_;
};

TestServer* ExportStreamTest::server_ = nullptr;
std::string ExportStreamTest::big_run_;
std::string ExportStreamTest::small_run_;

TEST_F(ExportStreamTest, SlowReaderGetsTheWholeBundleAndTheBacklogStaysUnderTheBound) {
  auto client = StartExport(kWholeLedger);
  ASSERT_TRUE(WritersWaiting(1));  // the reader has not read a byte yet
  int pauses = 0;
  const std::string raw = ReadSlowly(*client, &pauses);
  EXPECT_GT(pauses, 1);
  auto response = ParseResponse(raw);
  ASSERT_TRUE(response.has_value()) << "the answer is incomplete";
  EXPECT_EQ(response->result_int(), 200u);
  EXPECT_EQ((*response)[http::field::content_type], "application/x-ndjson");
  EXPECT_EQ((*response)[http::field::transfer_encoding], "chunked");
  EXPECT_TRUE(Contains((*response)[http::field::content_disposition], "runledger-export-1-"));
  EXPECT_GT(response->body().size(), 40 * kBacklogBytes);
  ledger::VerifyExportReport report;
  EXPECT_TRUE(Verifies(response->body(), &report));
  EXPECT_EQ(report.first, 1u);
  EXPECT_EQ(report.last, server_->ledger().store().size());
  EXPECT_GT(server_->http().body_backlog_peak_bytes(), 0u);
  EXPECT_LE(server_->http().body_backlog_peak_bytes(), kBacklogBytes);
  EXPECT_TRUE(WaitFor([] { return server_->api().exports_in_flight() == 0; }));
}

TEST_F(ExportStreamTest, ReaderThatLeavesStopsTheWorker) {
  HttpClient metrics(server_->port());
  auto client = StartExport(kWholeLedger);
  ASSERT_TRUE(WritersWaiting(1));
  EXPECT_EQ(ExportsInFlightMetric(metrics), 1.0);
  client->Close();
  EXPECT_TRUE(WaitFor([&] { return ExportsInFlightMetric(metrics) == 0.0; }));
  EXPECT_EQ(server_->http().body_writers_waiting(), 0u);
}

TEST_F(ExportStreamTest, ErrorsBeforeTheFirstByteAreProblems) {
  HttpClient client(server_->port());
  EXPECT_TRUE(
      IsProblem(client.Send("GET", "/v1/export?from=1999-01-01T00:00:00Z&to=1999-01-02T00:00:00Z"),
                422, "empty_range"));
  EXPECT_TRUE(
      IsProblem(client.Send("GET", kWholeLedger + "&since_size=999999999"), 422, "out_of_range"));
  EXPECT_TRUE(IsProblem(client.Send("GET", "/v1/export?from=never&to=2100-01-01T00:00:00Z"), 400,
                        "bad_request"));
  EXPECT_TRUE(IsProblem(client.Send("GET", kWholeLedger + "&format=xml"), 400, "bad_request"));
  // Problems keep the connection: the next answer comes on it.
  EXPECT_EQ(client.Send("GET", "/v1/ledger/checkpoint").result_int(), 200u);
  EXPECT_EQ(client.connects(), 1);
}

TEST_F(ExportStreamTest, ThirdConcurrentExportIsTurnedAway) {
  auto first = StartExport(kWholeLedger);
  auto second = StartExport(kWholeLedger);
  ASSERT_TRUE(WritersWaiting(2));
  HttpClient third(server_->port());
  const Response busy = third.Send("GET", kWholeLedger);
  EXPECT_TRUE(IsProblem(busy, 503, "exports_busy"));
  EXPECT_EQ(busy[http::field::retry_after], "5");
  for (Client* client : {first.get(), second.get()}) {
    auto response = ParseResponse(ReadToEnd(*client));
    ASSERT_TRUE(response.has_value());
    ledger::VerifyExportReport report;
    EXPECT_TRUE(Verifies(response->body(), &report));
  }
  EXPECT_TRUE(WaitFor([] { return server_->api().exports_in_flight() == 0; }));
  EXPECT_EQ(third.Send("GET", kWholeLedger).result_int(), 200u);
}

TEST_F(ExportStreamTest, CsvHasARowPerMatchingEventWithTheRunColumns) {
  HttpClient client(server_->port());
  const Response csv = client.Send("GET", kWholeLedger + "&format=csv&datastore=ds2");
  ASSERT_EQ(csv.result_int(), 200u);
  EXPECT_EQ(csv[http::field::content_type], "text/csv; charset=utf-8; header=present");
  std::istringstream lines(csv.body());
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line,
            "position,seq,run_id,type,recorded_at,principal,operation,datastore,status,hash,"
            "data\r");
  std::vector<std::string> types;
  while (std::getline(lines, line)) {
    EXPECT_TRUE(Contains(line, small_run_ + ",")) << line;
    EXPECT_TRUE(Contains(line, ",profile,ds2,")) << line;
    types.push_back(line.substr(line.find(small_run_) + small_run_.size() + 1));
    types.back().resize(types.back().find(','));
  }
  EXPECT_EQ(types, (std::vector<std::string>{"created", "started", "ended"}));
}

TEST_F(ExportStreamTest, BundleFilteredToOneRunVerifies) {
  HttpClient client(server_->port());
  const Response bundle = client.Send("GET", kWholeLedger + "&run_id=" + small_run_);
  ASSERT_EQ(bundle.result_int(), 200u);
  ledger::VerifyExportReport report;
  EXPECT_TRUE(Verifies(bundle.body(), &report));
  EXPECT_EQ(report.events, 3u);
  EXPECT_EQ(report.leaf_hashes, server_->ledger().store().size() - 3);
}

TEST_F(ExportStreamTest, Http10BundleEndsWithTheConnection) {
  Client client(server_->port());
  ASSERT_TRUE(client.Write("GET " + kWholeLedger + " HTTP/1.0\r\nHost: 127.0.0.1:" +
                           std::to_string(server_->port()) + "\r\n\r\n"));
  auto response = ParseResponse(ReadToEnd(client));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->version(), 10u);
  EXPECT_FALSE(response->chunked());
  ledger::VerifyExportReport report;
  EXPECT_TRUE(Verifies(response->body(), &report));
}

TEST_F(ExportStreamTest, StopDuringAnExportIsClean) {
  auto client = StartExport(kWholeLedger);
  ASSERT_TRUE(WritersWaiting(1));
  auto stopped = std::async(std::launch::async, [] { server_->Stop(); });
  ASSERT_EQ(stopped.wait_for(kDeadline), std::future_status::ready);
  const std::string raw = ReadToEnd(*client);
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 200 OK\r\n"));
  EXPECT_FALSE(raw.ends_with("0\r\n\r\n"));
  EXPECT_FALSE(ParseResponse(raw).has_value());  // cut: no last chunk, no trailer
  ASSERT_TRUE(server_->Start().ok());            // the ledger opens again: it was closed cleanly
}

}  // namespace
}  // namespace runledger::server
