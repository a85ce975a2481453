// The write routes of SPEC section 4 against the real server, and every row
// of its condition table: status, problem body, and that a rejected request
// appends nothing.

#include "server/api.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "ledger/fault_injection.h"
#include "ledger/time.h"
#include "tests/testing/server_harness.h"

namespace runledger::server {
namespace {

using ledger::Json;
using runledger::testing::Append;
using runledger::testing::CreatedBody;
using runledger::testing::CreateRun;
using runledger::testing::IsProblem;
using runledger::testing::Num;
using runledger::testing::ParseBody;
using runledger::testing::RunIn;
using runledger::testing::Str;
using runledger::testing::Strings;

bool IsLowerHex(std::string_view text, size_t size) {
  return text.size() == size &&
         text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

class ApiTest : public runledger::testing::ServerTest {};

TEST_F(ApiTest, CreateRunAnswers201WithStateLocationAndPosition) {
  const Response r =
      admin().Send("POST", "/v1/runs", CreatedBody("scan", "ds1", R"("containers":["a","b"])"),
                   {{"X-Request-Id", "create-1"}});
  ASSERT_EQ(r.result_int(), 201) << r.body();
  EXPECT_EQ(r[http::field::content_type], "application/json");
  EXPECT_EQ(r["X-Request-Id"], "create-1");
  EXPECT_EQ(r["X-Ledger-Position"], "1");
  const Json run = ParseBody(r);
  const std::string id = Str(run, "id");
  EXPECT_EQ(r[http::field::location], "/v1/runs/" + id);
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '7') << "server-made ids are UUIDv7";
  std::vector<std::string> keys;
  for (const auto& [key, value] : run.object()) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "aborted_by", "actions",      "config",     "containers", "created_at",
                      "datastore",  "duration_ms",  "ended_at",   "error",      "id",
                      "log_count",  "metrics",      "operation",  "progress",   "rerun_of",
                      "result",     "resumed_from", "started_at", "status",     "triggered_by",
                      "version",    "warning",      "worker"}));
  EXPECT_EQ(Str(run, "status"), "queued");
  EXPECT_EQ(Num(run, "version"), 1);
  EXPECT_EQ(Strings(run.Find("actions")), std::vector<std::string>{"abort"});
  EXPECT_EQ(*run.Find("progress"), ParseBody(R"({"processed":0,"total":2,"unit":"containers"})"));
  EXPECT_EQ(*run.Find("triggered_by"), ParseBody(R"({"kind":"api","id":"ci"})"));
  EXPECT_EQ(*run.Find("datastore"), ParseBody(R"({"id":"ds1","name":null})"));
  EXPECT_EQ(*run.Find("config"), ParseBody("{}"));
  EXPECT_TRUE(run.Find("ended_at")->is_null());
  EXPECT_TRUE(run.Find("duration_ms")->is_null());
}

TEST_F(ApiTest, GetRunSendsItsVersionAsETag) {
  const std::string id = RunIn(admin(), "running");
  const Response r = As("viewer").Send("GET", "/v1/runs/" + id);
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(r[http::field::etag], "\"2\"");
  EXPECT_EQ(r[http::field::content_type], "application/json");
  const Json run = ParseBody(r);
  EXPECT_EQ(Str(run, "status"), "running");
  EXPECT_EQ(Str(run, "worker"), "w1");
  EXPECT_EQ(Num(run, "version"), 2);
}

TEST_F(ApiTest, RepeatedCreateWithClientRunIdReturnsTheRunOrConflicts) {
  const std::string run_id = "0190a5c8-1111-4111-8111-000000000001";
  const std::string body = R"({"run_id":")" + run_id + R"(",)" + CreatedBody().substr(1);
  const Response first = As("worker").Send("POST", "/v1/runs", body);
  ASSERT_EQ(first.result_int(), 201) << first.body();
  EXPECT_EQ(first[http::field::location], "/v1/runs/" + run_id);
  const std::uint64_t events = EventCount();
  const Response again = As("worker").Send("POST", "/v1/runs", body);
  EXPECT_EQ(again.result_int(), 200) << again.body();
  EXPECT_EQ(Str(ParseBody(again), "id"), run_id);
  const std::string other = R"({"run_id":")" + run_id + R"(",)" + CreatedBody("profile").substr(1);
  EXPECT_TRUE(IsProblem(As("worker").Send("POST", "/v1/runs", other), 409, "idempotency_mismatch"));
  EXPECT_EQ(EventCount(), events);
}

