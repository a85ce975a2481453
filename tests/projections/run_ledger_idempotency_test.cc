// Idempotent retries (SPEC sections 2 and 4): client event ids, repeated
// `created` with a client run_id, and Idempotency-Key on POST /v1/runs and
// the action routes.

#include <gtest/gtest.h>

#include <string>

#include "ledger/uuid.h"
#include "projections/queries.h"
#include "projections/run_ledger.h"
#include "tests/testing/run_builders.h"

namespace runledger::projections {
namespace {

namespace rt = runledger::testing;
using rt::J;
using rt::Reply;

const std::string kKeyA(64, 'a');
const std::string kKeyB(64, 'b');

class IdempotencyTest : public ::testing::Test {
 protected:
  AppendRequest Logged(const Uuid& run, std::string id, std::string message) {
    AppendRequest request;
    request.caller = rt::Alice();
    request.run_id = run;
    request.type = "logged";
    request.data = J(R"({"level":"info","message":")" + message + R"("})");
    request.client_event_id = std::move(id);
    return request;
  }
  CreateRunRequest Create(std::string data, std::optional<std::string> key,
                          std::optional<Uuid> run_id = std::nullopt, Caller caller = rt::Alice()) {
    CreateRunRequest request;
    request.caller = std::move(caller);
    request.data = J(data);
    request.run_id = run_id;
    request.idempotency_key_sha256 = std::move(key);
    return request;
  }
  ActionRequest Act(const Uuid& run, Action action, std::optional<std::string> key,
                    std::optional<std::string> reason = std::nullopt, Caller caller = rt::Alice()) {
    ActionRequest request;
    request.caller = std::move(caller);
    request.run_id = run;
    request.action = action;
    request.idempotency_key_sha256 = std::move(key);
    request.reason = std::move(reason);
    return request;
  }
  // Runs created as reruns (or resumes) of `old_id`.
  size_t RunsLinkedTo(const Uuid& old_id, bool resume) {
    RunFilter filter;
    (resume ? filter.resumed_from : filter.rerun_of) = old_id;
    auto page = t_.queries().ListRuns(filter, 100, std::nullopt);
    EXPECT_TRUE(page.has_value());
    return page ? page->items.size() : 0;
  }

