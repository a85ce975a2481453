#include "projections/run_ledger.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "ledger/uuid.h"
#include "projections/tables.h"
#include "tests/testing/run_builders.h"

namespace runledger::projections {
namespace {

namespace rt = runledger::testing;
using rt::J;
using rt::Reply;

bool IsOneOf(std::string_view value, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), value) != set.end();
}

class RunLedgerTest : public ::testing::Test {
 protected:
  // Runs `attempt` and expects it refused with `code`/`reason`, with the
  // ledger size and the run's record (so its version) unchanged.
  void ExpectRefused(const Uuid& run, const std::function<Reply()>& attempt, Code code,
                     std::string_view reason, const std::string& context) {
    const auto size = t_.store().size();
    const std::string record = t_.RecordBytes(run);
    const Reply reply = attempt();
    EXPECT_EQ(reply.status.code(), code) << context << ": " << reply.status.ToString();
    EXPECT_EQ(reply.status.reason(), reason) << context << ": " << reply.status.ToString();
    EXPECT_EQ(t_.store().size(), size) << context << ": something was appended";
    EXPECT_EQ(t_.RecordBytes(run), record) << context << ": the run record changed";
  }
  void ExpectEventRefused(const Uuid& run, const std::string& type, const std::string& data, Code code,
                          std::string_view reason, const std::string& context) {
    ExpectRefused(run, [&] { return t_.Event(run, type, data); }, code, reason,
                  context + " [" + type + " " + data + "]");
  }

  rt::TestLedger t_;
};

// --- The event state machine (SPEC sections 1 and 2) -------------------------------------

struct EventAttempt {
  std::string name;
  std::string type;
  std::string data;
  std::string status_after;  // empty: unchanged
};

const std::vector<EventAttempt>& EventAttempts() {
  static const std::vector<EventAttempt> attempts = {
      {"started", "started", R"({"worker":"w2"})", "running"},
      {"progressed", "progressed", R"({"processed":1})", ""},
      {"logged", "logged", R"({"level":"info","message":"hello"})", ""},
      {"ended success", "ended", R"({"status":"success"})", "success"},
      {"ended failure", "ended", R"({"status":"failure","error":{"message":"boom"}})", "failure"},
      {"ended aborted", "ended",
       R"({"status":"aborted","aborted_by":{"kind":"system","id":"reaper"}})", "aborted"},
  };
  return attempts;
}

// The states a run can be in; "running_started" is a promote that has
// named its worker (a plain promote "running" has not).
std::vector<std::string> StatesOf(std::string_view operation) {
  if (operation == "promote") {
    return {"running", "running_started", "success", "failure", "aborted", "deleted"};
  }
  return {"queued", "running", "success", "failure", "aborted", "deleted"};
}

bool EventAllowed(std::string_view operation, std::string_view state, const EventAttempt& a) {
  const bool active = IsOneOf(state, {"queued", "running", "running_started"});
  const bool running = IsOneOf(state, {"running", "running_started"});
  if (a.name == "started") return state == "queued" || (operation == "promote" && state == "running");
  if (a.name == "progressed") return running;
  if (a.name == "logged") return active;
  if (a.name == "ended aborted") return active;
  return running;  // ended success / failure
}

Uuid RunInState(rt::TestLedger& t, const std::string& operation, const std::string& state) {
  if (state == "running_started") {
    const Uuid id = t.RunIn(operation, "running");
    EXPECT_TRUE(t.Event(id, "started", R"({"worker":"w1"})").ok());
    return id;
  }
  return t.RunIn(operation, state);
}