TEST_F(ApiTest, AppendEventAnswers201WithTheStoredEvent) {
  const std::string id = RunIn(admin(), "running");
  const Response r = Append(As("worker"), id, "progressed",
                            R"({"processed":1,"metrics":{"records_scanned":10}})", "p-1");
  ASSERT_EQ(r.result_int(), 201) << r.body();
  EXPECT_EQ(r["X-Ledger-Position"], "3");
  const Json event = ParseBody(r);
  EXPECT_EQ(Str(event, "type"), "progressed");
  EXPECT_EQ(Str(event, "run_id"), id);
  EXPECT_EQ(Str(event, "id"), "p-1");
  EXPECT_EQ(Str(event, "principal"), "worker");
  EXPECT_EQ(Num(event, "seq"), 3);
  EXPECT_EQ(Num(event, "position"), 3);
  EXPECT_EQ(Num(event, "v"), 1);
  EXPECT_TRUE(IsLowerHex(Str(event, "hash"), 64)) << Str(event, "hash");
  EXPECT_TRUE(ledger::ParseRfc3339Ms(Str(event, "recorded_at")).has_value());
  EXPECT_EQ(Str(event, "recorded_at").size(), 24u);  // YYYY-MM-DDTHH:MM:SS.mmmZ
  EXPECT_EQ(event.Find("occurred_at"), nullptr) << "absent optional fields are left out";
  EXPECT_EQ(*event.Find("data"), ParseBody(R"({"processed":1,"metrics":{"records_scanned":10}})"));
}

TEST_F(ApiTest, RepeatedEventIdReturnsTheStoredEventOrConflicts) {
  const std::string id = RunIn(admin(), "running");
  const Response first =
      Append(As("worker"), id, "logged", R"({"level":"info","message":"hi"})", "l-1");
  ASSERT_EQ(first.result_int(), 201);
  const std::uint64_t events = EventCount();
  const Response again =
      Append(As("worker"), id, "logged", R"({"level":"info","message":"hi"})", "l-1");
  EXPECT_EQ(again.result_int(), 200);
  EXPECT_EQ(again.body(), first.body());
  EXPECT_EQ(again["X-Ledger-Position"], first["X-Ledger-Position"]);
  EXPECT_TRUE(
      IsProblem(Append(As("worker"), id, "logged", R"({"level":"info","message":"ho"})", "l-1"),
                409, "idempotency_mismatch"));
  EXPECT_EQ(EventCount(), events);
}

TEST_F(ApiTest, IfMatchMakesTheAppendConditional) {
  const std::string id = RunIn(admin(), "running");
  const std::string target = "/v1/runs/" + id + "/events";
  const std::string body = R"({"type":"progressed","data":{"processed":1}})";
  const std::uint64_t events = EventCount();
  EXPECT_TRUE(IsProblem(As("worker").Send("POST", target, body, {{"If-Match", "\"1\""}}), 412,
                        "version_conflict"));
  EXPECT_EQ(EventCount(), events);
  const Response ok = As("worker").Send("POST", target, body, {{"If-Match", "\"2\""}});
  EXPECT_EQ(ok.result_int(), 201) << ok.body();
  EXPECT_EQ(Num(ParseBody(ok), "seq"), 3);
}

