// Rebuild (SPEC section 3: "A full rebuild from the events must produce
// byte-identical projections"). A seeded random workload drives hundreds of
// runs through every operation type and outcome, with many commands in
// flight, while a model of the state machine predicts every answer; then the
// projection tables written live are compared byte for byte with the ones a
// rebuild produces.

#include "projections/run_projection.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <deque>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "ledger/canonical_json.h"
#include "ledger/uuid.h"
#include "projections/run_ledger.h"
#include "projections/tables.h"
#include "tests/testing/run_builders.h"

namespace runledger::projections {
namespace {

namespace rt = runledger::testing;
using rt::J;
using rt::Reply;

constexpr std::uint64_t kSeed = 20261129;
constexpr std::uint64_t kEventsMin = 10000;
constexpr size_t kCommandsPerRound = 600;
constexpr int kNewRunsPerRound = 14;
const char* const kMetricNames[] = {"records_scanned", "anomalies_identified", "checks_added",
                                    "containers_profiled"};

// What the model knows of one run.
struct ModelRun {
  Uuid id{};
  std::string operation;
  std::string status;
  bool deleted = false;
  bool worker_started = false;
  std::int64_t processed = 0;
  std::optional<std::int64_t> total;
  std::vector<std::string> planned;
  std::map<std::string, std::string> reported;
  std::map<std::string, std::int64_t> metrics;
  std::string created_payload;  // for repeated creates
  int next_event_id = 0;

  bool Terminal() const { return status == "success" || status == "failure" || status == "aborted"; }
  bool Resumable() const {
    return (status == "failure" || status == "aborted") &&
           (operation == "profile" || operation == "scan" || operation == "promote");
  }
  bool WorkLeft() const {
    if (!planned.empty() || !reported.empty()) {
      for (const auto& name : planned) {
        auto it = reported.find(name);
        if (it == reported.end() || it->second != "done") return true;
      }
      for (const auto& [name, status_] : reported) {
        if (status_ != "done") return true;
      }
      return false;
    }
    return total && *total > processed;
  }
};

struct Expectation {
  Code code = Code::kOk;
  std::string reason;
  bool repeated = false;
};

// An event sent with a client id, for later retries.
struct SentEvent {
  size_t run = 0;
  std::string id, type, data;
};
// An action or create sent with an Idempotency-Key, for later retries.
struct KeyedRequest {
  size_t run = 0;  // the old run (actions) or the made run (creates)
  Action action = Action::kAbort;
  bool create = false;
  std::string key, body;  // body: reason (abort) or payload (create)
  Caller caller;
  std::optional<Uuid> made;  // the run a create/rerun/resume made, once known
};

class Workload {
 public:
  explicit Workload(rt::TestLedger& t) : t_(t), rng_(kSeed) {}