TEST_F(RunLedgerTest, EveryAllowedEventAppendsAndEveryOtherIsRefusedWithoutWriting) {
  for (const char* op : kOperations) {
    const std::string operation = op;
    for (const std::string& state : StatesOf(operation)) {
      const Uuid base = RunInState(t_, operation, state);
      for (const EventAttempt& attempt : EventAttempts()) {
        const std::string context = operation + " in " + state + ": " + attempt.name;
        if (state == "deleted") {
          ExpectEventRefused(base, attempt.type, attempt.data, Code::kNotFound, "run_not_found", context);
          continue;
        }
        if (!EventAllowed(operation, state, attempt)) {
          ExpectEventRefused(base, attempt.type, attempt.data, Code::kConflict, "invalid_transition",
                             context);
          continue;
        }
        const Uuid fresh = RunInState(t_, operation, state);
        const auto before = t_.Get(fresh);
        ASSERT_TRUE(before.has_value()) << context;
        const auto size = t_.store().size();
        const Reply reply = t_.Event(fresh, attempt.type, attempt.data);
        ASSERT_TRUE(reply.ok()) << context << ": " << reply.status.ToString();
        EXPECT_FALSE(reply.outcome.repeated) << context;
        ASSERT_TRUE(reply.outcome.event.has_value()) << context;
        EXPECT_EQ(reply.outcome.event->seq, before->version + 1) << context;
        EXPECT_EQ(reply.outcome.event->position, size + 1) << context;
        EXPECT_EQ(t_.store().size(), size + 1) << context;
        const auto after = t_.Get(fresh);
        ASSERT_TRUE(after.has_value()) << context;
        EXPECT_EQ(after->version, before->version + 1) << context;
        const std::string expected_status = attempt.status_after.empty() ? before->status : attempt.status_after;
        EXPECT_EQ(after->status, expected_status) << context;
      }
      // A deleted event never comes through the event route, whatever the state.
      ExpectEventRefused(base, "deleted", "{}", Code::kUnprocessable, "schema_violation",
                         operation + " in " + state + ": deleted");
    }
  }
}

struct ActionCase {
  Action action;
  std::string_view name;
};
constexpr ActionCase kActions[] = {{Action::kAbort, "abort"},
                                   {Action::kResume, "resume"},
                                   {Action::kRerun, "rerun"},
                                   {Action::kDelete, "delete"}};

bool ActionAllowed(std::string_view operation, std::string_view state, Action action) {
  const bool terminal = IsOneOf(state, {"success", "failure", "aborted"});
  switch (action) {
    case Action::kAbort: return IsOneOf(state, {"queued", "running", "running_started"});
    case Action::kResume:
      return IsOneOf(state, {"failure", "aborted"}) && IsOneOf(operation, {"profile", "scan", "promote"});
    case Action::kRerun: return terminal && operation != "external_scan";
    case Action::kDelete: return terminal;
  }
  return false;
}

TEST_F(RunLedgerTest, EveryAllowedActionSucceedsAndEveryOtherIsActionNotSupported) {
  for (const char* op : kOperations) {
    const std::string operation = op;
    for (const std::string& state : StatesOf(operation)) {
      const Uuid base = RunInState(t_, operation, state);
      std::vector<std::string> expected_actions;
      for (const ActionCase& action : kActions) {
        const std::string context = operation + " in " + state + ": " + std::string(action.name);
        if (state == "deleted") {
          ExpectRefused(base, [&] { return t_.Do(base, action.action); }, Code::kNotFound, "run_not_found",
                        context);
          continue;
        }
        if (!ActionAllowed(operation, state, action.action)) {
          ExpectRefused(base, [&] { return t_.Do(base, action.action); }, Code::kConflict,
                        "action_not_supported", context);
          continue;
        }
        expected_actions.emplace_back(action.name);
        const Uuid fresh = RunInState(t_, operation, state);
        const std::uint32_t version_before = t_.Get(fresh)->version;
        const auto size = t_.store().size();
        const Reply reply = t_.Do(fresh, action.action, rt::Bob());
        ASSERT_TRUE(reply.ok()) << context << ": " << reply.status.ToString();
        EXPECT_EQ(t_.store().size(), size + 1) << context;
        const auto old_run = t_.Get(fresh);
        ASSERT_TRUE(old_run.has_value());
        switch (action.action) {
          case Action::kAbort:
            EXPECT_EQ(old_run->status, "aborted") << context;
            EXPECT_EQ(old_run->aborted_by, J(R"({"kind":"user","id":"bob"})")) << context;
            EXPECT_EQ(reply.run().status, "aborted") << context;
            break;
          case Action::kDelete:
            EXPECT_TRUE(old_run->deleted()) << context;
            EXPECT_EQ(reply.outcome.event->type, "deleted") << context;
            break;
          case Action::kResume:
          case Action::kRerun: {
            const RunState& made = reply.run();
            EXPECT_NE(made.id, fresh) << context;
            EXPECT_EQ(made.status, operation == "promote" ? "running" : "queued") << context;
            EXPECT_EQ(made.triggered_by, J(R"({"kind":"user","id":"bob"})")) << context;
            const auto& link = action.action == Action::kResume ? made.resumed_from : made.rerun_of;
            EXPECT_EQ(link, fresh) << context;
            EXPECT_EQ(old_run->version, version_before) << context << ": the old run is unchanged";
            break;
          }
        }
      }
      if (state != "deleted") {
        const auto run = t_.Get(base);
        ASSERT_TRUE(run.has_value());
        EXPECT_EQ(run->Actions(), expected_actions) << operation << " in " << state;
      }
    }
  }
}

