// The run projection of SPEC section 3, field by field: the fold on its own
// (hand-made events with chosen times) and through the ledger (reruns,
// resumes, what a stored record decodes to).

#include "projections/run_record.h"
#include "projections/run_state.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ledger/time.h"
#include "ledger/uuid.h"
#include "tests/testing/run_builders.h"

namespace runledger::projections {
namespace {

namespace rt = runledger::testing;
using rt::J;
using rt::Reply;

const Uuid kRun = *ledger::ParseUuid("0190f000-0000-7000-8000-000000000001");
const Uuid kOther = *ledger::ParseUuid("0190f000-0000-7000-8000-000000000002");
constexpr std::int64_t kT0 = 1767225600000;  // 2026-01-01T00:00:00.000Z

// Folds (type, data, recorded_at) triples into a run, seq 1, 2, ...
class Folder {
 public:
  Folder& Add(std::string type, std::string_view data, std::int64_t ms) {
    ledger::Event event;
    event.type = std::move(type);
    event.run_id = kRun;
    event.seq = ++seq_;
    event.position = seq_;
    event.recorded_at_ms = ms;
    event.principal = "alice";
    event.data = J(data);
    Fold(state_, event);
    return *this;
  }
  const RunState& state() const { return state_; }
  Json json(bool with_deleted = false) const { return J(RunJson(state_, with_deleted)); }

 private:
  RunState state_;
  std::uint32_t seq_ = 0;
};

const Json& Member(const Json& object, std::string_view key) {
  static const Json kMissing = Json::String("<missing>");
  const Json* value = object.Find(key);
  return value ? *value : kMissing;
}

TEST(RunStateTest, QueuedRunHasNullsAndEmptyObjects) {
  Folder f;
  f.Add("created", R"({"operation":"scan","datastore":{"id":"ds-1"},"triggered_by":{"kind":"schedule","id":"nightly"}})",
        kT0);
  const Json run = f.json();
  EXPECT_EQ(run, J(R"({
    "id":"0190f000-0000-7000-8000-000000000001","operation":"scan","status":"queued","warning":false,
    "actions":["abort"],"datastore":{"id":"ds-1","name":null},"config":{},
    "triggered_by":{"kind":"schedule","id":"nightly"},"aborted_by":null,"worker":null,
    "progress":{"processed":0,"total":null,"unit":"containers"},"metrics":{},"containers":{},
    "log_count":0,"result":null,"error":null,"rerun_of":null,"resumed_from":null,
    "created_at":"2026-01-01T00:00:00.000Z","started_at":null,"ended_at":null,"duration_ms":null,
    "version":1})"));
  EXPECT_EQ(run.object().size(), 23u) << "exactly the SPEC's members, no deleted ones";
  EXPECT_EQ(f.json(true), run) << "deleted members appear only on deleted runs";
  f.Add("ended", R"({"status":"aborted","aborted_by":{"kind":"user","id":"a"}})", kT0 + 1)
      .Add("deleted", "{}", kT0 + 2);
  EXPECT_EQ(Member(f.json(true), "deleted"), Json::Bool(true));
  EXPECT_EQ(Member(f.json(true), "deleted_at"), Json::String("2026-01-01T00:00:00.002Z"));
  EXPECT_EQ(f.json().Find("deleted"), nullptr);
}

TEST(RunStateTest, FinishedRunShowsEveryField) {
  Folder f;
  f.Add("created",
        R"({"operation":"profile","datastore":{"id":"ds-1","name":"Sales"},"config":{"sample":0.5},
            "triggered_by":{"kind":"user","id":"alice"},"containers":["a","b"],"unit":"tables"})",
        kT0)
      .Add("started", R"({"worker":"w-7"})", kT0 + 1000)
      .Add("logged", R"({"level":"warning","message":"slow"})", kT0 + 1500)
      .Add("progressed",
           R"({"processed":1,"metrics":{"records_scanned":10},"containers":[{"name":"a","status":"done"}]})",
           kT0 + 2000)
      .Add("ended", R"({"status":"success","metrics":{"checks_added":3},"result":{"profiles":2}})", kT0 + 4500);
  const Json run = f.json();
  EXPECT_EQ(Member(run, "status"), Json::String("success"));
  EXPECT_EQ(Member(run, "warning"), Json::Bool(true));
  EXPECT_EQ(Member(run, "actions"), J(R"(["rerun","delete"])"));
  EXPECT_EQ(Member(run, "datastore"), J(R"({"id":"ds-1","name":"Sales"})"));
  EXPECT_EQ(Member(run, "config"), J(R"({"sample":0.5})"));
  EXPECT_EQ(Member(run, "worker"), Json::String("w-7"));
  EXPECT_EQ(Member(run, "progress"), J(R"({"processed":1,"total":2,"unit":"tables"})"));
  EXPECT_EQ(Member(run, "metrics"), J(R"({"checks_added":3,"records_scanned":10})"));
  EXPECT_EQ(Member(run, "containers"), J(R"({"a":"done"})"));
  EXPECT_EQ(Member(run, "log_count"), Json::Number(1));
  EXPECT_EQ(Member(run, "result"), J(R"({"profiles":2})"));
  EXPECT_EQ(Member(run, "error"), Json());
  EXPECT_EQ(Member(run, "aborted_by"), Json());
  EXPECT_EQ(Member(run, "created_at"), Json::String("2026-01-01T00:00:00.000Z"));
  EXPECT_EQ(Member(run, "started_at"), Json::String("2026-01-01T00:00:01.000Z"));
  EXPECT_EQ(Member(run, "ended_at"), Json::String("2026-01-01T00:00:04.500Z"));
  EXPECT_EQ(Member(run, "duration_ms"), Json::Number(3500));
  EXPECT_EQ(Member(run, "version"), Json::Number(5));
}

