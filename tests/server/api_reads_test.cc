// The read routes of SPEC section 4 against the real server: time travel,
// events, history and logs of a run, the Activity listing and counts, the
// ledger, checkpoints, and the routes without a token.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "ledger/checkpoint.h"
#include "ledger/merkle.h"
#include "ledger/sha256.h"
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
using runledger::testing::WaitFor;

const Json::Array& Items(const Json& page) {
  static const Json::Array kNone;
  const Json* items = page.Find("items");
  return items && items->is_array() ? items->array() : kNone;
}

std::vector<std::string> Ids(const Json& page) {
  std::vector<std::string> ids;
  for (const Json& item : Items(page)) ids.push_back(Str(item, "id"));
  return ids;
}

std::vector<double> Seqs(const Json& page) {
  std::vector<double> seqs;
  for (const Json& item : Items(page)) seqs.push_back(Num(item, "seq"));
  return seqs;
}

// Waits until the wall clock is past `timestamp` (YYYY-MM-DDTHH:MM:SS.mmmZ),
// so the next event gets a later recorded_at.
bool WaitPast(const std::string& timestamp) {
  return WaitFor([&] { return ledger::FormatTimestampMs(ledger::NowUnixMs()) > timestamp; });
}

class ReadsTest : public runledger::testing::ServerTest {
 protected:
  Json Get(const std::string& target, const std::string& as = "admin") {
    const Response r = As(as).Send("GET", target);
    EXPECT_EQ(r.result_int(), 200) << target << ": " << r.body();
    return ParseBody(r);
  }
};

// Reads run on ApiOptions::read_workers threads, or on the I/O thread when
// there are none or all are busy: concurrent clients get the same answers.
class ReadWorkersTest : public runledger::testing::ServerTest,
                        public ::testing::WithParamInterface<std::size_t> {
 protected:
  runledger::testing::TestServerOptions Options() override {
    auto options = ServerTest::Options();
    options.api.read_workers = GetParam();
    return options;
  }
};

TEST_P(ReadWorkersTest, ConcurrentReadersGetTheRunTheyAskFor) {
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(RunIn(admin(), i % 2 ? "running" : "success"));
  std::vector<std::thread> readers;
  std::vector<int> wrong(ids.size(), 0);
  for (size_t r = 0; r < ids.size(); ++r) {
    readers.emplace_back([&, r] {
      runledger::testing::HttpClient client(server_->port(), runledger::testing::TokenFor("viewer"));
      for (int i = 0; i < 40; ++i) {
        const Response run = client.Send("GET", "/v1/runs/" + ids[r]);
        if (run.result_int() != 200 || Str(ParseBody(run), "id") != ids[r]) ++wrong[r];
        const Response page = client.Send("GET", "/v1/runs?limit=10&status=running");
        if (page.result_int() != 200 || Items(ParseBody(page)).size() != 2) ++wrong[r];
        // A long read: on a worker when one is free.
        const Response first = client.Send("GET", "/v1/runs/" + ids[r] + "?at_seq=1");
        if (first.result_int() != 200 || Str(ParseBody(first), "status") != "queued") ++wrong[r];
      }
    });
  }
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(wrong, std::vector<int>(ids.size(), 0));
}

INSTANTIATE_TEST_SUITE_P(NoneOneAndFour, ReadWorkersTest, ::testing::Values(0u, 1u, 4u));

TEST(LongReadTest, OnlyReadsThatGrowWithARunOrTheLedgerAreLong) {
  const std::map<std::string, std::string> none;
  const std::map<std::string, std::string> at_seq = {{"at_seq", "3"}};
  const std::map<std::string, std::string> as_of = {{"as_of", "2026-01-01T00:00:00Z"}};
  const std::map<std::string, std::string> filter = {{"status", "running"}, {"limit", "50"}};
  auto path = [](std::initializer_list<const char*> parts) { return std::vector<std::string>(parts.begin(), parts.end()); };
  EXPECT_TRUE(IsLongRead(path({"v1", "runs", "r1", "history"}), none));
  EXPECT_TRUE(IsLongRead(path({"v1", "runs", "r1"}), at_seq));
  EXPECT_TRUE(IsLongRead(path({"v1", "runs", "r1"}), as_of));
  EXPECT_TRUE(IsLongRead(path({"v1", "runs", "counts"}), filter));
  EXPECT_TRUE(IsLongRead(path({"v1", "events"}), none));
  EXPECT_TRUE(IsLongRead(path({"v1", "ledger", "proof"}), none));
  EXPECT_FALSE(IsLongRead(path({"v1", "runs", "r1"}), none));
  EXPECT_FALSE(IsLongRead(path({"v1", "runs"}), filter));
  EXPECT_FALSE(IsLongRead(path({"v1", "runs", "r1", "events"}), none));
  EXPECT_FALSE(IsLongRead(path({"v1", "runs", "r1", "logs"}), none));
  EXPECT_FALSE(IsLongRead(path({"v1", "ledger", "checkpoint"}), none));
  EXPECT_FALSE(IsLongRead(path({"v1", "me"}), none));
  EXPECT_FALSE(IsLongRead(path({"v1", "export"}), none));
}