TEST_F(ApiTest, EventTheStateDoesNotAllowIs409WithStatusAndActions) {
  const std::string id = RunIn(admin(), "queued");
  const std::uint64_t events = EventCount();
  const Response r = Append(As("worker"), id, "progressed", R"({"processed":1})");
  ASSERT_TRUE(IsProblem(r, 409, "invalid_transition"));
  const Json problem = ParseBody(r);
  EXPECT_EQ(Str(problem, "current_status"), "queued");
  EXPECT_EQ(Strings(problem.Find("allowed_actions")), std::vector<std::string>{"abort"});
  EXPECT_TRUE(IsProblem(Append(As("worker"), id, "ended", R"({"status":"success"})"), 409,
                        "invalid_transition"));
  const std::string running = RunIn(admin(), "running");
  EXPECT_TRUE(IsProblem(Append(As("worker"), running, "progressed", R"({"processed":4})"), 409,
                        "invalid_transition"))
      << "processed above total";
  EXPECT_EQ(EventCount(), events + 2);  // the running run's two events
}

TEST_F(ApiTest, IdempotencyConflictsCarryCurrentStatusAndActionsToo) {
  const std::string id = RunIn(admin(), "running");
  ASSERT_EQ(
      Append(As("worker"), id, "logged", R"({"level":"info","message":"a"})", "l-1").result_int(),
      201);
  Response r = Append(As("worker"), id, "logged", R"({"level":"info","message":"b"})", "l-1");
  ASSERT_TRUE(IsProblem(r, 409, "idempotency_mismatch"));
  EXPECT_EQ(Str(ParseBody(r), "current_status"), "running");
  EXPECT_EQ(Strings(ParseBody(r).Find("allowed_actions")), std::vector<std::string>{"abort"});

  const std::string run_id = "0190a5c8-1111-4111-8111-000000000009";
  const std::string body = R"({"run_id":")" + run_id + R"(",)" + CreatedBody().substr(1);
  ASSERT_EQ(As("worker").Send("POST", "/v1/runs", body).result_int(), 201);
  r = As("worker").Send("POST", "/v1/runs",
                        R"({"run_id":")" + run_id + R"(",)" + CreatedBody("sync").substr(1));
  ASSERT_TRUE(IsProblem(r, 409, "idempotency_mismatch"));
  EXPECT_EQ(Str(ParseBody(r), "current_status"), "queued");
  EXPECT_EQ(Strings(ParseBody(r).Find("allowed_actions")), std::vector<std::string>{"abort"});
}

TEST_F(ApiTest, ActionTheStateOrOperationDoesNotAllowIs409) {
  const std::string success = RunIn(admin(), "success");
  const std::uint64_t events = EventCount();
  Response r = admin().Send("POST", "/v1/runs/" + success + "/abort");
  ASSERT_TRUE(IsProblem(r, 409, "action_not_supported"));
  EXPECT_EQ(Str(ParseBody(r), "current_status"), "success");
  EXPECT_EQ(Strings(ParseBody(r).Find("allowed_actions")),
            (std::vector<std::string>{"rerun", "delete"}));
  EXPECT_TRUE(IsProblem(admin().Send("POST", "/v1/runs/" + success + "/resume"), 409,
                        "action_not_supported"));
  const std::string running = RunIn(admin(), "running");
  r = admin().Send("DELETE", "/v1/runs/" + running);
  ASSERT_TRUE(IsProblem(r, 409, "action_not_supported"));
  EXPECT_EQ(Strings(ParseBody(r).Find("allowed_actions")), std::vector<std::string>{"abort"});
  const std::string sync = RunIn(admin(), "failure", "sync");
  EXPECT_TRUE(
      IsProblem(admin().Send("POST", "/v1/runs/" + sync + "/resume"), 409, "action_not_supported"));
  const std::string external = RunIn(admin(), "success", "external_scan");
  r = admin().Send("POST", "/v1/runs/" + external + "/rerun");
  ASSERT_TRUE(IsProblem(r, 409, "action_not_supported"));
  EXPECT_EQ(Strings(ParseBody(r).Find("allowed_actions")), std::vector<std::string>{"delete"});
  EXPECT_EQ(EventCount(), events + 2 + 3 + 3);  // only the runs made meanwhile
}