TEST(RunStateTest, WarningIsSuccessWithAtLeastOneLog) {
  auto run = [](std::string_view end, bool log) {
    Folder f;
    f.Add("created", rt::CreatedJson("scan"), kT0).Add("started", R"({"worker":"w"})", kT0);
    if (log) f.Add("logged", R"({"level":"debug","message":""})", kT0);
    if (!end.empty()) f.Add("ended", end, kT0);
    return f.state();
  };
  const std::string success = R"({"status":"success"})";
  const std::string failure = R"({"status":"failure","error":{"message":"x"}})";
  EXPECT_TRUE(run(success, true).warning());
  EXPECT_FALSE(run(success, false).warning());
  EXPECT_FALSE(run(failure, true).warning());
  EXPECT_FALSE(run("", true).warning()) << "running";
  EXPECT_EQ(run(success, true).status, "success") << "warning is not a status";
}

TEST(RunStateTest, LatestContainerStatusWinsInFirstSeenOrder) {
  Folder f;
  f.Add("created", rt::CreatedJson("scan", "ds-1", R"("containers":["a","b"])"), kT0)
      .Add("started", R"({"worker":"w"})", kT0)
      .Add("progressed", R"({"processed":0,"containers":[{"name":"b","status":"failed"},{"name":"x","status":"skipped"}]})",
           kT0)
      .Add("progressed", R"({"processed":1,"containers":[{"name":"a","status":"done"},{"name":"b","status":"done"},{"name":"b","status":"skipped"}]})",
           kT0);
  EXPECT_EQ(RunJson(f.state()).find(R"("containers":{"b":"skipped","x":"skipped","a":"done"})") != std::string::npos,
            true)
      << RunJson(f.state());
}

