// Disk full and failed writes, seen over HTTP: with the store's file system
// failing (ledger::FaultInjector), appends answer 503 `unavailable`, reads
// keep working, /healthz answers 503, nothing unacknowledged shows up and
// nothing acknowledged is lost; once the disk recovers, writes resume by
// themselves, positions continue gap-free and `verify` passes.

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <ostream>
#include <set>
#include <thread>

#include "ledger/fault_injection.h"
#include "tests/testing/server_harness.h"

namespace runledger::ledger {
// Names the parameter in test listings (and so in CTest names).
void PrintTo(FaultInjector::Fault fault, std::ostream* os) {
  *os << (fault == FaultInjector::Fault::kNoSpace ? "ENOSPC" : "EIO");
}
}  // namespace runledger::ledger

namespace runledger::server {
namespace {

using namespace std::chrono_literals;
using ledger::FaultInjector;
using ledger::Json;
using runledger::testing::Append;
using runledger::testing::CreateRun;
using runledger::testing::HttpClient;
using runledger::testing::IsProblem;
using runledger::testing::Num;
using runledger::testing::ParseBody;
using runledger::testing::Str;
using runledger::testing::TestServerOptions;
using runledger::testing::TokenFor;
using runledger::testing::WaitFor;

constexpr auto kRecoveryDeadline = 20s;

// What an acknowledged append answered.
struct Acked {
  std::string run_id;
  double seq = 0;
  double position = 0;
};

// The whole ledger as an auditor reads it: client id -> stored event.
struct Ledger {
  std::vector<Json> events;
  std::map<std::string, Json> by_client_id;  // run_id + "/" + id
};

Ledger ReadLedger(HttpClient& auditor) {
  Ledger ledger;
  std::string after = "0";
  for (;;) {
    const Response page = auditor.Send("GET", "/v1/events?limit=1000&after=" + after);
    EXPECT_EQ(page.result_int(), 200u) << page.body();
    if (page.result_int() != 200) return ledger;
    const Json body = ParseBody(page);
    for (const Json& event : body.Find("items")->array()) {
      if (event.Find("id")) {
        const auto [it, fresh] =
            ledger.by_client_id.emplace(Str(event, "run_id") + "/" + Str(event, "id"), event);
        EXPECT_TRUE(fresh) << "stored twice: " << it->first;
      }
      ledger.events.push_back(event);
    }
    const Json* next = body.Find("next_after");
    if (next == nullptr || next->is_null()) return ledger;
    after = std::to_string(static_cast<std::uint64_t>(next->number()));
  }
}

// Positions 1..N without a gap; every run's seqs 1..n without a gap.
void ExpectGapFree(const Ledger& ledger) {
  std::map<std::string, double> last_seq;
  for (size_t i = 0; i < ledger.events.size(); ++i) {
    const Json& event = ledger.events[i];
    ASSERT_EQ(Num(event, "position"), static_cast<double>(i + 1));
    double& seq = last_seq[Str(event, "run_id")];
    ASSERT_EQ(Num(event, "seq"), seq + 1) << Str(event, "run_id");
    seq += 1;
  }
}

class FaultsTest : public runledger::testing::ServerTest,
                   public ::testing::WithParamInterface<FaultInjector::Fault> {
 protected:
  TestServerOptions Options() override {
    TestServerOptions options = ServerTest::Options();
    options.store.faults = faults_;
    return options;
  }

  unsigned Healthz() { return As("anonymous").Send("GET", "/healthz").result_int(); }

  // Appends a logged event with client id `id` until the store takes it
  // (503 meanwhile); the answer it finally gave.
  Response AppendUntilStored(HttpClient& client, const std::string& run_id, const std::string& id) {
    Response response;
    EXPECT_TRUE(WaitFor(
        [&] {
          response = Append(client, run_id, "logged", R"({"level":"info","message":"m"})", id);
          return response.result_int() != 503;
        },
        kRecoveryDeadline))
        << "writes did not resume";
    return response;
  }

  std::shared_ptr<FaultInjector> faults_ = std::make_shared<FaultInjector>();
};

TEST_P(FaultsTest, FailingDiskAnswers503KeepsReadsAndResumesAfterwards) {
  HttpClient& worker = As("worker");
  const std::string run_id = CreateRun(worker);
  ASSERT_EQ(Append(worker, run_id, "started", R"({"worker":"w"})", "start").result_int(), 201u);
  std::map<std::string, Acked> acked;
  for (int i = 0; i < 5; ++i) {
    const Response r = Append(worker, run_id, "logged", R"({"level":"info","message":"m"})",
                              "a" + std::to_string(i));
    ASSERT_EQ(r.result_int(), 201u) << r.body();
    const Json event = ParseBody(r);
    acked["a" + std::to_string(i)] = {run_id, Num(event, "seq"), Num(event, "position")};
  }
  ASSERT_EQ(Healthz(), 200u);

  faults_->Set(GetParam());
  const Response refused =
      Append(worker, run_id, "logged", R"({"level":"info","message":"m"})", "f0");
  EXPECT_TRUE(IsProblem(refused, 503, "unavailable"));
  EXPECT_TRUE(IsProblem(Append(worker, run_id, "logged", R"({"level":"info","message":"m"})", "f1"),
                        503, "unavailable"));
  EXPECT_TRUE(IsProblem(worker.Send("POST", "/v1/runs", runledger::testing::CreatedBody()), 503,
                        "unavailable"));
  const Response bulk =
      worker.Send("POST", "/v1/events",
                  R"({"run_id":")" + run_id +
                      R"(","id":"f2","type":"logged","data":{"level":"info","message":"m"}})",
                  {{"Content-Type", "application/x-ndjson"}});
  ASSERT_EQ(bulk.result_int(), 200u);
  EXPECT_EQ(Num(ParseBody(bulk), "status"), 503) << bulk.body();
  EXPECT_EQ(Str(ParseBody(bulk), "code"), "unavailable");
  EXPECT_EQ(Healthz(), 503u);

  // Reads keep working and show exactly what was acknowledged.
  const Response run = As("viewer").Send("GET", "/v1/runs/" + run_id);
  ASSERT_EQ(run.result_int(), 200u) << run.body();
  EXPECT_EQ(Num(ParseBody(run), "version"), 7);  // created, started, a0..a4
  Ledger during = ReadLedger(As("auditor"));
  EXPECT_EQ(during.events.size(), 7u);
  for (const auto& [id, ack] : acked)
    EXPECT_TRUE(during.by_client_id.contains(run_id + "/" + id)) << id;
  for (const char* id : {"f0", "f1", "f2"})
    EXPECT_FALSE(during.by_client_id.contains(run_id + "/" + id)) << id;
  EXPECT_EQ(As("anonymous").Send("GET", "/metrics").result_int(), 200u);

  faults_->Set(FaultInjector::Fault::kNone);
  // A refused append may be retried with its id: it is stored once.
  const Response resumed = AppendUntilStored(worker, run_id, "f0");
  EXPECT_EQ(resumed.result_int(), 201u) << resumed.body();
  EXPECT_EQ(Healthz(), 200u);
  EXPECT_EQ(AppendUntilStored(worker, run_id, "f0").result_int(), 200u);  // idempotent repeat
  EXPECT_EQ(Num(ParseBody(resumed), "position"), 8);  // no gap after the failure
  EXPECT_EQ(Num(ParseBody(resumed), "seq"), 8);

  const Ledger after = ReadLedger(As("auditor"));
  ExpectGapFree(after);
  EXPECT_EQ(after.events.size(), 8u);
  for (const auto& [id, ack] : acked) {
    const Json& event = after.by_client_id.at(run_id + "/" + id);
    EXPECT_EQ(Num(event, "seq"), ack.seq);
    EXPECT_EQ(Num(event, "position"), ack.position);
  }
}