TEST_F(ReadsTest, TimeTravelFoldsTheFirstEventsOrThoseUntilATime) {
  const std::string id = CreateRun(admin());
  const std::string created_at = Str(Get("/v1/runs/" + id), "created_at");
  ASSERT_TRUE(WaitPast(created_at));
  ASSERT_EQ(Append(admin(), id, "started", R"({"worker":"w"})").result_int(), 201);
  ASSERT_EQ(Append(admin(), id, "progressed", R"({"processed":2})").result_int(), 201);
  const std::string run = "/v1/runs/" + id;

  Response r = admin().Send("GET", run + "?at_seq=1");
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_EQ(r[http::field::etag], "\"1\"");
  EXPECT_EQ(Str(ParseBody(r), "status"), "queued");
  const Json second = Get(run + "?at_seq=2");
  EXPECT_EQ(Str(second, "status"), "running");
  EXPECT_EQ(Num(*second.Find("progress"), "processed"), 0);
  EXPECT_EQ(Num(*Get(run + "?at_seq=3").Find("progress"), "processed"), 2);

  const Json then = Get(run + "?as_of=" + created_at);
  EXPECT_EQ(Str(then, "status"), "queued");
  EXPECT_EQ(Num(then, "version"), 1);
  EXPECT_EQ(Num(Get(run + "?as_of=2100-01-01T00:00:00Z"), "version"), 3);
  EXPECT_TRUE(
      IsProblem(admin().Send("GET", run + "?as_of=2000-01-01T00:00:00Z"), 404, "run_not_found"));
}

TEST_F(ReadsTest, RunEventsPageInSeqOrder) {
  const std::string id = RunIn(admin(), "success");
  const Json first = Get("/v1/runs/" + id + "/events?limit=2");
  EXPECT_EQ(Seqs(first), (std::vector<double>{1, 2}));
  EXPECT_EQ(Num(first, "next_after_seq"), 2);
  EXPECT_EQ(Str(Items(first).at(0), "type"), "created");
  const Json rest = Get("/v1/runs/" + id + "/events?after_seq=2");
  EXPECT_EQ(Seqs(rest), std::vector<double>{3});
  EXPECT_TRUE(rest.Find("next_after_seq")->is_null());
}

TEST_F(ReadsTest, HistoryGivesEachEventWithTheStateRightAfterIt) {
  const std::string id = RunIn(admin(), "running");
  ASSERT_EQ(Append(admin(), id, "logged", R"({"level":"info","message":"m"})").result_int(), 201);
  ASSERT_EQ(Append(admin(), id, "ended", R"({"status":"success"})").result_int(), 201);
  const Json first = Get("/v1/runs/" + id + "/history?limit=2");
  ASSERT_EQ(Items(first).size(), 2u);
  EXPECT_EQ(Num(first, "next_after_seq"), 2);
  for (const Json& item : Items(first)) {
    EXPECT_EQ(Num(*item.Find("event"), "seq"), Num(item, "seq"));
    EXPECT_EQ(Num(*item.Find("state"), "version"), Num(item, "seq"));
  }
  EXPECT_EQ(Str(*Items(first)[0].Find("state"), "status"), "queued");
  EXPECT_EQ(Str(*Items(first)[1].Find("state"), "status"), "running");
  const Json rest = Get("/v1/runs/" + id + "/history?after_seq=2&limit=10");
  EXPECT_EQ(Seqs(rest), (std::vector<double>{3, 4}));
  EXPECT_TRUE(rest.Find("next_after_seq")->is_null());
  const Json& last = *Items(rest)[1].Find("state");
  EXPECT_EQ(Str(last, "status"), "success");
  EXPECT_TRUE(last.Find("warning")->boolean());
  EXPECT_EQ(Str(*Items(rest)[1].Find("event"), "type"), "ended");
}