  // Submits rounds of commands until the ledger holds kEventsMin events.
  void Run() {
    for (int round = 0; t_.store().size() < kEventsMin; ++round) {
      ASSERT_LT(round, 200) << "the workload stopped making progress";
      for (int i = 0; i < kNewRunsPerRound; ++i) NewRun();
      for (size_t i = 0; i < kCommandsPerRound; ++i) Step();
      Settle();
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
  // Every run's status and deletion as the store has it.
  void CheckRuns() {
    for (const ModelRun& run : runs_) {
      const auto stored = t_.Get(run.id);
      ASSERT_TRUE(stored.has_value()) << ledger::FormatUuid(run.id);
      EXPECT_EQ(stored->status, run.status) << ledger::FormatUuid(run.id);
      EXPECT_EQ(stored->deleted(), run.deleted) << ledger::FormatUuid(run.id);
      EXPECT_EQ(stored->processed, run.processed) << ledger::FormatUuid(run.id);
      EXPECT_EQ(stored->total, run.total) << ledger::FormatUuid(run.id);
    }
    EXPECT_EQ(t_.store().size(), appended_) << "appends the model expected";
  }
  size_t runs() const { return runs_.size(); }
  size_t rejected() const { return rejected_; }
  size_t repeats() const { return repeats_; }

 private:
  struct Pending {
    std::future<Reply> future;
    Expectation expect;
    std::string what;
    std::optional<size_t> made_from;   // a rerun/resume of this run: learn the new run
    std::optional<size_t> keyed;       // index in keyed_ to learn `made`
  };

  int Roll(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool Chance(int percent) { return Roll(100) < percent; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) { return v[static_cast<size_t>(Roll(static_cast<int>(v.size())))]; }

  Uuid RandomUuid() {
    Uuid id;
    for (auto& byte : id) byte = static_cast<std::uint8_t>(Roll(256));
    id[6] = static_cast<std::uint8_t>(0x40 | (id[6] & 0x0f));
    id[8] = static_cast<std::uint8_t>(0x80 | (id[8] & 0x3f));
    return id;
  }
  std::string Key() {
    char buffer[65];
    std::snprintf(buffer, sizeof buffer, "%064llx", static_cast<unsigned long long>(++keys_));
    return buffer;
  }

  void Submit(std::future<Reply> future, Expectation expect, std::string what,
              std::optional<size_t> made_from = std::nullopt, std::optional<size_t> keyed = std::nullopt) {
    if (expect.code == Code::kOk && !expect.repeated) ++appended_;
    if (expect.code != Code::kOk) ++rejected_;
    if (expect.repeated) ++repeats_;
    pending_.push_back({std::move(future), std::move(expect), std::move(what), made_from, keyed});
  }
  static Expectation Ok() { return {}; }
  static Expectation Repeated() { return {Code::kOk, "", true}; }
  static Expectation Fail(Code code, std::string reason) { return {code, std::move(reason), false}; }

  // Waits for every answer of the round and learns the runs actions made.
  void Settle() {
    for (auto& p : pending_) {
      const Reply reply = rt::Wait(p.future);
      const bool as_expected = reply.status.code() == p.expect.code && reply.outcome.repeated == p.expect.repeated &&
                               (p.expect.reason.empty() || reply.status.reason() == p.expect.reason);
      ASSERT_TRUE(as_expected) << p.what << ": expected " << (p.expect.repeated ? "a repeat" : p.expect.reason)
                               << " got " << reply.status.ToString() << (reply.outcome.repeated ? " (repeat)" : "");
      if (!reply.ok()) continue;
      if (p.keyed && keyed_[*p.keyed].made) {
        EXPECT_EQ(reply.run_id(), *keyed_[*p.keyed].made) << p.what << ": a retry answers the first run";
      }
      if (p.keyed && !keyed_[*p.keyed].made && (keyed_[*p.keyed].create || keyed_[*p.keyed].action != Action::kAbort)) {
        keyed_[*p.keyed].made = reply.run_id();
      }
      if (p.made_from) Learn(reply.run());
    }
    pending_.clear();
  }
  void Learn(const RunState& state) {
    ModelRun run;
    run.id = state.id;
    run.operation = state.operation;
    run.status = state.status;
    run.total = state.total;
    run.planned = state.planned_containers;
    runs_.push_back(std::move(run));
  }

  std::string CreatedPayload(std::string_view operation, bool member) {
    std::string data = R"({"operation":")" + std::string(operation) + R"(","datastore":{"id":"ds-)" +
                       std::to_string(Roll(5)) + (Chance(50) ? R"(","name":"Store"})" : R"("})");
    if (!member) {
      const char* triggers[] = {R"({"kind":"user","id":"alice"})", R"({"kind":"schedule","id":"nightly"})",
                                R"({"kind":"api","id":"ci"})", R"({"kind":"system","id":"platform"})"};
      data += R"(,"triggered_by":)" + std::string(triggers[Roll(4)]);
    }
    if (Chance(60)) {
      data += R"(,"config":{"depth":)" + std::to_string(Roll(10)) + R"(,"ratio":0.)" + std::to_string(Roll(100)) +
              R"(,"nested":{"list":[1,"two",null,true]}})";
    }
    const int shape = Roll(3);
    if (shape == 0) {
      data += R"(,"containers":[)";
      const int n = 1 + Roll(5);
      for (int i = 0; i < n; ++i) data += (i ? "," : "") + std::string("\"t") + std::to_string(i) + "\"";
      data += "]";
      if (Chance(20)) data += R"(,"total":)" + std::to_string(n + Roll(3));
    } else if (shape == 1) {
      data += R"(,"total":)" + std::to_string(Roll(20));
    }
    if (Chance(30)) data += R"(,"unit":"tables")";
    return data + "}";
  }

  void NewRun() {
    const std::string operation = kOperations[Roll(7)];
    const bool member = Chance(15);
    const Caller caller = member ? Caller{"mia", true} : (Chance(50) ? rt::Alice() : rt::Bob());
    CreateRunRequest request;
    request.caller = caller;
    request.data = J(CreatedPayload(operation, member));
    ModelRun run;
    run.id = RandomUuid();
    run.operation = operation;
    run.status = operation == "promote" ? "running" : "queued";
    if (const Json* c = request.data.Find("containers")) {
      for (const Json& name : c->array()) run.planned.push_back(name.string());
      run.total = static_cast<std::int64_t>(run.planned.size());
    }
    if (const Json* total = request.data.Find("total")) run.total = *total->AsSafeInteger();
    request.run_id = run.id;
    // What a repeat without the key must send: the payload as stored, with a
    // member's triggered_by filled in.
    Json stored = request.data;
    if (member) stored.Set("triggered_by", J(R"({"kind":"user","id":"mia"})"));
    run.created_payload = ledger::Canonical(stored);
    std::optional<size_t> keyed;
    if (Chance(30)) {
      request.idempotency_key_sha256 = Key();
      keyed_.push_back({runs_.size(), Action::kAbort, true, *request.idempotency_key_sha256,
                        ledger::Canonical(request.data), caller, run.id});
      keyed = keyed_.size() - 1;
    }
    const std::string what = "create " + operation;
    runs_.push_back(std::move(run));
    Submit(t_.CreateAsync(std::move(request)), Ok(), what, std::nullopt, keyed);
  }

  void Step() {
    const int dice = Roll(100);
    if (dice < 4 && !keyed_.empty()) return RetryKeyed();
    if (dice < 7) return RetryCreateWithRunId();
    if (dice < 12 && !sent_.empty()) return RetryEvent();
    ModelRun* run = nullptr;
    size_t index = 0;
    for (int tries = 0; tries < 8; ++tries) {
      index = static_cast<size_t>(Roll(static_cast<int>(runs_.size())));
      run = &runs_[index];
      if (!run->Terminal() || Chance(20)) break;  // prefer runs with a future
    }
    if (run->deleted) return OnDeleted(index);
    if (run->status == "queued") return OnQueued(index);
    if (run->status == "running") return OnRunning(index);
    return OnTerminal(index);
  }

  void Event(size_t index, std::string type, std::string data, Expectation expect, bool with_id = true,
             std::optional<std::uint32_t> if_match = std::nullopt) {
    ModelRun& run = runs_[index];
    AppendRequest request;
    request.caller = Chance(70) ? rt::Alice() : rt::Bob();
    request.run_id = run.id;
    request.type = type;
    request.data = J(data);
    request.if_match = if_match;
    if (with_id && Chance(60)) {
      request.client_event_id = "e" + std::to_string(run.next_event_id++);
      if (expect.code == Code::kOk) sent_.push_back({index, *request.client_event_id, type, data});
    }
    Submit(t_.AppendAsync(std::move(request)), std::move(expect),
           type + " " + data + " on " + run.operation + " " + run.status);
  }
  void Act(size_t index, Action action, Expectation expect, bool keyed_allowed = true) {
    ModelRun& run = runs_[index];
    ActionRequest request;
    request.caller = Chance(50) ? rt::Alice() : rt::Bob();
    request.run_id = run.id;
    request.action = action;
    if (action == Action::kAbort && Chance(50)) request.reason = "reason " + std::to_string(Roll(3));
    std::optional<size_t> keyed;
    if (keyed_allowed && action != Action::kDelete && expect.code == Code::kOk && Chance(40)) {
      request.idempotency_key_sha256 = Key();
      keyed_.push_back({index, action, false, *request.idempotency_key_sha256, request.reason.value_or(""),
                        request.caller, std::nullopt});
      keyed = keyed_.size() - 1;
    }
    const bool makes_run = expect.code == Code::kOk && (action == Action::kRerun || action == Action::kResume);
    Submit(t_.ActAsync(std::move(request)), std::move(expect),
           std::string(ActionName(action)) + " on " + run.operation + " " + run.status,
           makes_run ? std::optional<size_t>(index) : std::nullopt, keyed);
  }

  void OnDeleted(size_t index) {
    const Expectation gone = Fail(Code::kNotFound, "run_not_found");
    switch (Roll(3)) {
      case 0: return Event(index, "logged", R"({"level":"info","message":"late"})", gone, false);
      case 1: return Act(index, Action::kDelete, gone);
      default: return Act(index, Action::kRerun, gone);
    }
  }

  void OnQueued(size_t index) {
    ModelRun& run = runs_[index];
    const int dice = Roll(100);
    if (dice < 45) {
      run.status = "running";
      run.worker_started = true;
      return Event(index, "started", R"({"worker":"w)" + std::to_string(Roll(9)) + R"("})", Ok());
    }
    if (dice < 60) return Event(index, "logged", R"({"level":"debug","message":"queued"})", Ok());
    if (dice < 68) {
      run.status = "aborted";
      return Act(index, Action::kAbort, Ok());
    }
    if (dice < 72) {
      run.status = "aborted";
      return Event(index, "ended", R"({"status":"aborted","aborted_by":{"kind":"system","id":"reaper"}})", Ok());
    }
    const Expectation conflict = Fail(Code::kConflict, "invalid_transition");
    if (dice < 78) return Event(index, "progressed", R"({"processed":0})", conflict);
    if (dice < 82) return Event(index, "ended", R"({"status":"success"})", conflict);
    if (dice < 86) return Act(index, Action::kRerun, Fail(Code::kConflict, "action_not_supported"));
    if (dice < 90) return Act(index, Action::kDelete, Fail(Code::kConflict, "action_not_supported"));
    return Event(index, "logged", R"({"level":"verbose","message":"x"})",
                 Fail(Code::kUnprocessable, "schema_violation"));
  }

  std::string ProgressData(ModelRun& run) {
    std::int64_t processed = run.processed + Roll(3);
    std::optional<std::int64_t> new_total;
    if (run.total && Chance(15)) new_total = *run.total + 1 + Roll(3);
    const auto bound = new_total ? new_total : run.total;
    if (bound && processed > *bound) processed = *bound;
    std::string data = R"({"processed":)" + std::to_string(processed);
    if (new_total) data += R"(,"total":)" + std::to_string(*new_total);
    run.processed = processed;
    if (new_total) run.total = new_total;
    if (Chance(70)) {
      data += R"(,"metrics":{)";
      const int n = 1 + Roll(3);
      for (int i = 0; i < n; ++i) {
        const std::string name = kMetricNames[(i + Roll(2)) % 4];
        if (data.find("\"" + name + "\"") != std::string::npos) continue;
        const std::int64_t value = run.metrics[name] + Roll(50);
        run.metrics[name] = value;
        data += (data.back() == '{' ? "\"" : ",\"") + name + "\":" + std::to_string(value);
      }
      data += "}";
    }
    if (Chance(50)) {
      const std::string name = !run.planned.empty() && Chance(80) ? Pick(run.planned) : "extra" + std::to_string(Roll(3));
      const char* statuses[] = {"done", "done", "done", "failed", "skipped"};
      const std::string status = statuses[Roll(5)];
      run.reported[name] = status;
      data += R"(,"containers":[{"name":")" + name + R"(","status":")" + status + R"("}])";
    }
    return data + "}";
  }

  void OnRunning(size_t index) {
    ModelRun& run = runs_[index];
    const int dice = Roll(100);
    if (dice < 40) return Event(index, "progressed", ProgressData(run), Ok());
    if (dice < 52) {
      const char* levels[] = {"debug", "info", "warning", "error"};
      return Event(index, "logged",
                   R"({"level":")" + std::string(levels[Roll(4)]) + R"(","message":"line )" +
                       std::to_string(Roll(1000)) + R"(","container":"t0","fields":{"k":1}})",
                   Ok());
    }
    if (dice < 62) return End(index);
    if (dice < 65) {
      run.status = "aborted";
      return Act(index, Action::kAbort, Ok());
    }
    if (dice < 73) return BadProgress(index);
    if (dice < 77) {
      if (run.operation == "promote" && !run.worker_started) {
        run.worker_started = true;
        return Event(index, "started", R"({"worker":"promoter"})", Ok());
      }
      return Event(index, "started", R"({"worker":"again"})", Fail(Code::kConflict, "invalid_transition"));
    }
    if (dice < 81) {
      return Event(index, "logged", R"({"level":"info","message":"m"})", Fail(Code::kPreconditionFailed, "version_conflict"),
                   false, 0u);
    }
    if (dice < 85) return Act(index, Action::kDelete, Fail(Code::kConflict, "action_not_supported"));
    if (dice < 88) return Act(index, Action::kResume, Fail(Code::kConflict, "action_not_supported"));
    const char* bad[] = {R"({"status":"failure"})", R"({"status":"aborted","aborted_by":{"kind":"user","id":"u"}})",
                         R"({"status":"success","reason":"x"})"};
    return Event(index, "ended", bad[Roll(3)], Fail(Code::kUnprocessable, "schema_violation"));
  }

