// Server-Sent Events against the real server: GET /v1/runs/live, a run's
// log stream, the auditor's ledger stream, catch-up with Last-Event-ID,
// heartbeats, and the bound on a reader's backlog.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/testing/server_harness.h"

namespace runledger::server {
namespace {

using namespace std::chrono_literals;
using ledger::Json;
using runledger::testing::Append;
using runledger::testing::CreatedBody;
using runledger::testing::CreateRun;
using runledger::testing::HttpClient;
using runledger::testing::Num;
using runledger::testing::ParseBody;
using runledger::testing::RunIn;
using runledger::testing::SseEvent;
using runledger::testing::SseReader;
using runledger::testing::Str;
using runledger::testing::TestServerOptions;
using runledger::testing::TokenFor;
using runledger::testing::WaitFor;

class StreamsTest : public runledger::testing::ServerTest {
 protected:
  // A stream as `role`; fails the test unless it started.
  std::unique_ptr<SseReader> Open(const std::string& target, const std::string& role,
                                  const runledger::testing::Headers& headers = {}) {
    auto stream = std::make_unique<SseReader>(server_->port(), target, TokenFor(role), headers);
    EXPECT_EQ(stream->status(), 200u) << target;
    EXPECT_EQ(stream->header("Content-Type"), "text/event-stream");
    EXPECT_EQ(stream->header("Cache-Control"), "no-store");
    EXPECT_FALSE(stream->header("X-Request-Id").empty());
    return stream;
  }

  // The next message, with its id and the data parsed; a missing one fails.
  std::pair<std::string, Json> NextOf(SseReader& stream) {
    std::optional<SseEvent> event = stream.Next();
    if (!event) {
      ADD_FAILURE() << "no message (ended " << stream.ended() << ", timed out "
                    << stream.timed_out() << ")";
      return {"", Json()};
    }
    return {event->id, ParseBody(event->data)};
  }
};

TEST_F(StreamsTest, LiveRunsSendsEveryChangeWithTheLedgerPositionAsId) {
  auto live = Open("/v1/runs/live", "viewer");
  const std::string id = RunIn(admin(), "success");
  for (int position = 1; position <= 3; ++position) {
    const auto [event_id, state] = NextOf(*live);
    EXPECT_EQ(event_id, std::to_string(position));
    EXPECT_EQ(Str(state, "id"), id);
    EXPECT_EQ(Num(state, "version"), position);
    EXPECT_EQ(Str(state, "status"), position == 1   ? "queued"
                                    : position == 2 ? "running"
                                                    : "success");
  }
  ASSERT_EQ(admin().Send("DELETE", "/v1/runs/" + id).result_int(), 204);
  const auto [event_id, state] = NextOf(*live);
  EXPECT_EQ(event_id, "4");
  EXPECT_EQ(Str(state, "id"), id);
  ASSERT_NE(state.Find("deleted"), nullptr);
  EXPECT_TRUE(state.Find("deleted")->boolean());
}

TEST_F(StreamsTest, LiveRunsShowsAMemberOnlyItsDatastores) {
  auto viewer = Open("/v1/runs/live", "viewer");
  auto outsider = Open("/v1/runs/live", "outsider");
  const std::string ds2 = CreateRun(admin(), CreatedBody("scan", "ds2"));             // 1
  const std::string ds1 = CreateRun(admin(), CreatedBody("scan", "ds1"));             // 2
  ASSERT_EQ(Append(admin(), ds2, "started", R"({"worker":"w"})").result_int(), 201);  // 3
  ASSERT_EQ(Append(admin(), ds1, "started", R"({"worker":"w"})").result_int(), 201);  // 4
  auto [id, state] = NextOf(*viewer);
  EXPECT_EQ(id, "2");
  EXPECT_EQ(Str(state, "id"), ds1);
  std::tie(id, state) = NextOf(*viewer);
  EXPECT_EQ(id, "4");
  std::tie(id, state) = NextOf(*outsider);
  EXPECT_EQ(id, "1");
  EXPECT_EQ(Str(state, "id"), ds2);
  std::tie(id, state) = NextOf(*outsider);
  EXPECT_EQ(id, "3");
}

TEST_F(StreamsTest, LiveRunsCatchUpSendsEachChangedRunOnceThenGoesLiveWithoutAGap) {
  const std::string a = CreateRun(admin());                                         // 1
  const std::string b = CreateRun(admin());                                         // 2
  ASSERT_EQ(Append(admin(), a, "started", R"({"worker":"w"})").result_int(), 201);  // 3
  ASSERT_EQ(Append(admin(), b, "started", R"({"worker":"w"})").result_int(), 201);  // 4
  ASSERT_EQ(Append(admin(), a, "logged", R"({"level":"info","message":"m"})").result_int(),
            201);                                                        // 5
  const std::string c = CreateRun(admin(), CreatedBody("scan", "ds2"));  // 6
  auto live = Open("/v1/runs/live", "admin", {{"Last-Event-ID", "2"}});
  std::vector<std::pair<std::string, std::string>> got;
  for (int i = 0; i < 3; ++i) {
    const auto [id, state] = NextOf(*live);
    got.emplace_back(id, Str(state, "id"));
    if (Str(state, "id") == a) {
      EXPECT_EQ(Num(state, "log_count"), 1);
    }
  }
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{{"4", b}, {"5", a}, {"6", c}}));
  ASSERT_EQ(Append(admin(), b, "logged", R"({"level":"info","message":"m"})").result_int(),
            201);  // 7
  const auto [id, state] = NextOf(*live);
  EXPECT_EQ(id, "7");
  EXPECT_EQ(Str(state, "id"), b);

