#include "server/problem.h"

#include <gtest/gtest.h>

namespace runledger::server {
namespace {

TEST(ProblemTest, EveryCodeMapsToItsStatus) {
  EXPECT_EQ(HttpStatusFor(Code::kOk), 200);
  EXPECT_EQ(HttpStatusFor(Code::kBadRequest), 400);
  EXPECT_EQ(HttpStatusFor(Code::kUnauthorized), 401);
  EXPECT_EQ(HttpStatusFor(Code::kForbidden), 403);
  EXPECT_EQ(HttpStatusFor(Code::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(Code::kConflict), 409);
  EXPECT_EQ(HttpStatusFor(Code::kPreconditionFailed), 412);
  EXPECT_EQ(HttpStatusFor(Code::kPayloadTooLarge), 413);
  EXPECT_EQ(HttpStatusFor(Code::kUnsupportedMediaType), 415);
  EXPECT_EQ(HttpStatusFor(Code::kUnprocessable), 422);
  EXPECT_EQ(HttpStatusFor(Code::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFor(Code::kCorruption), 500);
  EXPECT_EQ(HttpStatusFor(Code::kIOError), 500);
  EXPECT_EQ(HttpStatusFor(Code::kInternal), 500);
}

TEST(ProblemTest, MakeProblemWritesProblemJsonWithExtraMembers) {
  Response res = MakeProblem(
      409, "invalid_transition", "Conflict", "run is \"ended\"", "req-1", 11,
      true, [](ledger::JsonWriter& w) {
        w.Key("current_status").String("success");
        w.Key("allowed_actions").BeginArray().String("rerun").EndArray();
      });
  EXPECT_EQ(res.result_int(), 409u);
  EXPECT_EQ(res[http::field::content_type], "application/problem+json");
  EXPECT_EQ(res["X-Request-Id"], "req-1");
  EXPECT_TRUE(res.keep_alive());
  EXPECT_EQ(res.body(),
            R"({"type":"about:blank","title":"Conflict","status":409,)"
            R"("detail":"run is \"ended\"","code":"invalid_transition",)"
            R"("request_id":"req-1","current_status":"success",)"
            R"("allowed_actions":["rerun"]})");
  EXPECT_EQ(res[http::field::content_length], std::to_string(res.body().size()));
}

TEST(ProblemTest, ClientErrorKeepsReasonAndMessage) {
  Response res = ProblemFromStatus(
      Status::NotFound("run_not_found", "no run 42"), "r", 10, false);
  EXPECT_EQ(res.result_int(), 404u);
  EXPECT_EQ(res.version(), 10u);
  EXPECT_FALSE(res.keep_alive());
  EXPECT_NE(res.body().find(R"("title":"Not Found")"), std::string::npos);
  EXPECT_NE(res.body().find(R"("code":"run_not_found")"), std::string::npos);
  EXPECT_NE(res.body().find(R"("detail":"no run 42")"), std::string::npos);
}

TEST(ProblemTest, ServerErrorNeverLeaksTheMessage) {
  for (const Status& status :
       {Status::Corruption("bad block in /var/lib/runledger/000042.sst"),
        Status::IOError("/var/lib/runledger: no space left"),
        Status::Internal("invariant broken at key 0x42")}) {
    Response res = ProblemFromStatus(status, "r");
    EXPECT_EQ(res.result_int(), 500u);
    EXPECT_NE(res.body().find(R"("code":"internal")"), std::string::npos);
    EXPECT_EQ(res.body().find("/var/lib"), std::string::npos) << res.body();
    EXPECT_EQ(res.body().find("0x42"), std::string::npos) << res.body();
  }
  Response unavailable = ProblemFromStatus(Status::Unavailable("disk /dev/sda1"), "r");
  EXPECT_EQ(unavailable.result_int(), 503u);
  EXPECT_NE(unavailable.body().find(R"("code":"unavailable")"), std::string::npos);
  EXPECT_EQ(unavailable.body().find("/dev/sda1"), std::string::npos);
}

TEST(ProblemTest, RequestIdsAreFreshHexOrTheClientsSaneOne) {
  std::string a = NewRequestId();
  EXPECT_EQ(a.size(), 16u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, NewRequestId());

  http::request_header<> header;
  header.set("X-Request-Id", "client-7");
  EXPECT_EQ(RequestIdFor(header), "client-7");
  header.set("X-Request-Id", "has space");
  EXPECT_NE(RequestIdFor(header), "has space");
  header.set("X-Request-Id", std::string(kMaxRequestIdLength + 1, 'x'));
  EXPECT_EQ(RequestIdFor(header).size(), 16u);
  EXPECT_TRUE(IsSaneRequestId(std::string(kMaxRequestIdLength, 'x')));
  EXPECT_FALSE(IsSaneRequestId(""));
}

}  // namespace
}  // namespace runledger::server