  void End(size_t index) {
    ModelRun& run = runs_[index];
    std::string metrics;
    if (!run.metrics.empty() && Chance(50)) {
      const std::string name = run.metrics.begin()->first;
      const std::int64_t value = run.metrics.begin()->second + 1;
      run.metrics[name] = value;
      metrics = R"(,"metrics":{")" + name + "\":" + std::to_string(value) + "}";
    }
    switch (Roll(3)) {
      case 0:
        run.status = "success";
        return Event(index, "ended", R"({"status":"success","result":{"rows":)" + std::to_string(Roll(99)) + "}" + metrics + "}", Ok());
      case 1:
        run.status = "failure";
        return Event(index, "ended", R"({"status":"failure","error":{"message":"boom","code":"E1"})" + metrics + "}", Ok());
      default:
        run.status = "aborted";
        return Event(index, "ended",
                     R"({"status":"aborted","aborted_by":{"kind":"system","id":"reaper"},"reason":"stale")" + metrics + "}",
                     Ok());
    }
  }

  void BadProgress(size_t index) {
    ModelRun& run = runs_[index];
    const Expectation conflict = Fail(Code::kConflict, "invalid_transition");
    if (run.processed > 0) {
      return Event(index, "progressed", R"({"processed":)" + std::to_string(run.processed - 1) + "}", conflict);
    }
    if (run.total) {
      return Event(index, "progressed", R"({"processed":)" + std::to_string(*run.total + 1) + "}", conflict);
    }
    for (const auto& [name, value] : run.metrics) {
      if (value > 0) {
        return Event(index, "progressed",
                     R"({"processed":0,"metrics":{")" + name + "\":" + std::to_string(value - 1) + "}}", conflict);
      }
    }
    return Event(index, "progressed", R"({"processed":-1})", Fail(Code::kUnprocessable, "schema_violation"));
  }

  void OnTerminal(size_t index) {
    ModelRun& run = runs_[index];
    const int dice = Roll(100);
    const Expectation unsupported = Fail(Code::kConflict, "action_not_supported");
    if (dice < 25) {
      run.deleted = true;
      return Act(index, Action::kDelete, Ok());
    }
    if (dice < 45) return Act(index, Action::kRerun, run.operation == "external_scan" ? unsupported : Ok());
    if (dice < 65) {
      if (!run.Resumable()) return Act(index, Action::kResume, unsupported);
      if (!run.WorkLeft()) return Act(index, Action::kResume, Fail(Code::kConflict, "nothing_to_resume"));
      return Act(index, Action::kResume, Ok());
    }
    if (dice < 80) {
      return Event(index, "logged", R"({"level":"info","message":"after"})", Fail(Code::kConflict, "invalid_transition"));
    }
    if (dice < 90) return Act(index, Action::kAbort, unsupported);
    return Event(index, "deleted", "{}", Fail(Code::kUnprocessable, "schema_violation"), false);
  }

  void RetryEvent() {
    const SentEvent& sent = Pick(sent_);
    const ModelRun& run = runs_[sent.run];
    AppendRequest request;
    request.caller = rt::Alice();
    request.run_id = run.id;
    request.client_event_id = sent.id;
    const bool same = Chance(75);
    // Another body that is still schema-valid, so the mismatch is what answers.
    request.type = same ? sent.type : "logged";
    request.data = J(same ? sent.data : R"({"level":"info","message":"another body"})");
    Expectation expect = run.deleted ? Fail(Code::kNotFound, "run_not_found")
                         : same      ? Repeated()
                                     : Fail(Code::kConflict, "idempotency_mismatch");
    Submit(t_.AppendAsync(std::move(request)), expect, "retry of event " + sent.id + " (" + sent.type + ")");
  }

  void RetryCreateWithRunId() {
    const size_t index = static_cast<size_t>(Roll(static_cast<int>(runs_.size())));
    const ModelRun& run = runs_[index];
    if (run.created_payload.empty() || run.deleted) return;
    CreateRunRequest request;
    request.caller = rt::Alice();
    request.run_id = run.id;
    const bool same = Chance(70);
    request.data = J(same ? run.created_payload : CreatedPayload("sync", false));
    if (!same && request.data == J(run.created_payload)) return;
    const std::string what = "created again with run_id " + ledger::FormatUuid(run.id) + " " +
                             ledger::Canonical(request.data) + " (stored " + run.created_payload + ")";
    Submit(t_.CreateAsync(std::move(request)), same ? Repeated() : Fail(Code::kConflict, "idempotency_mismatch"),
           what);
  }

  void RetryKeyed() {
    const size_t k = static_cast<size_t>(Roll(static_cast<int>(keyed_.size())));
    const KeyedRequest& keyed = keyed_[k];
    if (!keyed.made && keyed.action != Action::kAbort) return;  // its answer is not known yet
    const bool same = Chance(80);
    if (keyed.create) {
      CreateRunRequest request;
      request.caller = keyed.caller;
      request.data = J(same ? keyed.body : CreatedPayload("export", keyed.caller.member));
      if (!same && request.data == J(keyed.body)) return;
      request.idempotency_key_sha256 = keyed.key;
      Submit(t_.CreateAsync(std::move(request)), same ? Repeated() : Fail(Code::kUnprocessable, "idempotency_mismatch"),
             "create retried with its key", std::nullopt, k);
      return;
    }
    const ModelRun& run = runs_[keyed.run];
    ActionRequest request;
    request.caller = keyed.caller;
    request.run_id = run.id;
    request.action = keyed.action;
    request.idempotency_key_sha256 = keyed.key;
    const bool has_body = keyed.action == Action::kAbort;
    if (has_body && !keyed.body.empty()) request.reason = keyed.body;
    if (has_body && !same) request.reason = "another reason";
    Expectation expect = run.deleted             ? Fail(Code::kNotFound, "run_not_found")
                         : (same || !has_body)   ? Repeated()
                                                 : Fail(Code::kUnprocessable, "idempotency_mismatch");
    Submit(t_.ActAsync(std::move(request)), expect,
           std::string(ActionName(keyed.action)) + " retried with its key", std::nullopt, k);
  }

  rt::TestLedger& t_;
  std::mt19937_64 rng_;
  std::deque<ModelRun> runs_;
  std::vector<SentEvent> sent_;
  std::vector<KeyedRequest> keyed_;
  std::vector<Pending> pending_;
  std::uint64_t keys_ = 0;
  std::uint64_t appended_ = 0;
  size_t rejected_ = 0;
  size_t repeats_ = 0;
};