TEST(RunStateTest, MetricsKeepTheLatestValueOfEachCounter) {
  Folder f;
  f.Add("created", rt::CreatedJson("scan"), kT0)
      .Add("started", R"({"worker":"w"})", kT0)
      .Add("progressed", R"({"processed":0,"metrics":{"records_scanned":5,"anomalies_identified":1}})", kT0)
      .Add("progressed", R"({"processed":0,"metrics":{"records_scanned":9}})", kT0)
      .Add("ended", R"({"status":"success","metrics":{"anomalies_identified":2,"checks_added":4}})", kT0);
  EXPECT_EQ(Member(f.json(), "metrics"),
            J(R"({"anomalies_identified":2,"checks_added":4,"records_scanned":9})"));
  EXPECT_NE(RunJson(f.state()).find(R"("metrics":{"anomalies_identified":2,"checks_added":4,"records_scanned":9})"),
            std::string::npos)
      << "sorted by name";
}

TEST(RunStateTest, DurationCountsFromStartedOrElseCreated) {
  Folder started;
  started.Add("created", rt::CreatedJson("scan"), kT0)
      .Add("started", R"({"worker":"w"})", kT0 + 250)
      .Add("ended", R"({"status":"success"})", kT0 + 1250);
  EXPECT_EQ(Member(started.json(), "duration_ms"), Json::Number(1000));

  Folder never_started;
  never_started.Add("created", rt::CreatedJson("scan"), kT0)
      .Add("ended", R"({"status":"aborted","aborted_by":{"kind":"user","id":"a"}})", kT0 + 700);
  EXPECT_EQ(Member(never_started.json(), "duration_ms"), Json::Number(700));
  EXPECT_EQ(Member(never_started.json(), "started_at"), Json());

  Folder promote;
  promote.Add("created", rt::CreatedJson("promote"), kT0).Add("ended", R"({"status":"success"})", kT0 + 40);
  EXPECT_EQ(Member(promote.json(), "started_at"), Json());  // it never named a worker
  EXPECT_EQ(Member(promote.json(), "duration_ms"), Json::Number(40));

  Folder active;
  active.Add("created", rt::CreatedJson("scan"), kT0).Add("started", R"({"worker":"w"})", kT0 + 5);
  EXPECT_EQ(Member(active.json(), "duration_ms"), Json());
}

TEST(RunStateTest, ResumeIsOfferedOnlyWhileWorkIsLeft) {
  auto actions = [](std::string_view operation, std::string_view extra, std::string_view progressed) {
    Folder f;
    f.Add("created", rt::CreatedJson(operation, "ds-1", extra), kT0).Add("started", R"({"worker":"w"})", kT0);
    if (!progressed.empty()) f.Add("progressed", progressed, kT0);
    f.Add("ended", R"({"status":"failure","error":{"message":"x"}})", kT0);
    return f.state().Actions();
  };
  const std::vector<std::string> with_resume = {"resume", "rerun", "delete"};
  const std::vector<std::string> without = {"rerun", "delete"};
  for (const char* op : {"profile", "scan", "promote"}) {
    EXPECT_EQ(actions(op, R"("containers":["a"])", ""), with_resume) << op;
    EXPECT_EQ(actions(op, R"("containers":["a"])", R"({"processed":1,"containers":[{"name":"a","status":"done"}]})"),
              without)
        << op;
    EXPECT_EQ(actions(op, R"("containers":["a"])", R"({"processed":1,"containers":[{"name":"a","status":"failed"}]})"),
              with_resume)
        << op;
    EXPECT_EQ(actions(op, R"("total":3)", R"({"processed":2})"), with_resume) << op;
    EXPECT_EQ(actions(op, R"("total":3)", R"({"processed":3})"), without) << op;
    EXPECT_EQ(actions(op, "", ""), without) << op << ": nothing to count";
  }
  for (const char* op : {"sync", "export", "materialize"}) {
    EXPECT_EQ(actions(op, R"("containers":["a"])", ""), without) << op;
  }
  EXPECT_EQ(actions("external_scan", R"("containers":["a"])", ""), std::vector<std::string>{"delete"});
}