// Writers keep going while the disk fails and recovers under them: every
// append answered 201 (or 200 for a retried id) is stored exactly once, at
// the position it was answered with; every 503 was retried with the same id
// until it was stored; the ledger stays gap-free and verifies.
TEST_P(FaultsTest, WritersUnderAFailingDiskLoseNothingAcknowledged) {
  constexpr int kWriters = 4;
  constexpr int kEventsPerWriter = 60;
  std::vector<std::string> runs;
  for (int w = 0; w < kWriters; ++w) {
    runs.push_back(CreateRun(As("worker")));
    ASSERT_EQ(
        Append(As("worker"), runs.back(), "started", R"({"worker":"w"})", "start").result_int(),
        201u);
  }
  std::atomic<int> refused{0};
  std::atomic<int> appended{0};
  std::vector<std::map<std::string, Acked>> acked(kWriters);
  std::vector<std::thread> threads;
  const std::uint16_t port = server_->port();
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      HttpClient client(port, TokenFor("worker"));
      for (int i = 0; i < kEventsPerWriter; ++i) {
        const std::string id = "e" + std::to_string(i);
        Response r;
        ASSERT_TRUE(WaitFor(
            [&] {
              r = Append(client, runs[w], "logged", R"({"level":"info","message":"m"})", id);
              if (r.result_int() == 503) ++refused;
              return r.result_int() != 503;
            },
            kRecoveryDeadline));
        ASSERT_TRUE(r.result_int() == 201u || r.result_int() == 200u) << r.body();
        const Json event = ParseBody(r);
        acked[w][id] = {runs[w], Num(event, "seq"), Num(event, "position")};
        ++appended;
      }
    });
  }
  ASSERT_TRUE(WaitFor([&] { return appended.load() >= kWriters * 5; }));
  faults_->Set(GetParam());
  ASSERT_TRUE(WaitFor([&] { return refused.load() >= kWriters; }));
  EXPECT_EQ(Healthz(), 503u);
  EXPECT_EQ(As("viewer").Send("GET", "/v1/runs/" + runs[0]).result_int(), 200u);
  faults_->Set(FaultInjector::Fault::kNone);
  for (auto& thread : threads) thread.join();
  EXPECT_TRUE(WaitFor([&] { return Healthz() == 200u; }, kRecoveryDeadline));

  const Ledger ledger = ReadLedger(As("auditor"));
  ExpectGapFree(ledger);
  EXPECT_EQ(ledger.events.size(), static_cast<size_t>(kWriters * (2 + kEventsPerWriter)));
  for (int w = 0; w < kWriters; ++w) {
    for (const auto& [id, ack] : acked[w]) {
      auto it = ledger.by_client_id.find(runs[w] + "/" + id);
      ASSERT_NE(it, ledger.by_client_id.end()) << "lost: " << runs[w] << "/" << id;
      EXPECT_EQ(Num(it->second, "seq"), ack.seq);
      EXPECT_EQ(Num(it->second, "position"), ack.position);
    }
  }

  // Offline verification of the data the failures left behind.
  server_->Stop();
  ledger::StoreOptions options;
  options.data_dir = server_->data_dir();
  options.start_committer = false;
  auto store = ledger::EventStore::Open(options, nullptr);
  ASSERT_TRUE(store) << store.error().message();
  ledger::VerifyReport report;
  const Status verified = ledger::VerifyStore(**store, std::nullopt, &report);
  EXPECT_TRUE(verified.ok()) << verified.message();
  EXPECT_EQ(report.events, ledger.events.size());
}

INSTANTIATE_TEST_SUITE_P(DiskFullAndIOError, FaultsTest,
                         ::testing::Values(FaultInjector::Fault::kNoSpace,
                                           FaultInjector::Fault::kIOError),
                         [](const auto& test) {
                           return test.param == FaultInjector::Fault::kNoSpace
                                      ? std::string("NoSpace")
                                      : std::string("IOError");
                         });

}  // namespace
}  // namespace runledger::server