// The per-status counters, kept up through every transition and deletion,
// agree with a count of the listing.
void ExpectCountsMatchTheListing(rt::TestLedger& t) {
  std::vector<RunFilter> filters(4);
  filters[1].datastore = "ds-2";
  filters[2].operations = {"scan", "promote"};
  filters[3].visible_datastores = std::vector<std::string>{"ds-0", "ds-3"};
  for (const RunFilter& filter : filters) {
    std::map<std::string, std::int64_t> listed;
    std::optional<std::string> cursor;
    do {
      auto page = t.queries().ListRuns(filter, 1000, cursor);
      ASSERT_TRUE(page.has_value());
      for (const auto& run : page->items) ++listed[run.status];
      cursor = page->next_cursor;
    } while (cursor);
    auto counts = t.queries().CountRuns(filter);
    ASSERT_TRUE(counts.has_value());
    EXPECT_EQ(counts->queued, listed["queued"]);
    EXPECT_EQ(counts->running, listed["running"]);
    EXPECT_EQ(counts->success, listed["success"]);
    EXPECT_EQ(counts->failure, listed["failure"]);
    EXPECT_EQ(counts->aborted, listed["aborted"]);
  }
}

TEST(RebuildTest, RebuildReproducesEveryProjectionTableByteForByte) {
  rt::TestLedger t;
  Workload workload(t);
  workload.Run();
  ASSERT_FALSE(::testing::Test::HasFailure());
  workload.CheckRuns();
  EXPECT_GE(t.store().size(), kEventsMin);
  EXPECT_GE(workload.runs(), 300u);
  EXPECT_GE(workload.rejected(), 1000u);
  EXPECT_GE(workload.repeats(), 300u);
  ExpectCountsMatchTheListing(t);
  const rt::TableDump live = rt::DumpTables(t.store(), rt::ProjectionTables());

  ASSERT_TRUE(t.Reopen(/*start_committer=*/false).ok());
  const rt::TableDump reopened = rt::DumpTables(t.store(), rt::ProjectionTables());
  EXPECT_EQ(rt::FirstDifference(live, reopened), "");
  const Status rebuilt = t.store().RebuildProjections();
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.ToString();
  const rt::TableDump after = rt::DumpTables(t.store(), rt::ProjectionTables());
  EXPECT_EQ(live.size(), after.size());
  EXPECT_EQ(rt::FirstDifference(live, after), "");

  // The store still works on the rebuilt tables.
  ASSERT_TRUE(t.Reopen().ok());
  const Reply created = t.CreateRun(rt::CreatedJson("scan"));
  ASSERT_TRUE(created.ok()) << created.status.ToString();
  auto counts = t.queries().CountRuns(RunFilter());
  ASSERT_TRUE(counts.has_value());
  EXPECT_GE(counts->queued, 1);
}