  // A member catches up on its own datastores only.
  auto viewer = Open("/v1/runs/live", "viewer", {{"Last-Event-ID", "0"}});
  got.clear();
  for (int i = 0; i < 2; ++i) {
    const auto [event_id, run] = NextOf(*viewer);
    got.emplace_back(event_id, Str(run, "id"));
  }
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{{"5", a}, {"7", b}}));
  const std::string d = CreateRun(admin());  // 8
  const auto [next_id, next] = NextOf(*viewer);
  EXPECT_EQ(next_id, "8");
  EXPECT_EQ(Str(next, "id"), d);
}

TEST_F(StreamsTest, LogStreamSendsExistingLinesThenLiveOnesAndEndsWithTheRun) {
  const std::string id = RunIn(admin(), "running");  // seq 1, 2
  ASSERT_EQ(Append(admin(), id, "logged", R"({"level":"info","message":"one"})").result_int(),
            201);                                                                        // 3
  ASSERT_EQ(Append(admin(), id, "progressed", R"({"processed":1})").result_int(), 201);  // 4
  ASSERT_EQ(Append(admin(), id, "logged", R"({"level":"debug","message":"two"})").result_int(),
            201);  // 5
  const std::string other = RunIn(admin(), "running");
  auto logs = Open("/v1/runs/" + id + "/logs", "viewer");
  auto info = Open("/v1/runs/" + id + "/logs?level=info", "viewer");
  auto [seq, event] = NextOf(*logs);
  EXPECT_EQ(seq, "3");
  EXPECT_EQ(Str(*event.Find("data"), "message"), "one");
  EXPECT_EQ(Num(event, "position"), 3);
  std::tie(seq, event) = NextOf(*logs);
  EXPECT_EQ(seq, "5");
  ASSERT_EQ(
      Append(admin(), other, "logged", R"({"level":"info","message":"elsewhere"})").result_int(),
      201);
  ASSERT_EQ(Append(admin(), id, "logged", R"({"level":"warning","message":"three"})").result_int(),
            201);  // 6
  std::tie(seq, event) = NextOf(*logs);
  EXPECT_EQ(seq, "6");
  EXPECT_EQ(Str(*event.Find("data"), "message"), "three");
  ASSERT_EQ(Append(admin(), id, "ended", R"({"status":"success"})").result_int(), 201);  // 7
  std::vector<SseEvent> rest;
  EXPECT_TRUE(logs->WaitForEnd(runledger::testing::kDeadline, &rest));
  EXPECT_TRUE(logs->ended_cleanly());
  EXPECT_TRUE(rest.empty());

  std::vector<SseEvent> filtered;
  EXPECT_TRUE(info->WaitForEnd(runledger::testing::kDeadline, &filtered));
  ASSERT_EQ(filtered.size(), 2u);
  EXPECT_EQ(filtered[0].id, "3");
  EXPECT_EQ(filtered[1].id, "6");
}