TEST_F(ApiTest, AbortAnswersTheRunAbortedByTheCaller) {
  const std::string id = RunIn(admin(), "running");
  const Response r =
      As("editor").Send("POST", "/v1/runs/" + id + "/abort", R"({"reason":"not needed"})");
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(r["X-Ledger-Position"], "3");
  const Json run = ParseBody(r);
  EXPECT_EQ(Str(run, "status"), "aborted");
  EXPECT_EQ(*run.Find("aborted_by"), ParseBody(R"({"kind":"user","id":"editor"})"));
  EXPECT_EQ(Strings(run.Find("actions")), (std::vector<std::string>{"resume", "rerun", "delete"}));
  EXPECT_TRUE(run.Find("duration_ms")->is_number());
  const Response events = admin().Send("GET", "/v1/runs/" + id + "/events?after_seq=2");
  const Json ended = ParseBody(events).Find("items")->array().at(0);
  EXPECT_EQ(Str(*ended.Find("data"), "reason"), "not needed");
}

TEST_F(ApiTest, RerunAnswers201WithTheNewRun) {
  const std::string old_id = RunIn(admin(), "success");
  const Response r = As("editor").Send("POST", "/v1/runs/" + old_id + "/rerun");
  ASSERT_EQ(r.result_int(), 201) << r.body();
  const Json run = ParseBody(r);
  EXPECT_NE(Str(run, "id"), old_id);
  EXPECT_EQ(r[http::field::location], "/v1/runs/" + Str(run, "id"));
  EXPECT_FALSE(r["X-Ledger-Position"].empty());
  EXPECT_EQ(Str(run, "rerun_of"), old_id);
  EXPECT_EQ(Str(run, "status"), "queued");
  EXPECT_EQ(*run.Find("triggered_by"), ParseBody(R"({"kind":"user","id":"editor"})"));
  EXPECT_EQ(Num(*run.Find("progress"), "total"), 3);
}

TEST_F(ApiTest, ResumeCoversTheContainersNotDone) {
  const std::string old_id = CreateRun(admin());
  ASSERT_EQ(Append(admin(), old_id, "started", R"({"worker":"w"})").result_int(), 201);
  ASSERT_EQ(
      Append(
          admin(), old_id, "progressed",
          R"({"processed":2,"containers":[{"name":"a","status":"done"},{"name":"b","status":"failed"}]})")
          .result_int(),
      201);
  ASSERT_EQ(Append(admin(), old_id, "ended", R"({"status":"failure","error":{"message":"x"}})")
                .result_int(),
            201);
  const Response r = admin().Send("POST", "/v1/runs/" + old_id + "/resume");
  ASSERT_EQ(r.result_int(), 201) << r.body();
  const Json run = ParseBody(r);
  EXPECT_EQ(Str(run, "resumed_from"), old_id);
  EXPECT_EQ(r[http::field::location], "/v1/runs/" + Str(run, "id"));
  const Response events = admin().Send("GET", "/v1/runs/" + Str(run, "id") + "/events");
  const Json created = ParseBody(events).Find("items")->array().at(0);
  EXPECT_EQ(Strings(created.Find("data")->Find("containers")),
            (std::vector<std::string>{"b", "c"}));

  const std::string done = CreateRun(admin(), CreatedBody("scan", "ds1", R"("containers":["a"])"));
  ASSERT_EQ(Append(admin(), done, "started", R"({"worker":"w"})").result_int(), 201);
  ASSERT_EQ(Append(admin(), done, "progressed",
                   R"({"processed":1,"containers":[{"name":"a","status":"done"}]})")
                .result_int(),
            201);
  ASSERT_EQ(Append(admin(), done, "ended", R"({"status":"failure","error":{"message":"x"}})")
                .result_int(),
            201);
  const Response nothing = admin().Send("POST", "/v1/runs/" + done + "/resume");
  EXPECT_TRUE(IsProblem(nothing, 409, "nothing_to_resume"));
  EXPECT_EQ(Str(ParseBody(nothing), "current_status"), "failure");
}