// A rebuild writes each batch while it folds the next one. Runs whose events
// span many small batches, with a cache that drops committed runs after
// every batch, must still rebuild every table byte for byte.
TEST(RebuildTest, SmallBatchesAndATinyCacheRebuildTheSameBytes) {
  rt::TestLedger t;
  Workload workload(t);
  workload.Run();
  ASSERT_FALSE(::testing::Test::HasFailure());
  const rt::TableDump live = rt::DumpTables(t.store(), rt::ProjectionTables());

  ASSERT_TRUE(t.ReopenForRebuild(7).ok());
  t.ledger().SetRunCacheLimit(3);
  const Status rebuilt = t.store().RebuildProjections();
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.ToString();
  EXPECT_EQ(rt::FirstDifference(live, rt::DumpTables(t.store(), rt::ProjectionTables())), "");
}

// Removes what a store written before kProjectionFormat lacks: the format
// key, and (standing in for an older index layout) the whole listing index.
void MakeProjectionsLookOld(const std::string& data_dir) {
  const std::string path = data_dir + "/db";
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), path, descriptors, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  auto handle = [&](const std::string& name) {
    return handles[std::find(names.begin(), names.end(), name) - names.begin()];
  };
  ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), handle("run_counts"), "").ok());
  ASSERT_TRUE(db->DeleteRange(rocksdb::WriteOptions(), handle("run_index"), "", "\xff\xff").ok());
  for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  ASSERT_TRUE(db->Close().ok());
}