TEST_F(StreamsTest, LogStreamResumesAfterLastEventId) {
  const std::string id = RunIn(admin(), "running");
  for (const char* message : {"a", "b", "c"}) {  // seq 3, 4, 5
    ASSERT_EQ(Append(admin(), id, "logged",
                     R"({"level":"info","message":")" + std::string(message) + "\"}")
                  .result_int(),
              201);
  }
  auto resumed = Open("/v1/runs/" + id + "/logs", "worker", {{"Last-Event-ID", "3"}});
  EXPECT_EQ(NextOf(*resumed).first, "4");
  EXPECT_EQ(NextOf(*resumed).first, "5");
  auto after = Open("/v1/runs/" + id + "/logs?after_seq=4", "worker");
  EXPECT_EQ(NextOf(*after).first, "5");
  ASSERT_EQ(Append(admin(), id, "logged", R"({"level":"info","message":"d"})").result_int(), 201);
  EXPECT_EQ(NextOf(*resumed).first, "6");
  EXPECT_EQ(NextOf(*after).first, "6");
}

TEST_F(StreamsTest, LogStreamOfAnEndedRunSendsItsLinesThenEnds) {
  const std::string id = RunIn(admin(), "running");
  ASSERT_EQ(Append(admin(), id, "logged", R"({"level":"error","message":"x"})").result_int(), 201);
  ASSERT_EQ(
      Append(admin(), id, "ended", R"({"status":"failure","error":{"message":"x"}})").result_int(),
      201);
  auto logs = Open("/v1/runs/" + id + "/logs", "viewer");
  std::vector<SseEvent> events;
  EXPECT_TRUE(logs->WaitForEnd(runledger::testing::kDeadline, &events));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].id, "3");
}

TEST_F(StreamsTest, LedgerStreamCatchesUpFromAfterThenGoesLive) {
  const std::string id = RunIn(admin(), "running");  // 1, 2
  ASSERT_EQ(Append(admin(), id, "logged", R"({"level":"info","message":"m"})").result_int(),
            201);  // 3
  auto ledger = Open("/v1/events?after=1", "auditor");
  for (int position = 2; position <= 3; ++position) {
    const auto [event_id, event] = NextOf(*ledger);
    EXPECT_EQ(event_id, std::to_string(position));
    EXPECT_EQ(Num(event, "position"), position);
  }
  auto resumed = Open("/v1/events", "admin", {{"Last-Event-ID", "3"}});
  auto logged_only = Open("/v1/events?type=logged", "auditor");
  EXPECT_EQ(NextOf(*logged_only).first, "3");
  const Response appended =
      Append(admin(), id, "logged", R"({"level":"info","message":"n"})");  // 4
  ASSERT_EQ(appended.result_int(), 201);
  const auto [event_id, event] = NextOf(*ledger);
  EXPECT_EQ(event_id, "4");
  EXPECT_EQ(event, ParseBody(appended));
  EXPECT_EQ(NextOf(*resumed).first, "4");
  ASSERT_EQ(Append(admin(), id, "progressed", R"({"processed":1})").result_int(), 201);  // 5
  ASSERT_EQ(Append(admin(), id, "logged", R"({"level":"info","message":"o"})").result_int(),
            201);  // 6
  EXPECT_EQ(NextOf(*logged_only).first, "4");
  EXPECT_EQ(NextOf(*logged_only).first, "6");
  EXPECT_EQ(NextOf(*ledger).first, "5");
}