TEST_F(ApiTest, DeleteAnswers204ThenTheRunIs404OnEveryRoute) {
  const std::string id = RunIn(admin(), "success");
  const Response r = As("editor").Send("DELETE", "/v1/runs/" + id, R"({"reason":"gdpr"})");
  EXPECT_EQ(r.result_int(), 204);
  EXPECT_TRUE(r.body().empty());
  EXPECT_FALSE(r["X-Ledger-Position"].empty());
  const std::string run = "/v1/runs/" + id;
  for (const std::string& target : {run, run + "/events", run + "/logs", run + "/history",
                                    run + "?at_seq=1", run + "?as_of=2100-01-01T00:00:00Z"}) {
    EXPECT_TRUE(IsProblem(admin().Send("GET", target), 404, "run_not_found")) << target;
  }
  EXPECT_TRUE(IsProblem(admin().Send("DELETE", run), 404, "run_not_found"));
  EXPECT_TRUE(IsProblem(admin().Send("POST", run + "/rerun"), 404, "run_not_found"));
  EXPECT_TRUE(IsProblem(Append(As("worker"), id, "logged", R"({"level":"info","message":"x"})"),
                        404, "run_not_found"));
  EXPECT_EQ(admin().Send("GET", "/v1/runs").body().find(id), std::string::npos);
}

TEST_F(ApiTest, UnknownRunIs404) {
  const std::string run = "/v1/runs/0190a5c8-2222-4222-8222-000000000002";
  for (const std::string& target : {run, run + "/events", run + "/logs", run + "/history",
                                    std::string("/v1/runs/not-a-run-id")}) {
    EXPECT_TRUE(IsProblem(admin().Send("GET", target), 404, "run_not_found")) << target;
  }
  EXPECT_TRUE(IsProblem(admin().Send("POST", run + "/abort"), 404, "run_not_found"));
  EXPECT_TRUE(IsProblem(admin().Send("DELETE", run), 404, "run_not_found"));
  EXPECT_TRUE(IsProblem(
      As("worker").Send("POST", run + "/events", R"({"type":"started","data":{"worker":"w"}})"),
      404, "run_not_found"));
}

TEST_F(ApiTest, MalformedJsonIs400AndAppendsNothing) {
  const std::string id = RunIn(admin(), "running");
  const std::uint64_t events = EventCount();
  EXPECT_TRUE(IsProblem(admin().Send("POST", "/v1/runs", R"({"operation":)"), 400, "bad_request"));
  EXPECT_TRUE(IsProblem(admin().Send("POST", "/v1/runs/" + id + "/events", "not json"), 400,
                        "bad_request"));
  EXPECT_TRUE(
      IsProblem(admin().Send("POST", "/v1/runs/" + id + "/abort", "{"), 400, "bad_request"));
  EXPECT_EQ(EventCount(), events);
}

TEST_F(ApiTest, BadQueryParametersAre400) {
  const std::string run = "/v1/runs/" + RunIn(admin(), "running");
  for (const std::string& target : {std::string("/v1/runs?limit=0"),
                                    std::string("/v1/runs?limit=1001"),
                                    std::string("/v1/runs?limit=ten"),
                                    std::string("/v1/runs?status=done"),
                                    std::string("/v1/runs?operation=copy"),
                                    std::string("/v1/runs?warning=yes"),
                                    std::string("/v1/runs?created_after=yesterday"),
                                    std::string("/v1/runs?rerun_of=nope"),
                                    std::string("/v1/runs/counts?operation=copy"),
                                    run + "/events?after_seq=-1",
                                    run + "/events?limit=0",
                                    run + "/logs?level=loud",
                                    run + "/history?limit=5000",
                                    std::string("/v1/events?after=x"),
                                    std::string("/v1/events?limit=0"),
                                    std::string("/v1/events?from=yesterday"),
                                    std::string("/v1/events?run_id=nope"),
                                    run + "?at_seq=0",
                                    run + "?at_seq=3",
                                    run + "?as_of=last-week",
                                    run + "?at_seq=1&as_of=2100-01-01T00:00:00Z"}) {
    EXPECT_TRUE(IsProblem(admin().Send("GET", target), 400, "bad_request")) << target;
  }
}