TEST(RebuildTest, OpeningProjectionsOfAnOlderFormatRebuildsThem) {
  rt::TestLedger t;
  for (const char* status : {"queued", "running", "success", "deleted"}) t.RunIn("scan", status);
  const rt::TableDump live = rt::DumpTables(t.store(), rt::ProjectionTables());
  t.Close();
  MakeProjectionsLookOld(t.dir());
  ASSERT_TRUE(t.Reopen(/*start_committer=*/false).ok());
  EXPECT_NE(rt::FirstDifference(live, rt::DumpTables(t.store(), rt::ProjectionTables())), "");
  ASSERT_TRUE(t.Reopen().ok());  // what `runledger serve` does
  EXPECT_EQ(rt::FirstDifference(live, rt::DumpTables(t.store(), rt::ProjectionTables())), "");
  auto page = t.queries().ListRuns(RunFilter(), 10, std::nullopt);
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->items.size(), 3u);  // the deleted run is hidden
}

TEST(RebuildTest, RebuildOfAnEmptyLedgerLeavesOnlyTheFormat) {
  rt::TestLedger t;
  ASSERT_TRUE(t.Reopen(false).ok());
  ASSERT_TRUE(t.store().RebuildProjections().ok());
  const rt::TableDump expected = {
      {kRunCountsTable, std::string(kProjectionFormatKey), std::string(kProjectionFormat)}};
  EXPECT_EQ(rt::FirstDifference(expected, rt::DumpTables(t.store(), rt::ProjectionTables())), "");
}