TEST_F(RunLedgerTest, ResumeWithNothingLeftIsNothingToResume) {
  const Uuid id = t_.RunIn("scan", "running", R"("containers":["a","b"])");
  ASSERT_TRUE(t_.Event(id, "progressed",
                       R"({"processed":2,"containers":[{"name":"a","status":"done"},{"name":"b","status":"done"}]})")
                  .ok());
  ASSERT_TRUE(t_.Event(id, "ended", R"({"status":"failure","error":{"message":"late"}})").ok());
  EXPECT_EQ(t_.Get(id)->Actions(), (std::vector<std::string>{"rerun", "delete"}));
  ExpectRefused(id, [&] { return t_.Do(id, Action::kResume); }, Code::kConflict, "nothing_to_resume",
                "resume of a run with every container done");

  const Uuid counted = t_.RunIn("profile", "running", R"("total":4)");
  ASSERT_TRUE(t_.Event(counted, "progressed", R"({"processed":4})").ok());
  ASSERT_TRUE(t_.Do(counted, Action::kAbort).ok());
  ExpectRefused(counted, [&] { return t_.Do(counted, Action::kResume); }, Code::kConflict,
                "nothing_to_resume", "resume of a total-only run with processed == total");
}

TEST_F(RunLedgerTest, PromoteStartsRunningAndAcceptsExactlyOneStarted) {
  const Reply created = t_.CreateRun(rt::CreatedJson("promote"));
  ASSERT_TRUE(created.ok()) << created.status.ToString();
  const Uuid id = created.run_id();
  auto run = t_.Get(id);
  EXPECT_EQ(run->status, "running");
  EXPECT_FALSE(run->worker.has_value());
  EXPECT_FALSE(run->started_at_ms.has_value());  // no started event yet
  EXPECT_EQ(run->Actions(), std::vector<std::string>{"abort"});

  ASSERT_TRUE(t_.Event(id, "progressed", R"({"processed":0})").ok());
  ASSERT_TRUE(t_.Event(id, "started", R"({"worker":"promoter-1"})").ok());
  EXPECT_EQ(t_.Get(id)->worker, "promoter-1");
  ExpectEventRefused(id, "started", R"({"worker":"promoter-2"})", Code::kConflict, "invalid_transition",
                     "a second started on a promote");
  EXPECT_EQ(t_.Get(id)->worker, "promoter-1");
}

TEST_F(RunLedgerTest, StartedIsAcceptedOnceOnOtherOperations) {
  const Uuid id = t_.RunIn("sync", "queued");
  ASSERT_TRUE(t_.Event(id, "started", R"({"worker":"w1"})").ok());
  ExpectEventRefused(id, "started", R"({"worker":"w2"})", Code::kConflict, "invalid_transition",
                     "a second started");
}

TEST_F(RunLedgerTest, EndedPayloadRulesAreSchemaViolations) {
  const Uuid id = t_.RunIn("scan", "running");
  const char* bad[] = {
      R"({"status":"failure"})",
      R"({"status":"failure","error":{}})",
      R"({"status":"failure","error":{"message":"x","detail":"y"}})",
      R"({"status":"success","error":{"message":"x"}})",
      R"({"status":"aborted","error":{"message":"x"},"aborted_by":{"kind":"system","id":"s"}})",
      R"({"status":"aborted"})",
      R"({"status":"aborted","aborted_by":{"kind":"robot","id":"s"}})",
      R"({"status":"aborted","aborted_by":{"kind":"system"}})",
      R"({"status":"success","aborted_by":{"kind":"system","id":"s"}})",
      R"({"status":"failure","error":{"message":"x"},"aborted_by":{"kind":"system","id":"s"}})",
      R"({"status":"success","reason":"why"})",
      R"({"status":"failure","error":{"message":"x"},"reason":"why"})",
      R"({"status":"done"})",
      R"({"status":"success","metrics":{"rows":-1}})",
      R"({"status":"success","result":[1]})",
  };
  for (const char* data : bad) {
    ExpectEventRefused(id, "ended", data, Code::kUnprocessable, "schema_violation", "ended rule");
  }
}