TEST(RunStateTest, StoredRecordDecodesToTheSameState) {
  Folder f;
  f.Add("created",
        R"({"operation":"scan","datastore":{"id":"ds-1","name":"Sales"},"config":{"big":1e20,"tiny":1e-7,"n":[1,2.5]},
            "triggered_by":{"kind":"api","id":"ci"},"containers":["z","a"],"total":5,"unit":"tables",
            "rerun_of":"0190f000-0000-7000-8000-000000000002"})",
        kT0)
      .Add("started", R"({"worker":"w"})", kT0 + 1)
      .Add("progressed", R"({"processed":2,"metrics":{"b":2,"a":1},"containers":[{"name":"q","status":"failed"},{"name":"a","status":"done"}]})",
           kT0 + 2)
      .Add("logged", R"({"level":"info","message":"m"})", kT0 + 3)
      .Add("ended", R"({"status":"aborted","aborted_by":{"kind":"system","id":"reaper"},"reason":"stale"})", kT0 + 4)
      .Add("deleted", R"({})", kT0 + 5);
  const std::string record = EncodeRunRecord(f.state());
  auto decoded = DecodeRunRecord(record);
  ASSERT_TRUE(decoded.has_value()) << decoded.error().ToString() << "\n" << record;
  EXPECT_EQ(EncodeRunRecord(*decoded), record);
  EXPECT_EQ(decoded->planned_containers, (std::vector<std::string>{"z", "a"}));
  EXPECT_EQ(decoded->ContainersLeft(), (std::vector<std::string>{"z", "q"}));
  EXPECT_EQ(decoded->rerun_of, kOther);
  EXPECT_TRUE(decoded->deleted());
  EXPECT_TRUE(decoded->worker_started);
  EXPECT_EQ(decoded->last_event_ms, kT0 + 5);
}

TEST(RunStateTest, SummaryServesTheSameJsonAsTheState) {
  Folder f;
  f.Add("created",
        R"({"operation":"profile","datastore":{"id":"ds-2","name":"Ops"},"triggered_by":{"kind":"api","id":"ci"},
            "resumed_from":"0190f000-0000-7000-8000-000000000002"})",
        kT0)
      .Add("started", R"({"worker":"w"})", kT0 + 1)
      .Add("logged", R"({"level":"warning","message":"m"})", kT0 + 2)
      .Add("ended", R"({"status":"success"})", kT0 + 3);
  for (bool deleted : {false, true}) {
    if (deleted) f.Add("deleted", R"({})", kT0 + 4);
    const RunState& state = f.state();
    const std::string record = EncodeRunRecord(state);
    auto summary = DecodeRunSummary(record);
    ASSERT_TRUE(summary.has_value()) << summary.error().ToString();
    // Records from before the binary summary are the JSON alone.
    auto legacy = DecodeRunSummary(std::string_view(record).substr(record.find("{\"run\":")));
    ASSERT_TRUE(legacy.has_value()) << legacy.error().ToString();
    EXPECT_EQ(legacy->ToJson(true), summary->ToJson(true));
    EXPECT_EQ(legacy->ToJson(false), summary->ToJson(false));
    EXPECT_EQ(summary->ToJson(false), RunJson(state, false));
    EXPECT_EQ(summary->ToJson(true), RunJson(state, true));
    EXPECT_EQ(summary->id, state.id);
    EXPECT_EQ(summary->version, state.version);
    EXPECT_EQ(summary->deleted(), deleted);
    EXPECT_TRUE(summary->warning());
    EXPECT_EQ(summary->datastore_id, "ds-2");
    EXPECT_EQ(summary->trigger_kind, "api");
    EXPECT_EQ(summary->trigger_id, "ci");
    EXPECT_EQ(summary->resumed_from, kOther);
    EXPECT_FALSE(summary->rerun_of.has_value());
    EXPECT_EQ(summary->created_at_ms, kT0);
    EXPECT_EQ(summary->last_event_ms, state.last_event_ms);
  }
}

TEST(RunStateTest, TruncatedRecordsAreCorruptionNotACrash) {
  Folder f;
  f.Add("created", R"({"operation":"scan","datastore":{"id":"ds-1","name":"Sales"}})", kT0);
  const std::string record = EncodeRunRecord(f.state());
  for (size_t size = 1; size < record.size(); ++size) {
    const std::string_view cut(record.data(), size);
    auto summary = DecodeRunSummary(cut);
    auto state = DecodeRunRecord(cut);
    EXPECT_FALSE(summary.has_value() && state.has_value()) << "size " << size;
  }
}