TEST_F(ReadsTest, LogsFilterByLevelAndDownloadAsText) {
  const std::string id = RunIn(admin(), "running");
  for (const char* data :
       {R"({"level":"debug","message":"d1"})",
        R"({"level":"info","message":"line one\nline two","container":"orders"})",
        R"({"level":"warning","message":"w"})",
        R"({"level":"error","message":"e","container":"t2"})"}) {
    ASSERT_EQ(Append(As("worker"), id, "logged", data).result_int(), 201);
  }
  const std::string logs = "/v1/runs/" + id + "/logs";
  const Json all = Get(logs);
  EXPECT_EQ(Seqs(all), (std::vector<double>{3, 4, 5, 6}));
  EXPECT_EQ(Seqs(Get(logs + "?level=warning")), (std::vector<double>{5, 6}));
  EXPECT_EQ(Seqs(Get(logs + "?after_seq=4&limit=1")), std::vector<double>{5});

  const Response text = As("viewer").Send("GET", logs, "", {{"Accept", "text/plain"}});
  ASSERT_EQ(text.result_int(), 200);
  EXPECT_TRUE(text[http::field::content_type].starts_with("text/plain"));
  std::vector<std::string> at;
  for (const Json& item : Items(all)) at.push_back(Str(item, "recorded_at"));
  EXPECT_EQ(text.body(), at[0] + " DEBUG d1\n" + at[1] + " INFO [orders] line one\\nline two\n" +
                             at[2] + " WARNING w\n" + at[3] + " ERROR [t2] e\n");
  const Response errors =
      As("viewer").Send("GET", logs + "?level=error", "", {{"Accept", "text/plain"}});
  EXPECT_EQ(errors.body(), at[3] + " ERROR [t2] e\n");
}

TEST_F(ReadsTest, ListingIsNewestFirstWithFiltersAndCursor) {
  std::vector<std::string> ids;  // in creation order, each created in a later millisecond
  std::vector<std::string> created;
  auto add = [&](const std::string& id) {
    ids.push_back(id);
    created.push_back(Str(Get("/v1/runs/" + id), "created_at"));
    ASSERT_TRUE(WaitPast(created.back()));
  };
  add(RunIn(admin(), "queued", "scan", "ds1"));  // 0
  const std::string warned = CreateRun(admin(), CreatedBody("profile", "ds2"));
  ASSERT_EQ(Append(admin(), warned, "started", R"({"worker":"w"})").result_int(), 201);
  ASSERT_EQ(Append(admin(), warned, "logged", R"({"level":"warning","message":"m"})").result_int(),
            201);
  ASSERT_EQ(Append(admin(), warned, "ended", R"({"status":"success"})").result_int(), 201);
  add(warned);                                    // 1
  add(RunIn(admin(), "running", "scan", "ds1"));  // 2
  add(CreateRun(admin(),
                CreatedBody("sync", "ds2", "", R"({"kind":"schedule","id":"nightly"})")));  // 3
  const Response rerun = admin().Send("POST", "/v1/runs/" + warned + "/rerun");
  ASSERT_EQ(rerun.result_int(), 201);
  add(Str(ParseBody(rerun), "id"));  // 4
  RunIn(admin(), "deleted");         // never listed

  const std::vector<std::string> newest_first(ids.rbegin(), ids.rend());
  EXPECT_EQ(Ids(Get("/v1/runs")), newest_first);
  std::vector<std::string> paged;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    const Json body = Get("/v1/runs?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor));
    EXPECT_LE(Items(body).size(), 2u);
    for (const std::string& id : Ids(body)) paged.push_back(id);
    if (body.Find("next_cursor")->is_null()) break;
    cursor = body.Find("next_cursor")->string();
  }
  EXPECT_EQ(paged, newest_first);

  EXPECT_EQ(Ids(Get("/v1/runs?status=queued,running")),
            (std::vector<std::string>{ids[4], ids[3], ids[2], ids[0]}));
  EXPECT_EQ(Ids(Get("/v1/runs?operation=profile")), (std::vector<std::string>{ids[4], ids[1]}));
  EXPECT_EQ(Ids(Get("/v1/runs?datastore=ds2")), (std::vector<std::string>{ids[4], ids[3], ids[1]}));
  EXPECT_EQ(Ids(Get("/v1/runs?triggered_by=schedule:nightly")), std::vector<std::string>{ids[3]});
  EXPECT_EQ(Ids(Get("/v1/runs?triggered_by=nightly")), std::vector<std::string>{ids[3]});
  EXPECT_EQ(Ids(Get("/v1/runs?triggered_by=user:admin")), std::vector<std::string>{ids[4]});
  EXPECT_EQ(Ids(Get("/v1/runs?warning=true")), std::vector<std::string>{ids[1]});
  EXPECT_EQ(Ids(Get("/v1/runs?warning=false&datastore=ds2")),
            (std::vector<std::string>{ids[4], ids[3]}));
  EXPECT_EQ(Ids(Get("/v1/runs?rerun_of=" + ids[1])), std::vector<std::string>{ids[4]});
  EXPECT_EQ(Ids(Get("/v1/runs?created_after=" + created[2])),
            (std::vector<std::string>{ids[4], ids[3]}));
  EXPECT_EQ(Ids(Get("/v1/runs?created_before=" + created[1])), std::vector<std::string>{ids[0]});
  EXPECT_EQ(Ids(Get("/v1/runs?created_after=" + created[0] + "&created_before=" + created[2])),
            std::vector<std::string>{ids[1]});
}