TEST_F(RunLedgerTest, AbortedEndedOnTheEventRouteNeedsSystemKind) {
  const Uuid id = t_.RunIn("scan", "running");
  for (const char* kind : {"user", "schedule", "api"}) {
    ExpectEventRefused(id,
                       "ended",
                       std::string(R"({"status":"aborted","aborted_by":{"kind":")") + kind +
                           R"(","id":"x"}})",
                       Code::kUnprocessable, "schema_violation", std::string("aborted_by.kind ") + kind);
  }
  const Reply ok = t_.Event(id, "ended",
                            R"({"status":"aborted","aborted_by":{"kind":"system","id":"reaper"},"reason":"stale"})");
  ASSERT_TRUE(ok.ok()) << ok.status.ToString();
  const auto run = t_.Get(id);
  EXPECT_EQ(run->status, "aborted");
  EXPECT_EQ(run->aborted_by, J(R"({"kind":"system","id":"reaper"})"));
}

TEST_F(RunLedgerTest, AbortActionRecordsTheCallerAndReason) {
  const Uuid id = t_.RunIn("export", "queued");
  const Reply reply = t_.Do(id, Action::kAbort, rt::Bob(), "not needed");
  ASSERT_TRUE(reply.ok()) << reply.status.ToString();
  ASSERT_TRUE(reply.outcome.event.has_value());
  EXPECT_EQ(reply.outcome.event->data,
            J(R"({"status":"aborted","aborted_by":{"kind":"user","id":"bob"},"reason":"not needed"})"));
  EXPECT_EQ(reply.outcome.event->principal, "bob");
  EXPECT_EQ(reply.run().aborted_by, J(R"({"kind":"user","id":"bob"})"));
}

TEST_F(RunLedgerTest, ActionReasonsAreFreeTextOfAtMost65536CodePoints) {
  const Uuid running = t_.RunIn("scan", "running");
  const Uuid finished = t_.RunIn("scan", "success");
  const std::string too_long(65537, 'r');
  ExpectRefused(running, [&] { return t_.Do(running, Action::kAbort, rt::Alice(), too_long); },
                Code::kUnprocessable, "schema_violation", "abort reason over the limit");
  ExpectRefused(finished, [&] { return t_.Do(finished, Action::kDelete, rt::Alice(), too_long); },
                Code::kUnprocessable, "schema_violation", "delete reason over the limit");
  EXPECT_TRUE(t_.Do(running, Action::kAbort, rt::Alice(), std::string(65536, 'r')).ok());
  EXPECT_TRUE(t_.Do(finished, Action::kDelete, rt::Alice(), "").ok());
}

TEST_F(RunLedgerTest, ProcessedNeverGoesBackwardsNorAboveTotal) {
  const Uuid id = t_.RunIn("profile", "running", R"("containers":["a","b","c"])");
  ASSERT_TRUE(t_.Event(id, "progressed", R"({"processed":2})").ok());
  ExpectEventRefused(id, "progressed", R"({"processed":1})", Code::kConflict, "invalid_transition",
                     "processed backwards");
  ExpectEventRefused(id, "progressed", R"({"processed":4})", Code::kConflict, "invalid_transition",
                     "processed above the default total");
  ExpectEventRefused(id, "progressed", R"({"processed":5,"total":4})", Code::kConflict,
                     "invalid_transition", "processed above the new total");
  ExpectEventRefused(id, "progressed", R"({"processed":2,"total":2})", Code::kConflict,
                     "invalid_transition", "total shrinking");
  ASSERT_TRUE(t_.Event(id, "progressed", R"({"processed":2})").ok()) << "an equal processed is fine";
  const Reply grown = t_.Event(id, "progressed", R"({"processed":4,"total":5})");
  ASSERT_TRUE(grown.ok()) << grown.status.ToString();
  const auto run = t_.Get(id);
  EXPECT_EQ(run->processed, 4);
  EXPECT_EQ(run->total, 5);
  ExpectEventRefused(id, "progressed", R"({"processed":6})", Code::kConflict, "invalid_transition",
                     "processed above the grown total");
}

