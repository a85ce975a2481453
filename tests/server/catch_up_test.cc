// Server-Sent Events catch-ups larger than the transport's backlog bound
// (1 MiB): the server sends a bounded part, ends the stream cleanly, and the
// client resumes with Last-Event-ID until it has everything. (Before, the
// whole history was queued at once, overflowed the bound, and the connection
// was dropped with nothing sent, on every retry, after reading the whole
// ledger on the I/O thread.)

#include <gtest/gtest.h>

#include "tests/testing/server_harness.h"

namespace runledger::server {
namespace {

using ledger::Json;
using runledger::testing::CreateRun;
using runledger::testing::HttpClient;
using runledger::testing::ParseBody;
using runledger::testing::SseEvent;
using runledger::testing::SseReader;
using runledger::testing::Str;
using runledger::testing::TokenFor;

constexpr int kEvents = 2500;  // ~2.5 MiB of frames
const std::string kMessage(1000, 'm');

class CatchUpTest : public runledger::testing::ServerTest {
 protected:
  // Appends kEvents logged events of ~1 KB to `run_id`, by bulk.
  void AppendLogs(const std::string& run_id) {
    for (int first = 0; first < kEvents; first += 500) {
      std::string body;
      for (int i = first; i < first + 500; ++i) {
        body += R"({"run_id":")" + run_id + R"(","id":"l)" + std::to_string(i) +
                R"(","type":"logged","data":{"level":"info","message":")" + kMessage + "\"}}\n";
      }
      const Response r =
          As("worker").Send("POST", "/v1/events", body, {{"Content-Type", "application/x-ndjson"}});
      ASSERT_EQ(r.result_int(), 200u);
      ASSERT_EQ(r.body().find("\"status\":4"), std::string::npos) << r.body().substr(0, 300);
    }
  }

  // Reads `target` as an SSE stream, resuming with Last-Event-ID whenever the
  // server ends it, until `want` messages arrived (or a stream stalls).
  // Returns their ids in order; `*connections` counts the streams used.
  std::vector<std::string> ReadAll(const std::string& target, const std::string& token, size_t want,
                                   int* connections) {
    std::vector<std::string> ids;
    *connections = 0;
    while (ids.size() < want && *connections < 100) {
      runledger::testing::Headers headers;
      if (!ids.empty()) headers.emplace_back("Last-Event-ID", ids.back());
      SseReader reader(server_->port(), target, token, headers);
      ++*connections;
      EXPECT_EQ(reader.status(), 200u);
      const size_t before = ids.size();
      while (ids.size() < want) {
        auto event = reader.Next(std::chrono::seconds(10));
        if (!event) break;
        ids.push_back(event->id);
      }
      if (ids.size() < want) {
        EXPECT_TRUE(reader.ended_cleanly()) << "stream " << *connections << " was cut, not ended";
        EXPECT_GT(ids.size(), before) << "stream " << *connections << " made no progress";
        if (ids.size() == before) break;
      }
    }
    return ids;
  }
};

TEST_F(CatchUpTest, LedgerStreamCatchUpOverTheBacklogBoundResumesToTheEnd) {
  const std::string run_id = CreateRun(As("worker"));
  AppendLogs(run_id);
  const size_t total = kEvents + 1;  // the created event too
  int connections = 0;
  const auto ids = ReadAll("/v1/events", TokenFor("auditor"), total, &connections);
  ASSERT_EQ(ids.size(), total);
  for (size_t i = 0; i < ids.size(); ++i) ASSERT_EQ(ids[i], std::to_string(i + 1));
  EXPECT_GT(connections, 1);  // it did not fit in one burst
  // A live event still arrives after the catch-up.
  SseReader live(server_->port(), "/v1/events", TokenFor("auditor"),
                 {{"Last-Event-ID", ids.back()}});
  ASSERT_EQ(
      runledger::testing::Append(As("worker"), run_id, "started", R"({"worker":"w"})").result_int(),
      201u);
  auto next = live.Next();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->id, std::to_string(total + 1));
}

TEST_F(CatchUpTest, LogStreamCatchUpOverTheBacklogBoundResumesToTheEnd) {
  const std::string run_id = CreateRun(As("worker"));
  AppendLogs(run_id);
  int connections = 0;
  const auto ids =
      ReadAll("/v1/runs/" + run_id + "/logs", TokenFor("viewer"), kEvents, &connections);
  ASSERT_EQ(ids.size(), static_cast<size_t>(kEvents));
  for (size_t i = 0; i < ids.size(); ++i)
    ASSERT_EQ(ids[i], std::to_string(i + 2));  // seq 1 is created
  EXPECT_GT(connections, 1);
}

TEST_F(CatchUpTest, LiveRunsCoalescedCatchUpOverTheBacklogBoundResumesToTheEnd) {
  // 400 runs of ~4 KB each: ~1.6 MiB of run states to catch up on.
  const std::string config = R"("config":{"blob":")" + std::string(4000, 'c') + "\"}";
  std::string body;
  for (int i = 0; i < 400; ++i) {
    char run_id[37];
    std::snprintf(run_id, sizeof run_id, "0190a5c8-0000-4000-8000-%012d", i);
    body += R"({"run_id":")" + std::string(run_id) +
            R"(","id":"c","type":"created","data":{"operation":"scan","datastore":{"id":"ds1"},)" +
            R"("triggered_by":{"kind":"api","id":"ci"},)" + config + "}}\n";
  }
  const Response r =
      As("worker").Send("POST", "/v1/events", body, {{"Content-Type", "application/x-ndjson"}});
  ASSERT_EQ(r.result_int(), 200u);
  ASSERT_EQ(r.body().find("\"status\":4"), std::string::npos) << r.body().substr(0, 300);
  int connections = 0;
  std::vector<std::string> ids;
  // Resuming from 0 asks for every run once.
  {
    runledger::testing::Headers headers = {{"Last-Event-ID", "0"}};
    while (ids.size() < 400 && connections < 100) {
      if (!ids.empty()) headers = {{"Last-Event-ID", ids.back()}};
      SseReader reader(server_->port(), "/v1/runs/live", TokenFor("admin"), headers);
      ++connections;
      const size_t before = ids.size();
      while (auto event = reader.Next(std::chrono::seconds(2))) ids.push_back(event->id);
      if (ids.size() == before) break;
    }
  }
  ASSERT_EQ(ids.size(), 400u);
  for (size_t i = 0; i < ids.size(); ++i) ASSERT_EQ(ids[i], std::to_string(i + 1));
  EXPECT_GT(connections, 1);
}

}  // namespace
}  // namespace runledger::server
