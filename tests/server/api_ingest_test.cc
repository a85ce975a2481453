// Retries that must never duplicate: bulk NDJSON ingest (POST /v1/events),
// client event ids, and Idempotency-Key on POST /v1/runs and the actions.

#include <gtest/gtest.h>

#include "tests/testing/server_harness.h"

namespace runledger::server {
namespace {

using ledger::Json;
using runledger::testing::CreatedBody;
using runledger::testing::IsProblem;
using runledger::testing::Num;
using runledger::testing::ParseBody;
using runledger::testing::RunIn;
using runledger::testing::Str;

constexpr std::string_view kRunId = "0190a5c8-3333-4333-8333-000000000003";

std::string Line(std::string_view members) {
  return R"({"run_id":")" + std::string(kRunId) + R"(",)" + std::string(members) + "}";
}

std::vector<Json> ResultLines(const Response& response) {
  std::vector<Json> lines;
  const std::string& body = response.body();
  for (size_t start = 0; start < body.size();) {
    size_t end = body.find('\n', start);
    if (end == std::string::npos) end = body.size();
    if (end > start) lines.push_back(ParseBody(std::string_view(body).substr(start, end - start)));
    start = end + 1;
  }
  return lines;
}

Response PostBulk(runledger::testing::HttpClient& client, const std::string& body) {
  return client.Send("POST", "/v1/events", body, {{"Content-Type", "application/x-ndjson"}});
}

class IngestTest : public runledger::testing::ServerTest {
 protected:
  // Runs listed with ?rerun_of= / all, counted.
  size_t RunCount(const std::string& query = "") {
    const Json page = ParseBody(admin().Send("GET", "/v1/runs?limit=1000" + query));
    const Json* items = page.Find("items");
    return items && items->is_array() ? items->array().size() : 0;
  }
};

TEST_F(IngestTest, BulkAnswersEveryLineInOrderAndJudgesEachAlone) {
  const std::string body =
      Line(R"("type":"created","id":"c","data":)" + CreatedBody()) + "\n" +                // 1
      "\n" +                                                                               // 2
      Line(R"("type":"started","id":"s","data":{"worker":"w"})") + "\n" +                  // 3
      R"({"run_id":")" + std::string(kRunId) + R"(","type":)" + "\n" +                     // 4
      Line(R"("type":"logged","data":{"level":"info","message":"no id"})") + "\n" +        // 5
      Line(R"("type":"logged","id":"l","data":{"level":"info","message":"hi"})") + "\n" +  // 6
      Line(R"("type":"progressed","id":"p","data":{"processed":5})") + "\n";               // 7
  const Response r = PostBulk(As("worker"), body);
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(r[http::field::content_type], "application/x-ndjson");
  const std::vector<Json> results = ResultLines(r);
  ASSERT_EQ(results.size(), 6u) << r.body();
  const std::vector<double> lines = {1, 3, 4, 5, 6, 7};
  const std::vector<double> statuses = {201, 201, 400, 422, 201, 409};
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(Num(results[i], "line"), lines[i]) << i;
    EXPECT_EQ(Num(results[i], "status"), statuses[i]) << i;
  }
  EXPECT_EQ(Str(results[0], "run_id"), kRunId);
  EXPECT_EQ(Num(results[0], "seq"), 1);
  EXPECT_EQ(Num(results[0], "position"), 1);
  EXPECT_EQ(Str(results[0], "hash").size(), 64u);
  EXPECT_EQ(Num(results[1], "seq"), 2);
  EXPECT_EQ(Num(results[4], "seq"), 3);
  EXPECT_EQ(Num(results[4], "position"), 3);
  EXPECT_EQ(Str(results[2], "code"), "bad_request");
  EXPECT_EQ(Str(results[3], "code"), "schema_violation");
  EXPECT_EQ(Str(results[5], "code"), "invalid_transition");
  for (size_t i : {2, 3, 5}) EXPECT_EQ(Str(results[i], "request_id"), r["X-Request-Id"]) << i;
  EXPECT_EQ(EventCount(), 3u);