TEST_F(RunLedgerTest, ProcessedIsUnboundedWithoutTotal) {
  const Uuid id = t_.RunIn("sync", "running", "");
  ASSERT_TRUE(t_.Event(id, "progressed", R"({"processed":1000})").ok());
  EXPECT_FALSE(t_.Get(id)->total.has_value());
  ASSERT_TRUE(t_.Event(id, "progressed", R"({"processed":1000,"total":1000})").ok());
  ExpectEventRefused(id, "progressed", R"({"processed":1001})", Code::kConflict, "invalid_transition",
                     "processed above a total that appeared later");
}

TEST_F(RunLedgerTest, CountersNeverGoBackwards) {
  const Uuid id = t_.RunIn("scan", "running");
  ASSERT_TRUE(t_.Event(id, "progressed", R"({"processed":0,"metrics":{"records_scanned":10,"checks_added":2}})")
                  .ok());
  ExpectEventRefused(id, "progressed", R"({"processed":0,"metrics":{"records_scanned":9}})", Code::kConflict,
                     "invalid_transition", "a metric backwards");
  ExpectEventRefused(id, "ended", R"({"status":"success","metrics":{"checks_added":1}})", Code::kConflict,
                     "invalid_transition", "a final metric backwards");
  ASSERT_TRUE(t_.Event(id, "progressed", R"({"processed":0,"metrics":{"anomalies_identified":1}})").ok())
      << "a counter may be left out";
  ASSERT_TRUE(t_.Event(id, "ended", R"({"status":"success","metrics":{"records_scanned":10,"checks_added":3}})")
                  .ok());
  const auto run = t_.Get(id);
  EXPECT_EQ(run->MetricValue("records_scanned"), 10);
  EXPECT_EQ(run->MetricValue("checks_added"), 3);
  EXPECT_EQ(run->MetricValue("anomalies_identified"), 1);
}

TEST_F(RunLedgerTest, IfMatchMustNameTheCurrentVersion) {
  const Uuid id = t_.RunIn("scan", "running");
  const std::uint32_t version = t_.Get(id)->version;
  auto conditional = [&](std::uint32_t expected) {
    AppendRequest request;
    request.caller = rt::Alice();
    request.run_id = id;
    request.type = "logged";
    request.data = J(R"({"level":"info","message":"x"})");
    request.if_match = expected;
    return t_.Append(std::move(request));
  };
  for (std::uint32_t stale : {version - 1, version + 1, 0u}) {
    ExpectRefused(id, [&] { return conditional(stale); }, Code::kPreconditionFailed, "version_conflict",
                  "If-Match " + std::to_string(stale));
  }
  const Reply ok = conditional(version);
  ASSERT_TRUE(ok.ok()) << ok.status.ToString();
  EXPECT_EQ(t_.Get(id)->version, version + 1);
}