TEST_F(ApiTest, MalformedCursorIs400) {
  RunIn(admin(), "queued");
  RunIn(admin(), "queued");
  const Json page = ParseBody(admin().Send("GET", "/v1/runs?limit=1"));
  ASSERT_TRUE(page.Find("next_cursor") && page.Find("next_cursor")->is_string());
  EXPECT_EQ(admin()
                .Send("GET", "/v1/runs?limit=1&cursor=" + page.Find("next_cursor")->string())
                .result_int(),
            200);
  EXPECT_TRUE(IsProblem(admin().Send("GET", "/v1/runs?cursor=garbage"), 400, "bad_request"));
}

TEST_F(ApiTest, MissingOrUnknownTokenIs401) {
  const std::uint64_t events = EventCount();
  Response r = As("anonymous").Send("GET", "/v1/runs");
  EXPECT_TRUE(IsProblem(r, 401, "unauthorized"));
  EXPECT_EQ(r[http::field::www_authenticate], "Bearer");
  EXPECT_TRUE(
      IsProblem(As("anonymous").Send("POST", "/v1/runs", CreatedBody()), 401, "unauthorized"));
  EXPECT_TRUE(IsProblem(
      As("anonymous").Send("GET", "/v1/me", "", {{"Authorization", "Bearer token-nobody"}}), 401,
      "unauthorized"));
  EXPECT_TRUE(
      IsProblem(As("anonymous").Send("GET", "/v1/me", "", {{"Authorization", "Basic YTpi"}}), 401,
                "unauthorized"));
  EXPECT_EQ(EventCount(), events);
}

TEST_F(ApiTest, BodyOverOneMiBIs413AndAppendsNothing) {
  const std::string id = RunIn(admin(), "running");
  const std::uint64_t events = EventCount();
  const std::string big =
      CreatedBody("scan", "ds1", R"("config":{"pad":")" + std::string(1 << 20, 'x') + "\"}");
  Response r = admin().Send("POST", "/v1/runs", big);
  EXPECT_TRUE(IsProblem(r, 413, "payload_too_large"));
  r = As("worker").Send(
      "POST", "/v1/runs/" + id + "/events",
      R"({"type":"logged","data":{"level":"info","message":"m","fields":{"pad":")" +
          std::string((1 << 20) + 1, 'x') + "\"}}}");
  EXPECT_TRUE(IsProblem(r, 413, "payload_too_large"));
  EXPECT_EQ(EventCount(), events);
  // Just under the limit is served.
  const std::string under = CreatedBody(
      "scan", "ds1", R"("config":{"pad":")" + std::string((1 << 20) - 200, 'x') + "\"}");
  ASSERT_LE(under.size(), 1u << 20);
  EXPECT_EQ(admin().Send("POST", "/v1/runs", under).result_int(), 201);
}

TEST_F(ApiTest, WrongContentTypeIs415) {
  const std::string id = RunIn(admin(), "running");
  const std::uint64_t events = EventCount();
  EXPECT_TRUE(
      IsProblem(admin().Send("POST", "/v1/runs", CreatedBody(), {{"Content-Type", "text/plain"}}),
                415, "unsupported_media_type"));
  EXPECT_TRUE(IsProblem(As("worker").Send("POST", "/v1/runs/" + id + "/events",
                                          R"({"type":"started","data":{"worker":"w"}})",
                                          {{"Content-Type", "application/x-www-form-urlencoded"}}),
                        415, "unsupported_media_type"));
  EXPECT_TRUE(IsProblem(
      admin().Send("POST", "/v1/runs/" + id + "/abort", "{}", {{"Content-Type", "text/plain"}}),
      415, "unsupported_media_type"));
  EXPECT_EQ(EventCount(), events);
}