TEST_F(ReadsTest, CountsFollowTheListingFiltersButNotStatus) {
  RunIn(admin(), "queued", "scan", "ds1");
  RunIn(admin(), "running", "scan", "ds1");
  RunIn(admin(), "success", "profile", "ds2");
  RunIn(admin(), "failure", "scan", "ds2");
  RunIn(admin(), "aborted", "scan", "ds1");
  RunIn(admin(), "deleted", "scan", "ds1");
  EXPECT_EQ(Get("/v1/runs/counts"),
            ParseBody(R"({"queued":1,"running":1,"success":1,"failure":1,"aborted":1})"));
  EXPECT_EQ(Get("/v1/runs/counts?status=queued"), Get("/v1/runs/counts"));
  EXPECT_EQ(Get("/v1/runs/counts?datastore=ds1"),
            ParseBody(R"({"queued":1,"running":1,"success":0,"failure":0,"aborted":1})"));
  EXPECT_EQ(Get("/v1/runs/counts?operation=scan&datastore=ds2"),
            ParseBody(R"({"queued":0,"running":0,"success":0,"failure":1,"aborted":0})"));
}

TEST_F(ReadsTest, MeDescribesTheCaller) {
  EXPECT_EQ(Get("/v1/me", "editor"),
            ParseBody(R"({"name":"editor","role":"member","datastores":{"ds1":"editor"}})"));
  EXPECT_EQ(Get("/v1/me", "worker"),
            ParseBody(R"({"name":"worker","role":"worker","datastores":{}})"));
  EXPECT_EQ(Get("/v1/me", "auditor"),
            ParseBody(R"({"name":"auditor","role":"auditor","datastores":{}})"));
}