TEST_F(RunLedgerTest, PayloadErrorsAreSchemaViolations) {
  const Uuid id = t_.RunIn("scan", "running");
  const std::pair<const char*, const char*> bad[] = {
      {"started", R"({})"},
      {"started", R"({"worker":""})"},
      {"started", R"({"worker":7})"},
      {"started", R"({"worker":"w","host":"h"})"},
      {"progressed", R"({})"},
      {"progressed", R"({"processed":-1})"},
      {"progressed", R"({"processed":1.5})"},
      {"progressed", R"({"processed":"1"})"},
      {"progressed", R"({"processed":1,"total":-2})"},
      {"progressed", R"({"processed":1,"metrics":{"rows":1.5}})"},
      {"progressed", R"({"processed":1,"metrics":[]})"},
      {"progressed", R"({"processed":1,"containers":[{"name":"a","status":"running"}]})"},
      {"progressed", R"({"processed":1,"containers":[{"name":"a"}]})"},
      {"progressed", R"({"processed":1,"containers":[{"status":"done"}]})"},
      {"progressed", R"({"processed":1,"containers":{"a":"done"}})"},
      {"progressed", R"({"processed":1,"extra":true})"},
      {"logged", R"({"message":"x"})"},
      {"logged", R"({"level":"fatal","message":"x"})"},
      {"logged", R"({"level":"info"})"},
      {"logged", R"({"level":"info","message":"x","fields":[]})"},
      {"logged", R"({"level":"info","message":"x","container":""})"},
      {"logged", R"({"level":"info","message":"x","extra":1})"},
      {"ended", R"({})"},
      {"paused", R"({})"},
      {"started", R"([])"},
      {"started", R"(null)"},
  };
  for (const auto& [type, data] : bad) {
    ExpectEventRefused(id, type, data, Code::kUnprocessable, "schema_violation", "payload");
  }
  const std::string long_message = R"({"level":"info","message":")" + std::string(65537, 'x') + R"("})";
  ExpectEventRefused(id, "logged", long_message, Code::kUnprocessable, "schema_violation",
                     "a message over 64 KiB");
}

TEST_F(RunLedgerTest, CreatedPayloadErrorsAreSchemaViolations) {
  const char* bad[] = {
      R"({})",
      R"({"operation":"scan","datastore":{"id":"ds"}})",
      R"({"operation":"clean","datastore":{"id":"ds"},"triggered_by":{"kind":"user","id":"a"}})",
      R"({"operation":"scan","triggered_by":{"kind":"user","id":"a"}})",
      R"({"operation":"scan","datastore":{"name":"x"},"triggered_by":{"kind":"user","id":"a"}})",
      R"({"operation":"scan","datastore":{"id":""},"triggered_by":{"kind":"user","id":"a"}})",
      R"({"operation":"scan","datastore":{"id":"ds","region":"eu"},"triggered_by":{"kind":"user","id":"a"}})",
      R"({"operation":"scan","datastore":{"id":"ds"},"triggered_by":{"kind":"robot","id":"a"}})",
      R"({"operation":"scan","datastore":{"id":"ds"},"triggered_by":{"kind":"user"}})",
      R"({"operation":"scan","datastore":{"id":"ds"},"triggered_by":{"kind":"user","id":"a"},"config":[]})",
      R"({"operation":"scan","datastore":{"id":"ds"},"triggered_by":{"kind":"user","id":"a"},"containers":"a"})",
      R"({"operation":"scan","datastore":{"id":"ds"},"triggered_by":{"kind":"user","id":"a"},"containers":[""]})",
      R"({"operation":"scan","datastore":{"id":"ds"},"triggered_by":{"kind":"user","id":"a"},"total":-1})",
      R"({"operation":"scan","datastore":{"id":"ds"},"triggered_by":{"kind":"user","id":"a"},"total":2.5})",
      R"({"operation":"scan","datastore":{"id":"ds"},"triggered_by":{"kind":"user","id":"a"},"unit":""})",
      R"({"operation":"scan","datastore":{"id":"ds"},"triggered_by":{"kind":"user","id":"a"},"rerun_of":"01890a5d-ac96-774b-bcce-b302099a8057"})",
      R"({"operation":"scan","datastore":{"id":"ds"},"triggered_by":{"kind":"user","id":"a"},"resumed_from":"01890a5d-ac96-774b-bcce-b302099a8057"})",
      R"({"operation":"scan","datastore":{"id":"ds"},"triggered_by":{"kind":"user","id":"a"},"status":"queued"})",
      R"([])",
  };
  const auto size = t_.store().size();
  for (const char* data : bad) {
    const Reply reply = t_.CreateRun(data);
    EXPECT_EQ(reply.status.code(), Code::kUnprocessable) << data << ": " << reply.status.ToString();
    EXPECT_EQ(reply.status.reason(), "schema_violation") << data;
  }
  EXPECT_EQ(t_.store().size(), size);
}