// --- Through the ledger: what rerun and resume make ----------------------------------------

class NewRunTest : public ::testing::Test {
 protected:
  Uuid FailedRun(std::string_view operation, std::string_view extra, std::string_view progressed) {
    const Reply created = t_.CreateRun(rt::CreatedJson(operation, "ds-9", extra));
    EXPECT_TRUE(created.ok()) << created.status.ToString();
    const Uuid id = created.run_id();
    if (operation != "promote") {
      EXPECT_TRUE(t_.Event(id, "started", R"({"worker":"w"})").ok());
    }
    if (!progressed.empty()) {
      const Reply p = t_.Event(id, "progressed", progressed);
      EXPECT_TRUE(p.ok()) << p.status.ToString();
    }
    EXPECT_TRUE(t_.Event(id, "ended", R"({"status":"failure","error":{"message":"x"}})").ok());
    return id;
  }
  // The payload of the created event that `action` made.
  Json MadePayload(const Uuid& old_id, Action action, RunState* made = nullptr) {
    const Reply reply = t_.Do(old_id, action, rt::Bob());
    EXPECT_TRUE(reply.ok()) << reply.status.ToString();
    if (!reply.ok() || !reply.outcome.event) return Json();
    if (made) *made = reply.run();
    return reply.outcome.event->data;
  }

  rt::TestLedger t_;
};

TEST_F(NewRunTest, ResumeCoversExactlyTheContainersNotReportedDone) {
  const std::string extra =
      R"("datastore":{"id":"ds-9","name":"Warehouse"},"config":{"depth":3,"tags":["x"]},"containers":["a","b","c","d"],"unit":"tables")";
  const Reply created = t_.CreateRun(
      R"({"operation":"scan","triggered_by":{"kind":"schedule","id":"nightly"},)" + extra + "}");
  ASSERT_TRUE(created.ok()) << created.status.ToString();
  const Uuid id = created.run_id();
  ASSERT_TRUE(t_.Event(id, "started", R"({"worker":"w"})").ok());
  ASSERT_TRUE(t_.Event(id, "progressed",
                       R"({"processed":3,"total":6,"containers":[{"name":"a","status":"done"},{"name":"b","status":"failed"},
                           {"name":"c","status":"skipped"},{"name":"e","status":"failed"},{"name":"f","status":"done"}]})")
                  .ok());
  ASSERT_TRUE(t_.Do(id, Action::kAbort).ok());

  RunState made;
  const Json payload = MadePayload(id, Action::kResume, &made);
  EXPECT_EQ(payload, J(R"({"operation":"scan","datastore":{"id":"ds-9","name":"Warehouse"},
      "config":{"depth":3,"tags":["x"]},"triggered_by":{"kind":"user","id":"bob"},
      "containers":["b","c","d","e"],"unit":"tables","resumed_from":")" +
                       ledger::FormatUuid(id) + R"("})"));
  EXPECT_EQ(made.total, 4);
  EXPECT_EQ(made.processed, 0);
  EXPECT_EQ(made.resumed_from, id);
  EXPECT_FALSE(made.rerun_of.has_value());
  EXPECT_EQ(made.status, "queued");
  EXPECT_EQ(made.version, 1u);
}

TEST_F(NewRunTest, ResumeOfATotalOnlyRunCoversTheRemainder) {
  const Uuid id = FailedRun("profile", R"("total":10,"unit":"rows")", R"({"processed":4})");
  RunState made;
  const Json payload = MadePayload(id, Action::kResume, &made);
  EXPECT_EQ(payload.Find("containers"), nullptr);
  EXPECT_EQ(made.total, 6);
  EXPECT_EQ(made.unit, "rows");
  EXPECT_EQ(made.resumed_from, id);
}