TEST_F(ApiTest, SchemaAndIJsonViolationsAre422AndAppendNothing) {
  const std::string id = RunIn(admin(), "running");
  const std::string events_route = "/v1/runs/" + id + "/events";
  const std::uint64_t events = EventCount();
  for (const std::string& body : {
           CreatedBody("scan", "ds1", R"("colour":"blue")"),
           std::string(R"({"datastore":{"id":"ds1"},"triggered_by":{"kind":"api","id":"ci"}})"),
           CreatedBody("scan", "ds1", R"("rerun_of":"0190a5c8-2222-4222-8222-000000000002")"),
           CreatedBody("scan", "ds1", R"("operation":"scan")"),  // a duplicate key
           CreatedBody("scan", "ds1", R"("config":{"n":9007199254740992})"),
           CreatedBody("scan", "ds1", R"("config":{"deep":[{"n":-9007199254740992}]})"),
           CreatedBody("scan", "ds1", R"("config":{"n":1e400})"),
       }) {
    EXPECT_TRUE(IsProblem(admin().Send("POST", "/v1/runs", body), 422, "schema_violation")) << body;
  }
  for (
      const std::string& body : {
          std::string(R"({"type":"progressed","data":{"processed":1},"seq":9})"),
          std::string(R"({"type":"deleted","data":{}})"),
          std::string(R"({"type":"logged","data":{"level":"info","message":"m","message":"n"}})"),
          std::string(
              R"({"type":"ended","data":{"status":"aborted","aborted_by":{"kind":"user","id":"u"}}})"),
      }) {
    EXPECT_TRUE(IsProblem(As("worker").Send("POST", events_route, body), 422, "schema_violation"))
        << body;
  }
  EXPECT_EQ(EventCount(), events);
  // The largest safe integer is fine.
  EXPECT_EQ(admin()
                .Send("POST", "/v1/runs",
                      CreatedBody("scan", "ds1", R"("config":{"n":9007199254740991})"))
                .result_int(),
            201);
}

TEST_F(ApiTest, HeadersOver16KiBAre431) {
  EXPECT_TRUE(IsProblem(admin().Send("GET", "/v1/me", "", {{"X-Pad", std::string(17 * 1024, 'x')}}),
                        431, "headers_too_large"));
  EXPECT_EQ(
      admin().Send("GET", "/v1/me", "", {{"X-Pad", std::string(15 * 1024, 'x')}}).result_int(),
      200);
}

TEST_F(ApiTest, EveryResponseCarriesTheRequestId) {
  Response r = admin().Send("GET", "/v1/me", "", {{"X-Request-Id", "req-42"}});
  EXPECT_EQ(r["X-Request-Id"], "req-42");
  r = admin().Send("GET", "/v1/runs/0190a5c8-2222-4222-8222-000000000002", "",
                   {{"X-Request-Id", "req-43"}});
  EXPECT_TRUE(IsProblem(r, 404, "run_not_found"));
  EXPECT_EQ(r["X-Request-Id"], "req-43");
  r = As("editor").Send("DELETE", "/v1/runs/" + RunIn(admin(), "success"), "",
                        {{"X-Request-Id", "req-44"}});
  EXPECT_EQ(r.result_int(), 204);
  EXPECT_EQ(r["X-Request-Id"], "req-44");
  // An id that is too long or not visible ASCII is replaced.
  r = admin().Send("GET", "/v1/me", "", {{"X-Request-Id", std::string(200, 'a')}});
  EXPECT_FALSE(r["X-Request-Id"].empty());
  EXPECT_NE(r["X-Request-Id"], std::string(200, 'a'));
  const std::string made = std::string(admin().Send("GET", "/healthz")["X-Request-Id"]);
  EXPECT_FALSE(made.empty());
  EXPECT_NE(std::string(admin().Send("GET", "/healthz")["X-Request-Id"]), made);
}