TEST_F(RunLedgerTest, UnknownRunIsRunNotFound) {
  const Uuid unknown = *ledger::ParseUuid("01890a5d-ac96-774b-bcce-b302099a8057");
  ExpectEventRefused(unknown, "logged", R"({"level":"info","message":"x"})", Code::kNotFound, "run_not_found",
                     "event on an unknown run");
  for (const ActionCase& action : kActions) {
    ExpectRefused(unknown, [&] { return t_.Do(unknown, action.action); }, Code::kNotFound, "run_not_found",
                  std::string(action.name) + " on an unknown run");
  }
}

TEST_F(RunLedgerTest, DeletedComesOnlyFromTheDeleteActionAndOnlyOnce) {
  const Uuid id = t_.RunIn("materialize", "success");
  ExpectEventRefused(id, "deleted", R"({"reason":"cleanup"})", Code::kUnprocessable, "schema_violation",
                     "deleted through the event route");
  const Reply deleted = t_.Do(id, Action::kDelete, rt::Alice(), "cleanup");
  ASSERT_TRUE(deleted.ok()) << deleted.status.ToString();
  EXPECT_EQ(deleted.outcome.event->data, J(R"({"reason":"cleanup"})"));
  const auto run = t_.Get(id);
  ASSERT_TRUE(run.has_value()) << "the record stays for auditors";
  EXPECT_TRUE(run->deleted());
  EXPECT_TRUE(run->Actions().empty());
  ExpectRefused(id, [&] { return t_.Do(id, Action::kDelete); }, Code::kNotFound, "run_not_found",
                "a second delete");
}

TEST_F(RunLedgerTest, MemberTriggersRunsAsItself) {
  const Caller member{"carol", true};
  const std::string base = R"({"operation":"scan","datastore":{"id":"ds-1"})";

  const Reply omitted = t_.CreateRun(base + "}", member);
  ASSERT_TRUE(omitted.ok()) << omitted.status.ToString();
  EXPECT_EQ(omitted.run().triggered_by, J(R"({"kind":"user","id":"carol"})"));
  ASSERT_TRUE(omitted.outcome.event.has_value());
  const Json* stored = omitted.outcome.event->data.Find("triggered_by");
  ASSERT_NE(stored, nullptr) << "what is stored names the member";
  EXPECT_EQ(*stored, J(R"({"kind":"user","id":"carol"})"));

  const Reply self = t_.CreateRun(base + R"(,"triggered_by":{"kind":"user","id":"carol"}})", member);
  ASSERT_TRUE(self.ok()) << self.status.ToString();
  EXPECT_EQ(self.run().triggered_by, J(R"({"kind":"user","id":"carol"})"));

  const auto size = t_.store().size();
  for (const char* other : {R"({"kind":"user","id":"alice"})", R"({"kind":"schedule","id":"carol"})",
                            R"({"kind":"user","id":"carol","extra":1})", R"("carol")"}) {
    const Reply reply = t_.CreateRun(base + R"(,"triggered_by":)" + other + "}", member);
    EXPECT_EQ(reply.status.code(), Code::kUnprocessable) << other;
    EXPECT_EQ(reply.status.reason(), "schema_violation") << other;
  }
  EXPECT_EQ(t_.store().size(), size);

  const Reply worker = t_.CreateRun(base + R"(,"triggered_by":{"kind":"schedule","id":"nightly"}})",
                                    Caller{"worker-1", false});
  ASSERT_TRUE(worker.ok()) << "non-members name any triggered_by: " << worker.status.ToString();
  EXPECT_EQ(worker.run().triggered_by, J(R"({"kind":"schedule","id":"nightly"})"));
}

// --- Bad input never reaches the store (SPEC section 4: "A rejected request never appends
// anything") --------------------------------------------------------------------------------