// The switch from catch-up to live must lose nothing, however close an
// append comes to it: streams opened while workers append to one run see
// every position (seq) once, in order; the coalesced live catch-up sends
// the run once, then every later change.
TEST_F(StreamsTest, StreamsOpenedWhileEventsArriveMissNothing) {
  const std::string id = RunIn(admin(), "running");
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&, w] {
      HttpClient worker(server_->port(), TokenFor("worker"));
      for (int i = 0; !stop.load(); ++i) {
        Append(worker, id, "logged", R"({"level":"info","message":"m"})",
               std::to_string(w) + "-" + std::to_string(i));
      }
    });
  }
  // The run's seq equals the ledger position: it is the only run.
  auto expect_consecutive = [](SseReader& stream, std::uint64_t first, const std::string& what) {
    for (std::uint64_t expected = first; expected < first + 8; ++expected) {
      const std::optional<SseEvent> event = stream.Next();
      ASSERT_TRUE(event.has_value()) << what;
      ASSERT_EQ(event->id, std::to_string(expected)) << what;
    }
  };
  std::uint64_t after = 2;
  for (int round = 0; round < 40; ++round) {
    const std::string at = std::to_string(after);
    auto ledger = Open("/v1/events?after=" + at, "auditor");
    auto logs = Open("/v1/runs/" + id + "/logs?after_seq=" + at, "viewer");
    auto live = Open("/v1/runs/live", "viewer", {{"Last-Event-ID", at}});
    expect_consecutive(*ledger, after + 1, "ledger stream, round " + std::to_string(round));
    expect_consecutive(*logs, after + 1, "log stream, round " + std::to_string(round));
    const std::optional<SseEvent> caught_up = live->Next();
    ASSERT_TRUE(caught_up.has_value());
    const std::uint64_t latest = std::stoull(caught_up->id);
    ASSERT_GT(latest, after);
    expect_consecutive(*live, latest + 1, "live runs, round " + std::to_string(round));
    // Close behind the head: each catch-up stays short.
    after = latest + 8 - 3;
  }
  stop.store(true);
  for (auto& writer : writers) writer.join();
}

class HeartbeatTest : public StreamsTest {
 protected:
  TestServerOptions Options() override {
    TestServerOptions options = StreamsTest::Options();
    options.http.sse_heartbeat = 50ms;
    return options;
  }
};

TEST_F(HeartbeatTest, AnIdleStreamGetsCommentLines) {
  auto live = Open("/v1/runs/live", "viewer");
  EXPECT_TRUE(live->WaitForComment("keep-alive"));
  const std::string id = CreateRun(admin());
  EXPECT_EQ(Str(NextOf(*live).second, "id"), id);
}

class BacklogTest : public StreamsTest {
 protected:
  TestServerOptions Options() override {
    TestServerOptions options = StreamsTest::Options();
    // The bound counts frames queued at once too: a reader that keeps up
    // still sees each batch below (128 KiB) arrive in one piece.
    options.http.sse_backlog_bytes = 512 * 1024;
    // Far beyond the test's deadlines: only the backlog bound may cut.
    options.http.write_timeout = 120s;
    return options;
  }
};

TEST_F(BacklogTest, AReaderThatNeverReadsIsDisconnectedAndOthersAreStillServed) {
  const std::string id = RunIn(admin(), "running");
  HttpClient never_reads(server_->port(), TokenFor("auditor"), /*receive_buffer_bytes=*/4096);
  ASSERT_TRUE(never_reads.WriteRaw(
      never_reads.Format("GET", "/v1/events", "", {{"Accept", "text/event-stream"}})));
  auto logs = Open("/v1/runs/" + id + "/logs", "viewer");
  ASSERT_TRUE(WaitFor([&] { return server_->http().open_streams() == 2; }));
  const std::string message(32 * 1024, 'x');
  int seq = 2;
  // At most 64 MiB: far beyond what the kernel's socket buffers hold.
  for (int batch = 0; batch < 512 && server_->http().open_streams() == 2; ++batch) {
    std::string body;
    for (int i = 0; i < 4; ++i) {
      body += R"({"run_id":")" + id + R"(","id":"b)" + std::to_string(batch) + "-" +
              std::to_string(i) + R"(","type":"logged","data":{"level":"info","message":")" +
              message + "\"}}\n";
    }
    const Response r =
        As("worker").Send("POST", "/v1/events", body, {{"Content-Type", "application/x-ndjson"}});
    ASSERT_EQ(r.result_int(), 200);
    for (int i = 0; i < 4; ++i) ASSERT_EQ(NextOf(*logs).first, std::to_string(++seq));
  }
  EXPECT_TRUE(WaitFor([&] { return server_->http().open_streams() == 1; }))
      << "the reader that never reads is still connected";
  ASSERT_EQ(Append(admin(), id, "logged", R"({"level":"info","message":"after"})").result_int(),
            201);
  EXPECT_EQ(NextOf(*logs).first, std::to_string(++seq));
  EXPECT_TRUE(never_reads.WaitForClose(runledger::testing::kDeadline));
}

}  // namespace
}  // namespace runledger::server