TEST(RebuildTest, RebuildNeedsAnOfflineStore) {
  rt::TestLedger t;
  EXPECT_FALSE(t.store().RebuildProjections().ok());
}

// Canonical JSON writes an integral double below 1e21 in full (1e20 as
// 100000000000000000000), which is outside I-JSON's safe integers: reading
// stored runs and events back must accept what the ledger itself wrote.
TEST(RebuildTest, LargeIntegralNumbersInConfigSurviveStorageAndRebuild) {
  rt::TestLedger t;
  const Reply created = t.CreateRun(rt::CreatedJson("scan", "ds-1", R"("config":{"big":1e20,"neg":-1e19})"));
  ASSERT_TRUE(created.ok()) << created.status.ToString();
  const Uuid id = created.run_id();
  auto run = t.queries().GetRun(id);
  ASSERT_TRUE(run.has_value()) << run.error().ToString();
  ASSERT_TRUE(run->has_value());
  EXPECT_EQ((*run)->config, J(R"({"big":1e20,"neg":-1e19})"));
  ASSERT_TRUE(t.Event(id, "started", R"({"worker":"w"})").ok());
  auto events = t.queries().RunEvents(id, 0, 10);
  ASSERT_TRUE(events.has_value()) << events.error().ToString();
  EXPECT_EQ(events->items.size(), 2u);
  const rt::TableDump live = rt::DumpTables(t.store(), rt::ProjectionTables());
  ASSERT_TRUE(t.Reopen(false).ok());
  const Status rebuilt = t.store().RebuildProjections();
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.ToString();
  EXPECT_EQ(rt::FirstDifference(live, rt::DumpTables(t.store(), rt::ProjectionTables())), "");
}

}  // namespace
}  // namespace runledger::projections