TEST_F(RunLedgerTest, RejectedRequestsLeaveEveryTableByteIdentical) {
  const Uuid running = t_.RunIn("scan", "running");
  ASSERT_TRUE(t_.Event(running, "progressed", R"({"processed":2,"metrics":{"rows":5}})", "p-1").ok());
  const Uuid done = t_.RunIn("profile", "success");
  const Uuid deleted = t_.RunIn("sync", "deleted");
  const Uuid fixed = *ledger::ParseUuid("0190f000-0000-7000-8000-000000000001");
  {
    CreateRunRequest request;
    request.caller = rt::Alice();
    request.run_id = fixed;
    request.data = J(rt::CreatedJson("scan"));
    request.idempotency_key_sha256 = std::string(64, 'a');
    ASSERT_TRUE(t_.Create(std::move(request)).ok());
  }
  {
    ActionRequest request;
    request.caller = rt::Alice();
    request.run_id = fixed;
    request.action = Action::kAbort;
    request.reason = "first";
    request.idempotency_key_sha256 = std::string(64, 'b');
    ASSERT_TRUE(t_.Act(std::move(request)).ok());
  }

  std::vector<std::pair<std::string, std::function<Reply()>>> attempts;
  auto event = [&](std::string name, Uuid run, std::string type, std::string data,
                   std::optional<std::string> id = std::nullopt, std::optional<std::uint32_t> if_match = {}) {
    attempts.emplace_back(std::move(name), [=, this] {
      AppendRequest request;
      request.caller = rt::Alice();
      request.run_id = run;
      request.type = type;
      request.data = J(data);
      request.client_event_id = id;
      request.if_match = if_match;
      return t_.Append(std::move(request));
    });
  };
  event("schema: unknown member", running, "logged", R"({"level":"info","message":"m","x":1})");
  event("schema: bad level", running, "logged", R"({"level":"loud","message":"m"})");
  event("schema: failure without error", running, "ended", R"({"status":"failure"})");
  event("schema: deleted event", done, "deleted", "{}");
  event("schema: user abort on the event route", running, "ended",
        R"({"status":"aborted","aborted_by":{"kind":"user","id":"x"}})");
  event("transition: started twice", running, "started", R"({"worker":"w"})");
  event("transition: progressed after ended", done, "progressed", R"({"processed":1})");
  event("transition: processed backwards", running, "progressed", R"({"processed":1})");
  event("transition: metric backwards", running, "progressed", R"({"processed":2,"metrics":{"rows":4}})");
  event("transition: logged on a deleted run", deleted, "logged", R"({"level":"info","message":"m"})");
  event("idempotency: event id with another body", running, "progressed", R"({"processed":3})", "p-1");
  event("if-match: stale", running, "logged", R"({"level":"info","message":"m"})", std::nullopt, 1u);
  attempts.emplace_back("action: abort a finished run", [&] { return t_.Do(done, Action::kAbort); });
  attempts.emplace_back("action: resume a success", [&] { return t_.Do(done, Action::kResume); });
  attempts.emplace_back("action: delete a running run", [&] { return t_.Do(running, Action::kDelete); });
  attempts.emplace_back("idempotency: created with another payload", [&] {
    CreateRunRequest request;
    request.caller = rt::Alice();
    request.run_id = fixed;
    request.data = J(rt::CreatedJson("sync"));
    return t_.Create(std::move(request));
  });
  attempts.emplace_back("idempotency: Idempotency-Key with another body", [&] {
    CreateRunRequest request;
    request.caller = rt::Alice();
    request.data = J(rt::CreatedJson("export"));
    request.idempotency_key_sha256 = std::string(64, 'a');
    return t_.Create(std::move(request));
  });
  attempts.emplace_back("idempotency: abort key with another reason", [&] {
    ActionRequest request;
    request.caller = rt::Alice();
    request.run_id = fixed;
    request.action = Action::kAbort;
    request.reason = "second";
    request.idempotency_key_sha256 = std::string(64, 'b');
    return t_.Act(std::move(request));
  });
  attempts.emplace_back("schema: created with rerun_of", [&] {
    return t_.CreateRun(rt::CreatedJson("scan", "ds-1", R"("rerun_of":"0190f000-0000-7000-8000-000000000001")"));
  });

  const rt::TableDump before = rt::DumpTables(t_.store(), rt::ContentTables());
  const auto size = t_.store().size();
  for (const auto& [name, attempt] : attempts) {
    const Reply reply = attempt();
    EXPECT_FALSE(reply.ok()) << name;
    EXPECT_EQ(t_.store().size(), size) << name;
  }
  const rt::TableDump after = rt::DumpTables(t_.store(), rt::ContentTables());
  EXPECT_EQ(rt::FirstDifference(before, after), "");
}

}  // namespace
}  // namespace runledger::projections