TEST_F(ReadsTest, LedgerEventsPageInPositionOrderWithAuditFilters) {
  const std::string a = RunIn(admin(), "running", "scan", "ds1");  // 1, 2
  ASSERT_TRUE(WaitPast(Str(Get("/v1/runs/" + a), "started_at")));
  const std::string b = CreateRun(As("worker"), CreatedBody("profile", "ds2"));  // 3
  ASSERT_EQ(Append(As("worker"), a, "logged", R"({"level":"info","message":"m"})").result_int(),
            201);  // 4
  auto positions = [](const Json& page) {
    std::vector<double> out;
    for (const Json& item : Items(page)) out.push_back(Num(item, "position"));
    return out;
  };
  const Json first = Get("/v1/events?limit=3", "auditor");
  EXPECT_EQ(positions(first), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(Num(first, "next_after"), 3);
  const Json rest = Get("/v1/events?after=3", "auditor");
  EXPECT_EQ(positions(rest), std::vector<double>{4});
  EXPECT_TRUE(rest.Find("next_after")->is_null());
  EXPECT_EQ(positions(Get("/v1/events?type=created,logged", "auditor")),
            (std::vector<double>{1, 3, 4}));
  EXPECT_EQ(positions(Get("/v1/events?principal=worker", "auditor")), (std::vector<double>{3, 4}));
  EXPECT_EQ(positions(Get("/v1/events?datastore=ds2", "auditor")), std::vector<double>{3});
  EXPECT_EQ(positions(Get("/v1/events?operation=scan", "auditor")), (std::vector<double>{1, 2, 4}));
  EXPECT_EQ(positions(Get("/v1/events?run_id=" + b, "auditor")), std::vector<double>{3});
  const std::string third_at = Str(Items(first)[2], "recorded_at");
  EXPECT_EQ(positions(Get("/v1/events?from=" + third_at, "auditor")), (std::vector<double>{3, 4}));
  EXPECT_EQ(positions(Get("/v1/events?to=" + third_at, "auditor")), (std::vector<double>{1, 2}));
}

TEST_F(ReadsTest, CheckpointIs404BeforeTheFirstEventThenSignedOverTheEvents) {
  const Response none = As("viewer").Send("GET", "/v1/ledger/checkpoint");
  EXPECT_EQ(none.result_int(), 404);
  EXPECT_EQ(none[http::field::content_type], "application/problem+json");
  RunIn(admin(), "success");
  std::string text;
  ASSERT_TRUE(WaitFor([&] {
    const Response r = As("viewer").Send("GET", "/v1/ledger/checkpoint");
    text = r.body();
    return r.result_int() == 200 && Num(ParseBody(r), "size") == 3;
  })) << "no checkpoint over the 3 events: "
      << text;
  const Json body = ParseBody(text);
  auto checkpoint = ledger::Checkpoint::FromJson(text);
  ASSERT_TRUE(checkpoint.has_value()) << text;
  const Response key = As("anonymous").Send("GET", "/v1/ledger/key");
  ASSERT_EQ(key.result_int(), 200);
  EXPECT_TRUE(key.body().starts_with("-----BEGIN PUBLIC KEY-----")) << key.body();
  EXPECT_TRUE(checkpoint->VerifyWith(key.body()));
  // The root is the Merkle tree over the events' leaf hashes.
  ledger::MerkleFrontier tree;
  const Json events = Get("/v1/events", "auditor");
  for (const Json& event : Items(events)) {
    tree.Append(*ledger::HashFromHex(Str(event, "hash")), {});
  }
  EXPECT_EQ(Str(body, "root"), ledger::ToHex(tree.Root()));
  ledger::Checkpoint forged = *checkpoint;
  forged.size = 2;
  EXPECT_FALSE(forged.VerifyWith(key.body()));
}

TEST_F(ReadsTest, HealthAndMetricsNeedNoToken) {
  Response r = As("anonymous").Send("GET", "/healthz");
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_EQ(ParseBody(r), ParseBody(R"({"status":"ok"})"));
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(admin().Send("GET", "/v1/runs/0190a5c8-2222-4222-8222-000000000002").result_int(),
              404);
  }
  r = As("anonymous").Send("GET", "/metrics");
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_TRUE(r[http::field::content_type].starts_with("text/plain"))
      << r[http::field::content_type];
  EXPECT_NE(r.body().find("# TYPE runledger_http_requests_total counter"), std::string::npos);
  EXPECT_NE(r.body().find("runledger_http_requests_total{route=\"get_run\",status=\"404\"} 2\n"),
            std::string::npos)
      << r.body();
  EXPECT_NE(r.body().find("runledger_http_requests_total{route=\"healthz\",status=\"200\"} 1\n"),
            std::string::npos);
}

TEST_F(ReadsTest, AppendedEventsCountWhatTheLedgerCommittedButNotRepeats) {
  const std::string id = CreateRun(admin());
  const std::string body = R"({"type":"started","id":"e-1","data":{"worker":"w"}})";
  ASSERT_EQ(admin().Send("POST", "/v1/runs/" + id + "/events", body).result_int(), 201);
  ASSERT_EQ(admin().Send("POST", "/v1/runs/" + id + "/events", body).result_int(), 200);
  const Response r = As("anonymous").Send("GET", "/metrics");
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_NE(r.body().find("runledger_appended_events_total 2\n"), std::string::npos) << r.body();
}

TEST_F(ReadsTest, OpenApiAndTheWebPageNeedNoToken) {
  const Response openapi = As("anonymous").Send("GET", "/v1/openapi.json");
  ASSERT_EQ(openapi.result_int(), 200);
  EXPECT_TRUE(ParseBody(openapi).Find("openapi") != nullptr);
  const Response page = As("anonymous").Send("GET", "/");
  ASSERT_EQ(page.result_int(), 200);
  EXPECT_TRUE(page[http::field::content_type].starts_with("text/html"))
      << page[http::field::content_type];
}

TEST_F(ReadsTest, UnknownRouteIs404) {
  EXPECT_TRUE(IsProblem(admin().Send("GET", "/v1/nothing"), 404, "not_found"));
  EXPECT_TRUE(IsProblem(admin().Send("PATCH", "/v1/runs"), 404, "not_found"));
}

}  // namespace
}  // namespace runledger::server