TEST_F(NewRunTest, ResumeOfAPromoteIsCreatedRunning) {
  const Uuid id = FailedRun("promote", R"("containers":["a","b"])",
                            R"({"processed":1,"containers":[{"name":"a","status":"done"}]})");
  RunState made;
  MadePayload(id, Action::kResume, &made);
  EXPECT_EQ(made.status, "running");
  EXPECT_EQ(made.planned_containers, std::vector<std::string>{"b"});
}

TEST_F(NewRunTest, RerunCopiesTheConfigurationAndEveryContainer) {
  const Uuid id = FailedRun("materialize", R"("config":{"mode":"full"},"containers":["a","b","c"])",
                            R"({"processed":2,"containers":[{"name":"a","status":"done"},{"name":"b","status":"done"}]})");
  RunState made;
  const Json payload = MadePayload(id, Action::kRerun, &made);
  EXPECT_EQ(payload, J(R"({"operation":"materialize","datastore":{"id":"ds-9"},"config":{"mode":"full"},
      "triggered_by":{"kind":"user","id":"bob"},"containers":["a","b","c"],"total":3,"unit":"containers",
      "rerun_of":")" + ledger::FormatUuid(id) + R"("})"));
  EXPECT_EQ(made.rerun_of, id);
  EXPECT_EQ(made.planned_containers, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(made.total, 3);
  EXPECT_TRUE(made.containers.empty()) << "a new run has processed nothing";
  const auto old_run = t_.Get(id);
  EXPECT_EQ(old_run->version, 4u) << "rerun appends nothing to the old run";
}

TEST_F(NewRunTest, RerunOfATotalOnlyRunKeepsTheTotal) {
  const Uuid id = FailedRun("sync", R"("total":7)", R"({"processed":5})");
  RunState made;
  const Json payload = MadePayload(id, Action::kRerun, &made);
  EXPECT_EQ(made.total, 7);
  EXPECT_EQ(payload.Find("containers"), nullptr);
}

TEST_F(NewRunTest, RerunOfARerunLinksOnlyToItsSource) {
  const Uuid first = FailedRun("scan", R"("containers":["a"])", "");
  RunState second;
  MadePayload(first, Action::kResume, &second);
  ASSERT_TRUE(t_.Do(second.id, Action::kAbort).ok());
  RunState third;
  MadePayload(second.id, Action::kRerun, &third);
  EXPECT_EQ(third.rerun_of, second.id);
  EXPECT_FALSE(third.resumed_from.has_value());
}

TEST_F(NewRunTest, VersionIsTheLastSeq) {
  const Uuid id = t_.RunIn("scan", "running");
  EXPECT_EQ(t_.Get(id)->version, 2u);
  for (std::uint32_t i = 3; i <= 6; ++i) {
    const Reply logged = t_.Event(id, "logged", R"({"level":"info","message":"m"})");
    ASSERT_TRUE(logged.ok());
    EXPECT_EQ(logged.outcome.event->seq, i);
    EXPECT_EQ(t_.Get(id)->version, i);
  }
}

TEST_F(NewRunTest, StoredStateMatchesTheFoldOfItsEvents) {
  const Uuid id = t_.RunIn("scan", "running");
  ASSERT_TRUE(t_.Event(id, "progressed", R"({"processed":1,"metrics":{"m":1},"containers":[{"name":"a","status":"done"}]})")
                  .ok());
  ASSERT_TRUE(t_.Event(id, "logged", R"({"level":"error","message":"m","container":"b"})").ok());
  ASSERT_TRUE(t_.Event(id, "ended", R"({"status":"success","result":{"ok":true}})").ok());
  const auto stored = t_.Get(id);
  auto folded = t_.queries().RunAtSeq(id, stored->version);
  ASSERT_TRUE(folded.has_value() && folded->has_value());
  EXPECT_EQ(EncodeRunRecord(**folded), EncodeRunRecord(*stored));
  EXPECT_TRUE(stored->warning());
}

}  // namespace
}  // namespace runledger::projections