  rt::TestLedger t_;
};

TEST_F(IdempotencyTest, ClientEventIdRepeatReturnsTheStoredEventAndAppendsNothing) {
  const Uuid id = t_.RunIn("scan", "running");
  const Reply first = t_.Append(Logged(id, "log-1", "hello"));
  ASSERT_TRUE(first.ok()) << first.status.ToString();
  EXPECT_FALSE(first.outcome.repeated);
  const auto size = t_.store().size();
  const std::string record = t_.RecordBytes(id);

  const Reply again = t_.Append(Logged(id, "log-1", "hello"));
  ASSERT_TRUE(again.ok()) << again.status.ToString();
  EXPECT_TRUE(again.outcome.repeated);
  ASSERT_TRUE(again.outcome.event.has_value());
  EXPECT_EQ(again.outcome.event->stored, first.outcome.event->stored);
  EXPECT_EQ(again.outcome.event->position, first.outcome.event->position);
  EXPECT_EQ(t_.store().size(), size);
  EXPECT_EQ(t_.RecordBytes(id), record);
}

TEST_F(IdempotencyTest, ClientEventIdRepeatSucceedsAfterTheRunMovedOn) {
  const Uuid id = t_.RunIn("scan", "queued");
  const Reply started = t_.Event(id, "started", R"({"worker":"w1"})", "start-1");
  ASSERT_TRUE(started.ok());
  ASSERT_TRUE(t_.Event(id, "ended", R"({"status":"success"})", "end-1").ok());
  const auto size = t_.store().size();
  const Reply retry = t_.Event(id, "started", R"({"worker":"w1"})", "start-1");
  ASSERT_TRUE(retry.ok()) << "a retried started is not a transition: " << retry.status.ToString();
  EXPECT_TRUE(retry.outcome.repeated);
  EXPECT_EQ(retry.outcome.event->seq, started.outcome.event->seq);
  EXPECT_EQ(t_.store().size(), size);
}

TEST_F(IdempotencyTest, ClientEventIdWithAnotherBodyIsIdempotencyMismatch) {
  const Uuid id = t_.RunIn("scan", "running");
  ASSERT_TRUE(t_.Append(Logged(id, "log-1", "hello")).ok());
  const auto size = t_.store().size();
  const std::string record = t_.RecordBytes(id);
  const Reply other_data = t_.Append(Logged(id, "log-1", "bye"));
  EXPECT_EQ(other_data.status.code(), Code::kConflict);
  EXPECT_EQ(other_data.status.reason(), "idempotency_mismatch");
  const Reply other_type = t_.Event(id, "progressed", R"({"processed":1})", "log-1");
  EXPECT_EQ(other_type.status.code(), Code::kConflict);
  EXPECT_EQ(other_type.status.reason(), "idempotency_mismatch");
  EXPECT_EQ(t_.store().size(), size);
  EXPECT_EQ(t_.RecordBytes(id), record);
}

TEST_F(IdempotencyTest, ClientEventIdsAreScopedToTheirRun) {
  const Uuid one = t_.RunIn("scan", "running");
  const Uuid two = t_.RunIn("scan", "running");
  ASSERT_TRUE(t_.Append(Logged(one, "log-1", "hello")).ok());
  const Reply other_run = t_.Append(Logged(two, "log-1", "hello"));
  ASSERT_TRUE(other_run.ok());
  EXPECT_FALSE(other_run.outcome.repeated);
}

TEST_F(IdempotencyTest, RepeatsInTheSameBatchAppendOnce) {
  const Uuid id = t_.RunIn("scan", "running");
  const auto size = t_.store().size();
  std::vector<std::future<Reply>> events;
  std::vector<std::future<Reply>> creates;
  for (int i = 0; i < 5; ++i) {
    events.push_back(t_.AppendAsync(Logged(id, "burst", "same")));
    creates.push_back(t_.CreateAsync(Create(rt::CreatedJson("sync"), kKeyA)));
  }
  int event_firsts = 0;
  int create_firsts = 0;
  std::optional<Uuid> created;
  for (int i = 0; i < 5; ++i) {
    const Reply event = rt::Wait(events[static_cast<size_t>(i)]);
    ASSERT_TRUE(event.ok()) << event.status.ToString();
    event_firsts += event.outcome.repeated ? 0 : 1;
    const Reply create = rt::Wait(creates[static_cast<size_t>(i)]);
    ASSERT_TRUE(create.ok()) << create.status.ToString();
    create_firsts += create.outcome.repeated ? 0 : 1;
    if (!created) created = create.run_id();
    EXPECT_EQ(create.run_id(), *created);
  }
  EXPECT_EQ(event_firsts, 1);
  EXPECT_EQ(create_firsts, 1);
  EXPECT_EQ(t_.store().size(), size + 2);
}

// A retry that lands in the same group commit as the request it repeats
// finds the first one's events in the batch, not in the committed indexes.
TEST_F(IdempotencyTest, RepeatsInTheFirstRequestsBatchAnswerItsOutcome) {
  const Uuid to_abort = t_.RunIn("scan", "running");
  const Uuid to_rerun = t_.RunIn("scan", "failure");
  const Uuid to_resume = t_.RunIn("profile", "aborted");
  const Uuid fixed = *ledger::ParseUuid("0190f000-0000-7000-8000-0000000000bb");
  const auto size = t_.store().size();
  constexpr int kCopies = 4;
  std::vector<std::vector<std::future<Reply>>> kinds(4);
  // A command ahead of them keeps the committer busy while the copies queue
  // up, so each first request and its copies share the next batch.
  auto blocker = t_.CreateAsync(Create(rt::CreatedJson("sync"), std::nullopt));
  for (int i = 0; i < kCopies; ++i) {
    kinds[0].push_back(t_.CreateAsync(Create(rt::CreatedJson("scan"), std::nullopt, fixed)));
    kinds[1].push_back(t_.ActAsync(Act(to_abort, Action::kAbort, kKeyA, "stop")));
    kinds[2].push_back(t_.ActAsync(Act(to_rerun, Action::kRerun, kKeyA)));
    kinds[3].push_back(t_.ActAsync(Act(to_resume, Action::kResume, kKeyA)));
  }
  ASSERT_TRUE(rt::Wait(blocker).ok());
  const char* names[] = {"created with a run_id", "abort", "rerun", "resume"};
  for (size_t kind = 0; kind < kinds.size(); ++kind) {
    int firsts = 0;
    std::optional<std::string> first_run;
    for (auto& future : kinds[kind]) {
      const Reply reply = rt::Wait(future);
      ASSERT_TRUE(reply.ok()) << names[kind] << ": " << reply.status.ToString();
      firsts += reply.outcome.repeated ? 0 : 1;
      const std::string run = RunJson(reply.run());
      if (!first_run) first_run = run;
      EXPECT_EQ(run, *first_run) << names[kind] << ": every copy answers the first outcome";
    }
    EXPECT_EQ(firsts, 1) << names[kind];
  }
  EXPECT_EQ(t_.store().size(), size + 5);
}

TEST_F(IdempotencyTest, CreatedWithTheSameRunIdAndPayloadReturnsTheRun) {
  const Uuid fixed = *ledger::ParseUuid("0190f000-0000-7000-8000-0000000000aa");
  const std::string payload = rt::CreatedJson("scan", "ds-1", R"("config":{"sample":1,"tables":["a"]})");
  const Reply first = t_.Create(Create(payload, std::nullopt, fixed));
  ASSERT_TRUE(first.ok()) << first.status.ToString();
  EXPECT_FALSE(first.outcome.repeated);
  EXPECT_EQ(first.run_id(), fixed);
  ASSERT_TRUE(t_.Event(fixed, "started", R"({"worker":"w"})").ok());
  const auto size = t_.store().size();

  // Same payload, other member order and number spelling: the same JSON value.
  const std::string same =
      R"({"config":{"tables":["a"],"sample":1.0},"triggered_by":{"id":"alice","kind":"user"},)"
      R"("datastore":{"id":"ds-1"},"operation":"scan"})";
  const Reply again = t_.Create(Create(same, std::nullopt, fixed));
  ASSERT_TRUE(again.ok()) << again.status.ToString();
  EXPECT_TRUE(again.outcome.repeated);
  EXPECT_EQ(again.run_id(), fixed);
  EXPECT_EQ(again.run().status, "running") << "the existing run, as it is now";
  EXPECT_EQ(t_.store().size(), size);

  // The event route's `created` behaves the same.
  AppendRequest via_events;
  via_events.caller = rt::Alice();
  via_events.run_id = fixed;
  via_events.type = "created";
  via_events.data = J(payload);
  const Reply routed = t_.Append(std::move(via_events));
  ASSERT_TRUE(routed.ok()) << routed.status.ToString();
  EXPECT_TRUE(routed.outcome.repeated);

  const Reply other = t_.Create(Create(rt::CreatedJson("profile"), std::nullopt, fixed));
  EXPECT_EQ(other.status.code(), Code::kConflict);
  EXPECT_EQ(other.status.reason(), "idempotency_mismatch");
  EXPECT_EQ(t_.store().size(), size);
}

TEST_F(IdempotencyTest, IdempotencyKeyOnCreateRunReturnsTheFirstOutcome) {
  const std::string payload = rt::CreatedJson("export");
  const Reply first = t_.Create(Create(payload, kKeyA));
  ASSERT_TRUE(first.ok()) << first.status.ToString();
  const Uuid id = first.run_id();
  ASSERT_TRUE(first.outcome.event.has_value());
  EXPECT_EQ(first.outcome.event->idempotency_key_sha256, kKeyA);
  ASSERT_TRUE(t_.Event(id, "started", R"({"worker":"w"})").ok());
  const auto size = t_.store().size();

  const Reply again = t_.Create(Create(payload, kKeyA));
  ASSERT_TRUE(again.ok()) << again.status.ToString();
  EXPECT_TRUE(again.outcome.repeated);
  EXPECT_EQ(again.run_id(), id);
  EXPECT_EQ(RunJson(again.run()), RunJson(first.run())) << "the first response, not the run now";
  EXPECT_EQ(t_.store().size(), size);

  const Reply other_body = t_.Create(Create(rt::CreatedJson("sync"), kKeyA));
  EXPECT_EQ(other_body.status.code(), Code::kUnprocessable);
  EXPECT_EQ(other_body.status.reason(), "idempotency_mismatch");
  EXPECT_EQ(t_.store().size(), size);

  const Reply other_caller = t_.Create(Create(payload, kKeyA, std::nullopt, rt::Bob()));
  ASSERT_TRUE(other_caller.ok());
  EXPECT_FALSE(other_caller.outcome.repeated) << "keys are scoped to the principal";
  EXPECT_NE(other_caller.run_id(), id);
  const Reply other_key = t_.Create(Create(payload, kKeyB));
  ASSERT_TRUE(other_key.ok());
  EXPECT_FALSE(other_key.outcome.repeated);
}

TEST_F(IdempotencyTest, IdempotencyKeyOnAbortReturnsTheFirstOutcome) {
  const Uuid id = t_.RunIn("scan", "running");
  const Reply first = t_.Act(Act(id, Action::kAbort, kKeyA, "enough"));
  ASSERT_TRUE(first.ok()) << first.status.ToString();
  const auto size = t_.store().size();
  const Reply again = t_.Act(Act(id, Action::kAbort, kKeyA, "enough"));
  ASSERT_TRUE(again.ok()) << "a retried abort is not a 409: " << again.status.ToString();
  EXPECT_TRUE(again.outcome.repeated);
  EXPECT_EQ(RunJson(again.run()), RunJson(first.run()));
  EXPECT_EQ(t_.store().size(), size);

  for (const std::optional<std::string>& reason : {std::optional<std::string>("other"),
                                                   std::optional<std::string>()}) {
    const Reply mismatch = t_.Act(Act(id, Action::kAbort, kKeyA, reason));
    EXPECT_EQ(mismatch.status.code(), Code::kUnprocessable) << reason.value_or("(no reason)");
    EXPECT_EQ(mismatch.status.reason(), "idempotency_mismatch");
  }
  const Reply unkeyed = t_.Act(Act(id, Action::kAbort, std::nullopt, "enough"));
  EXPECT_EQ(unkeyed.status.reason(), "action_not_supported");
  EXPECT_EQ(t_.store().size(), size);
}

TEST_F(IdempotencyTest, IdempotencyKeyOnRerunAndResumeMakesOneRun) {
  for (Action action : {Action::kRerun, Action::kResume}) {
    const bool resume = action == Action::kResume;
    const Uuid old_id = t_.RunIn("profile", "failure");
    const Reply first = t_.Act(Act(old_id, action, kKeyA));
    ASSERT_TRUE(first.ok()) << first.status.ToString();
    const Uuid made = first.run_id();
    ASSERT_TRUE(t_.Event(made, "started", R"({"worker":"w"})").ok());
    const auto size = t_.store().size();
    const Reply again = t_.Act(Act(old_id, action, kKeyA));
    ASSERT_TRUE(again.ok()) << again.status.ToString();
    EXPECT_TRUE(again.outcome.repeated);
    EXPECT_EQ(again.run_id(), made);
    EXPECT_EQ(again.run().status, "queued") << "the first response";
    EXPECT_EQ(t_.store().size(), size);
    EXPECT_EQ(RunsLinkedTo(old_id, resume), 1u);
    // The scope is (principal, method, path): another caller, or another
    // route, with the same key is a new request.
    const Reply other_caller = t_.Act(Act(old_id, action, kKeyA, std::nullopt, rt::Bob()));
    ASSERT_TRUE(other_caller.ok()) << other_caller.status.ToString();
    EXPECT_FALSE(other_caller.outcome.repeated);
    EXPECT_EQ(RunsLinkedTo(old_id, resume), 2u);
  }
}

TEST_F(IdempotencyTest, KeysSurviveReopenAndRebuild) {
  const std::string payload = rt::CreatedJson("scan", "ds-1", R"("containers":["a","b"])");
  const Reply created = t_.Create(Create(payload, kKeyA));
  ASSERT_TRUE(created.ok());
  const Uuid id = created.run_id();
  ASSERT_TRUE(t_.Event(id, "started", R"({"worker":"w"})").ok());
  ASSERT_TRUE(t_.Event(id, "ended", R"({"status":"failure","error":{"message":"x"}})").ok());
  const Reply rerun = t_.Act(Act(id, Action::kRerun, kKeyB));
  ASSERT_TRUE(rerun.ok());
  const Reply resume = t_.Act(Act(id, Action::kResume, kKeyB));
  ASSERT_TRUE(resume.ok());
  const Uuid abortable = t_.RunIn("sync", "queued");
  ASSERT_TRUE(t_.Act(Act(abortable, Action::kAbort, kKeyA, "r")).ok());

  auto expect_repeats = [&](const std::string& when) {
    const auto size = t_.store().size();
    const Reply c = t_.Create(Create(payload, kKeyA));
    ASSERT_TRUE(c.ok()) << when << ": " << c.status.ToString();
    EXPECT_TRUE(c.outcome.repeated) << when;
    EXPECT_EQ(c.run_id(), id) << when;
    const Reply r = t_.Act(Act(id, Action::kRerun, kKeyB));
    ASSERT_TRUE(r.ok()) << when << ": " << r.status.ToString();
    EXPECT_TRUE(r.outcome.repeated) << when;
    EXPECT_EQ(r.run_id(), rerun.run_id()) << when;
    const Reply s = t_.Act(Act(id, Action::kResume, kKeyB));
    ASSERT_TRUE(s.ok()) << when << ": " << s.status.ToString();
    EXPECT_TRUE(s.outcome.repeated) << when;
    EXPECT_EQ(s.run_id(), resume.run_id()) << when;
    const Reply a = t_.Act(Act(abortable, Action::kAbort, kKeyA, "r"));
    ASSERT_TRUE(a.ok()) << when << ": " << a.status.ToString();
    EXPECT_TRUE(a.outcome.repeated) << when;
    const Reply mismatch = t_.Create(Create(rt::CreatedJson("sync"), kKeyA));
    EXPECT_EQ(mismatch.status.reason(), "idempotency_mismatch") << when;
    EXPECT_EQ(t_.store().size(), size) << when;
  };
  expect_repeats("before reopening");
  ASSERT_TRUE(t_.Reopen().ok());
  expect_repeats("after reopening");
  ASSERT_TRUE(t_.Reopen(/*start_committer=*/false).ok());
  const Status rebuilt = t_.store().RebuildProjections();
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.ToString();
  ASSERT_TRUE(t_.Reopen().ok());
  expect_repeats("after a rebuild");
}

}  // namespace
}  // namespace runledger::projections