TEST_F(ApiTest, DefaultPageLimitsAre50RunsAnd100Events) {
  std::string bulk;
  for (int i = 0; i < 110; ++i) {
    char run_id[37];
    std::snprintf(run_id, sizeof run_id, "0190a5c8-4444-4444-8444-%012d", i);
    bulk += R"({"run_id":")" + std::string(run_id) + R"(","id":"c","type":"created","data":)" +
            CreatedBody() + "}\n";
  }
  ASSERT_EQ(As("worker")
                .Send("POST", "/v1/events", bulk, {{"Content-Type", "application/x-ndjson"}})
                .result_int(),
            200);
  const Json runs = ParseBody(admin().Send("GET", "/v1/runs"));
  EXPECT_EQ(runs.Find("items")->array().size(), 50u);
  EXPECT_TRUE(runs.Find("next_cursor")->is_string());
  const Json events = ParseBody(As("auditor").Send("GET", "/v1/events"));
  EXPECT_EQ(events.Find("items")->array().size(), 100u);
  EXPECT_EQ(Num(events, "next_after"), 100);
  EXPECT_EQ(
      ParseBody(As("auditor").Send("GET", "/v1/events?limit=1000")).Find("items")->array().size(),
      110u);
}

class SmallBulkLimitTest : public runledger::testing::ServerTest {
 protected:
  runledger::testing::TestServerOptions Options() override {
    auto options = ServerTest::Options();
    options.api.bulk_body_limit_bytes = 256 * 1024;
    return options;
  }
};

TEST_F(SmallBulkLimitTest, BulkBodyOverItsLimitIs413) {
  std::string line =
      R"({"run_id":"0190a5c8-4444-4444-8444-000000000001","id":"c","type":"created","data":)" +
      CreatedBody("scan", "ds1", R"("config":{"pad":")" + std::string(200 * 1024, 'x') + "\"}") +
      "}\n";
  EXPECT_EQ(As("worker")
                .Send("POST", "/v1/events", line, {{"Content-Type", "application/x-ndjson"}})
                .result_int(),
            200);
  EXPECT_TRUE(IsProblem(As("worker").Send("POST", "/v1/events", line + line,
                                          {{"Content-Type", "application/x-ndjson"}}),
                        413, "payload_too_large"));
}

class FaultyStoreTest : public runledger::testing::ServerTest {
 protected:
  runledger::testing::TestServerOptions Options() override {
    auto options = ServerTest::Options();
    options.store.faults = faults_;
    return options;
  }
  std::shared_ptr<ledger::FaultInjector> faults_ = std::make_shared<ledger::FaultInjector>();
};

TEST_F(FaultyStoreTest, AStoreThatCannotWriteAnswers503UntilItRecovers) {
  const std::string id = RunIn(admin(), "running");
  faults_->Set(ledger::FaultInjector::Fault::kIOError);
  const Response refused = Append(As("worker"), id, "logged", R"({"level":"info","message":"m"})");
  ASSERT_TRUE(IsProblem(refused, 503, "unavailable"));
  EXPECT_EQ(refused.body().find("batch"), std::string::npos) << "no internals: " << refused.body();
  Response health = As("anonymous").Send("GET", "/healthz");
  EXPECT_EQ(health.result_int(), 503);
  EXPECT_EQ(ParseBody(health), ParseBody(R"({"status":"unavailable"})"));
  EXPECT_TRUE(IsProblem(admin().Send("POST", "/v1/runs", CreatedBody()), 503, "unavailable"));
  EXPECT_EQ(admin().Send("GET", "/v1/runs/" + id).result_int(), 200) << "reads keep working";
  faults_->Set(ledger::FaultInjector::Fault::kNone);
  EXPECT_TRUE(runledger::testing::WaitFor([&] {
    return Append(As("worker"), id, "logged", R"({"level":"info","message":"m"})").result_int() ==
           201;
  }));
  EXPECT_EQ(As("anonymous").Send("GET", "/healthz").result_int(), 200);
  EXPECT_EQ(EventCount(), 3u);
}

}  // namespace
}  // namespace runledger::server