  // The client retries the whole body: nothing is appended twice.
  const Response retry = PostBulk(As("worker"), body);
  ASSERT_EQ(retry.result_int(), 200);
  const std::vector<Json> again = ResultLines(retry);
  ASSERT_EQ(again.size(), 6u) << retry.body();
  for (size_t i : {0, 1, 4}) {
    EXPECT_EQ(Num(again[i], "status"), 200) << i;
    EXPECT_EQ(Num(again[i], "position"), Num(results[i], "position")) << i;
    EXPECT_EQ(Str(again[i], "hash"), Str(results[i], "hash")) << i;
  }
  for (size_t i : {2, 3, 5}) EXPECT_EQ(Num(again[i], "status"), statuses[i]) << i;
  EXPECT_EQ(EventCount(), 3u);
}

TEST_F(IngestTest, BulkLineOverOneMiBIs413ForThatLineOnly) {
  const std::string body =
      Line(R"("type":"created","id":"c","data":)" + CreatedBody()) + "\n" +
      Line(R"("type":"logged","id":"big","data":{"level":"info","message":"m","fields":{"pad":")" +
           std::string(1 << 20, 'x') + R"("}})") +
      "\n" + Line(R"("type":"started","id":"s","data":{"worker":"w"})") + "\n";
  const Response r = PostBulk(As("worker"), body);
  ASSERT_EQ(r.result_int(), 200) << r.body().substr(0, 300);
  const std::vector<Json> results = ResultLines(r);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(Num(results[0], "status"), 201);
  EXPECT_EQ(Num(results[1], "status"), 413);
  EXPECT_EQ(Str(results[1], "code"), "payload_too_large");
  EXPECT_EQ(Num(results[1], "line"), 2);
  EXPECT_EQ(Num(results[2], "status"), 201);
  EXPECT_EQ(EventCount(), 2u);
}

TEST_F(IngestTest, BulkNeedsNdjsonAndAWorker) {
  const std::string body = Line(R"("type":"created","id":"c","data":)" + CreatedBody()) + "\n";
  EXPECT_TRUE(
      IsProblem(As("worker").Send("POST", "/v1/events", body), 415, "unsupported_media_type"));
  EXPECT_TRUE(IsProblem(PostBulk(As("editor"), body), 403, "forbidden"));
  EXPECT_EQ(EventCount(), 0u);
  EXPECT_EQ(PostBulk(admin(), body).result_int(), 200);
  EXPECT_EQ(EventCount(), 1u);
}

TEST_F(IngestTest, IdempotencyKeyOnCreateReplaysTheFirstResponse) {
  const std::string body = CreatedBody();
  const Response first = admin().Send("POST", "/v1/runs", body, {{"Idempotency-Key", "k-1"}});
  ASSERT_EQ(first.result_int(), 201) << first.body();
  const std::uint64_t events = EventCount();
  const Response again = admin().Send("POST", "/v1/runs", body, {{"Idempotency-Key", "k-1"}});
  EXPECT_EQ(again.result_int(), 201);
  EXPECT_EQ(again.body(), first.body());
  EXPECT_EQ(again[http::field::location], first[http::field::location]);
  EXPECT_TRUE(IsProblem(
      admin().Send("POST", "/v1/runs", CreatedBody("profile"), {{"Idempotency-Key", "k-1"}}), 422,
      "idempotency_mismatch"));
  EXPECT_EQ(EventCount(), events);
  EXPECT_EQ(RunCount(), 1u);
  // Keys are scoped to the principal: the worker's k-1 is another request.
  const Response worker = As("worker").Send("POST", "/v1/runs", body, {{"Idempotency-Key", "k-1"}});
  EXPECT_EQ(worker.result_int(), 201);
  EXPECT_NE(Str(ParseBody(worker), "id"), Str(ParseBody(first), "id"));
}

TEST_F(IngestTest, FailedRequestsAreNotRemembered) {
  EXPECT_TRUE(
      IsProblem(admin().Send("POST", "/v1/runs", CreatedBody("copy"), {{"Idempotency-Key", "k-2"}}),
                422, "schema_violation"));
  const Response ok = admin().Send("POST", "/v1/runs", CreatedBody(), {{"Idempotency-Key", "k-2"}});
  EXPECT_EQ(ok.result_int(), 201) << ok.body();
}

TEST_F(IngestTest, IdempotencyKeyOnAbortReplaysTheFirstResponse) {
  const std::string id = RunIn(admin(), "queued");
  const std::string target = "/v1/runs/" + id + "/abort";
  const Response first =
      admin().Send("POST", target, R"({"reason":"r"})", {{"Idempotency-Key", "a-1"}});
  ASSERT_EQ(first.result_int(), 200) << first.body();
  const std::uint64_t events = EventCount();
  const Response again =
      admin().Send("POST", target, R"({"reason":"r"})", {{"Idempotency-Key", "a-1"}});
  EXPECT_EQ(again.result_int(), 200) << again.body();
  EXPECT_EQ(again.body(), first.body());
  EXPECT_TRUE(
      IsProblem(admin().Send("POST", target, R"({"reason":"other"})", {{"Idempotency-Key", "a-1"}}),
                422, "idempotency_mismatch"));
  EXPECT_TRUE(
      IsProblem(admin().Send("POST", target, R"({"reason":"r"})"), 409, "action_not_supported"))
      << "without the key it is a second abort";
  EXPECT_EQ(EventCount(), events);
}

TEST_F(IngestTest, IdempotencyKeyOnRerunNeverMakesTwoRuns) {
  const std::string id = RunIn(admin(), "success");
  const std::string target = "/v1/runs/" + id + "/rerun";
  const Response first = As("editor").Send("POST", target, "", {{"Idempotency-Key", "r-1"}});
  ASSERT_EQ(first.result_int(), 201) << first.body();
  const std::uint64_t events = EventCount();
  // An empty body counts as {}.
  const Response again = As("editor").Send("POST", target, "{}", {{"Idempotency-Key", "r-1"}});
  EXPECT_EQ(again.result_int(), 201) << again.body();
  EXPECT_EQ(again.body(), first.body());
  EXPECT_EQ(again[http::field::location], first[http::field::location]);
  EXPECT_EQ(As("editor")
                .Send("POST", target, R"({"reason":"x"})", {{"Idempotency-Key", "r-1"}})
                .result_int(),
            422);
  EXPECT_EQ(EventCount(), events);
  EXPECT_EQ(RunCount("&rerun_of=" + id), 1u);
}

TEST_F(IngestTest, IdempotencyKeyOnResumeNeverMakesTwoRuns) {
  const std::string id = RunIn(admin(), "failure");
  const std::string target = "/v1/runs/" + id + "/resume";
  const Response first = admin().Send("POST", target, "{}", {{"Idempotency-Key", "u-1"}});
  ASSERT_EQ(first.result_int(), 201) << first.body();
  const std::uint64_t events = EventCount();
  const Response again = admin().Send("POST", target, "", {{"Idempotency-Key", "u-1"}});
  EXPECT_EQ(again.result_int(), 201);
  EXPECT_EQ(again.body(), first.body());
  EXPECT_EQ(EventCount(), events);
  EXPECT_EQ(RunCount("&resumed_from=" + id), 1u);
  // Another key is another request.
  EXPECT_EQ(admin().Send("POST", target, "", {{"Idempotency-Key", "u-2"}}).result_int(), 201);
  EXPECT_EQ(RunCount("&resumed_from=" + id), 2u);
}

TEST_F(IngestTest, IdempotencyKeysAreScopedToThePath) {
  const std::string a = RunIn(admin(), "success");
  const std::string b = RunIn(admin(), "success");
  const Response rerun_a =
      admin().Send("POST", "/v1/runs/" + a + "/rerun", "", {{"Idempotency-Key", "same"}});
  const Response rerun_b =
      admin().Send("POST", "/v1/runs/" + b + "/rerun", "", {{"Idempotency-Key", "same"}});
  const Response create =
      admin().Send("POST", "/v1/runs", CreatedBody(), {{"Idempotency-Key", "same"}});
  ASSERT_EQ(rerun_a.result_int(), 201);
  ASSERT_EQ(rerun_b.result_int(), 201);
  ASSERT_EQ(create.result_int(), 201);
  EXPECT_EQ(Str(ParseBody(rerun_a), "rerun_of"), a);
  EXPECT_EQ(Str(ParseBody(rerun_b), "rerun_of"), b);
  EXPECT_EQ(RunCount(), 5u);
}

TEST_F(IngestTest, IdempotencyKeysSurviveARestart) {
  const Response first =
      admin().Send("POST", "/v1/runs", CreatedBody(), {{"Idempotency-Key", "k-3"}});
  ASSERT_EQ(first.result_int(), 201);
  clients_.clear();
  ASSERT_TRUE(server_->Restart().ok());
  const Response again =
      admin().Send("POST", "/v1/runs", CreatedBody(), {{"Idempotency-Key", "k-3"}});
  EXPECT_EQ(again.result_int(), 201);
  EXPECT_EQ(again.body(), first.body());
  EXPECT_EQ(RunCount(), 1u);
}

}  // namespace
}  // namespace runledger::server
