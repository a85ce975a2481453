// Reads of SPEC section 3 and 4: a run now and back in time, its events,
// logs and history, the Activity listing and counts, and audit queries. The
// listing and audit answers are checked against a brute-force scan of every
// run and event.

#include "projections/queries.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <future>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ledger/event.h"
#include "ledger/time.h"
#include "ledger/uuid.h"
#include "projections/tables.h"
#include "tests/testing/run_builders.h"

namespace runledger::projections {
namespace {

namespace rt = runledger::testing;
using rt::J;
using rt::Reply;

std::vector<std::uint32_t> SeqsOf(const std::vector<std::string>& stored) {
  std::vector<std::uint32_t> seqs;
  for (const auto& bytes : stored) {
    auto event = ledger::DecodeEvent(bytes);
    EXPECT_TRUE(event.has_value());
    seqs.push_back(event ? event->seq : 0);
  }
  return seqs;
}

class QueriesTest : public ::testing::Test {
 protected:
  RunQueries q() { return t_.queries(); }
  rt::TestLedger t_;
};

TEST_F(QueriesTest, GetRunAnswersDeletedRunsAndNothingForUnknownOnes) {
  const Uuid id = t_.RunIn("scan", "deleted");
  auto run = q().GetRun(id);
  ASSERT_TRUE(run.has_value() && run->has_value());
  EXPECT_TRUE((*run)->deleted());
  EXPECT_NE(RunJson(**run, true).find(R"("deleted":true,"deleted_at":")"), std::string::npos);
  auto unknown = q().GetRun(*ledger::ParseUuid("0190f000-0000-7000-8000-000000000009"));
  ASSERT_TRUE(unknown.has_value());
  EXPECT_FALSE(unknown->has_value());
}

TEST_F(QueriesTest, RunAtSeqFoldsTheFirstNEvents) {
  const Uuid id = t_.RunIn("scan", "success");
  const std::vector<std::string> statuses = {"queued", "running", "success"};
  for (std::uint32_t seq = 1; seq <= 3; ++seq) {
    auto run = q().RunAtSeq(id, seq);
    ASSERT_TRUE(run.has_value() && run->has_value()) << seq;
    EXPECT_EQ((*run)->version, seq);
    EXPECT_EQ((*run)->status, statuses[seq - 1]);
  }
  for (std::uint32_t seq : {0u, 4u, 100u}) {
    auto run = q().RunAtSeq(id, seq);
    ASSERT_TRUE(run.has_value());
    EXPECT_FALSE(run->has_value()) << seq;
  }
}

TEST_F(QueriesTest, RunAsOfFoldsTheEventsRecordedUpToThatTime) {
  const Reply created = t_.CreateRun(rt::CreatedJson("profile"));
  ASSERT_TRUE(created.ok());
  const Uuid id = created.run_id();
  const std::int64_t t1 = created.outcome.event->recorded_at_ms;
  rt::WaitUntilAfter(t1);
  const Reply started = t_.Event(id, "started", R"({"worker":"w"})");
  const std::int64_t t2 = started.outcome.event->recorded_at_ms;
  rt::WaitUntilAfter(t2);
  const Reply ended = t_.Event(id, "ended", R"({"status":"success"})");
  const std::int64_t t3 = ended.outcome.event->recorded_at_ms;
  ASSERT_LT(t1, t2);
  ASSERT_LT(t2, t3);

  auto at = [&](std::int64_t ms) -> std::optional<RunState> {
    auto run = q().RunAsOf(id, ms);
    EXPECT_TRUE(run.has_value());
    return run ? *run : std::nullopt;
  };
  EXPECT_FALSE(at(t1 - 1).has_value()) << "the run did not exist yet";
  EXPECT_EQ(at(t1)->status, "queued");
  EXPECT_EQ(at(t2 - 1)->status, "queued");
  EXPECT_EQ(at(t2)->status, "running");
  EXPECT_EQ(at(t3 - 1)->version, 2u);
  EXPECT_EQ(at(t3)->status, "success");
  EXPECT_EQ(RunJson(*at(t3 + 100000)), RunJson(*t_.Get(id)));
}

TEST_F(QueriesTest, RunEventsPageInSeqOrder) {
  const Uuid id = t_.RunIn("scan", "running");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(t_.Event(id, "logged", R"({"level":"info","message":"m"})").ok());
  // 7 events.
  auto page = q().RunEvents(id, 0, 3);
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(SeqsOf(page->items), (std::vector<std::uint32_t>{1, 2, 3}));
  EXPECT_EQ(page->next, 3u);
  page = q().RunEvents(id, 3, 3);
  EXPECT_EQ(SeqsOf(page->items), (std::vector<std::uint32_t>{4, 5, 6}));
  EXPECT_EQ(page->next, 6u);
  page = q().RunEvents(id, 6, 3);
  EXPECT_EQ(SeqsOf(page->items), (std::vector<std::uint32_t>{7}));
  EXPECT_FALSE(page->next.has_value());
  page = q().RunEvents(id, 4, 3);
  EXPECT_EQ(SeqsOf(page->items), (std::vector<std::uint32_t>{5, 6, 7}));
  EXPECT_FALSE(page->next.has_value()) << "an exactly full last page has no next";
  page = q().RunEvents(id, 7, 3);
  EXPECT_TRUE(page->items.empty());
  EXPECT_FALSE(page->next.has_value());

  auto first = ledger::DecodeEvent(q().RunEvents(id, 0, 1)->items.at(0));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->type, "created");
  EXPECT_EQ(first->run_id, id);
}

TEST_F(QueriesTest, LogsFilterByMinimumLevelAndPage) {
  const Uuid id = t_.RunIn("scan", "running");
  for (const char* level : {"debug", "info", "warning", "error", "info", "error"}) {
    ASSERT_TRUE(t_.Event(id, "logged", std::string(R"({"level":")") + level + R"(","message":"m"})").ok());
    ASSERT_TRUE(t_.Event(id, "progressed", R"({"processed":0})").ok());
  }
  // Seqs: logged at 3, 5, 7, 9, 11, 13.
  auto all = q().RunEvents(id, 0, 100, true, LogLevelRank("debug"));
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(SeqsOf(all->items), (std::vector<std::uint32_t>{3, 5, 7, 9, 11, 13}));
  auto warnings = q().RunEvents(id, 0, 100, true, LogLevelRank("warning"));
  EXPECT_EQ(SeqsOf(warnings->items), (std::vector<std::uint32_t>{7, 9, 13}));
  auto errors = q().RunEvents(id, 0, 1, true, LogLevelRank("error"));
  EXPECT_EQ(SeqsOf(errors->items), (std::vector<std::uint32_t>{9}));
  ASSERT_TRUE(errors->next.has_value());
  errors = q().RunEvents(id, static_cast<std::uint32_t>(*errors->next), 1, true, LogLevelRank("error"));
  EXPECT_EQ(SeqsOf(errors->items), (std::vector<std::uint32_t>{13}));
  EXPECT_FALSE(errors->next.has_value());
  EXPECT_EQ(LogLevelRank("fatal"), -1);
}

TEST_F(QueriesTest, LogsAreTheEventsOfTypeLoggedWhateverTheirDataSays) {
  // `config` and a log's `fields` are free-form and come before the
  // top-level "type" in the stored form: neither may decide what is a log.
  const Uuid id = t_.RunIn("scan", "running", R"("config":{"type":"logged"})");
  ASSERT_TRUE(t_.Event(id, "logged", R"({"level":"error","message":"m","fields":{"type":"progressed"}})").ok());
  ASSERT_TRUE(t_.Do(id, Action::kAbort).ok());
  ASSERT_TRUE(t_.Reopen().ok());
  auto logs = q().RunEvents(id, 0, 100, true, LogLevelRank("debug"));
  ASSERT_TRUE(logs.has_value());
  EXPECT_EQ(SeqsOf(logs->items), (std::vector<std::uint32_t>{3}));
  auto all = q().RunEvents(id, 0, 100);
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(SeqsOf(all->items), (std::vector<std::uint32_t>{1, 2, 3, 4}));
  EXPECT_EQ(all->items[0], t_.store().ReadEventBytes(1)->value()) << "served as stored";
}

TEST_F(QueriesTest, SummariesReadFromTheStoreAreCachedAndStayCurrent) {
  const Uuid id = t_.RunIn("scan", "running");
  ASSERT_TRUE(t_.Reopen().ok());  // a new ledger: nothing cached
  RunQueries queries(t_.store(), &t_.ledger().summaries());
  EXPECT_EQ(t_.ledger().summaries().Find(id), nullptr);
  auto read = queries.GetRunSummary(id);
  ASSERT_TRUE(read.has_value() && read->has_value());
  auto cached = t_.ledger().summaries().Find(id);
  ASSERT_NE(cached, nullptr);
  EXPECT_EQ(cached->json, (*read)->json);
  ASSERT_TRUE(t_.Event(id, "logged", R"({"level":"info","message":"m"})").ok());
  auto after = queries.GetRunSummary(id);
  ASSERT_TRUE(after.has_value() && after->has_value());
  EXPECT_EQ((*after)->version, (*read)->version + 1);
  EXPECT_EQ((*after)->json, t_.queries().GetRunSummary(id)->value().json) << "the cache and the store agree";
}

TEST(RunSummaryCacheTest, AReadOfferedAcrossAStartOverIsRefused) {
  RunSummaryCache cache(2);
  auto summary = [](std::uint8_t id_byte, std::uint32_t version) {
    auto s = std::make_shared<RunSummary>();
    s->id[0] = id_byte;
    s->version = version;
    return s;
  };
  // A read that began before the cache started over may hold a state older
  // than one published (and dropped) meanwhile.
  const std::uint64_t before = cache.epoch();
  cache.Publish({summary(1, 1), summary(2, 1)});
  cache.Publish({summary(3, 1)});  // over the bound: starts over
  cache.Offer(summary(1, 0), before);
  EXPECT_EQ(cache.Find(summary(1, 0)->id), nullptr);
  // A published summary is never replaced by a read one.
  cache.Offer(summary(3, 0), cache.epoch());
  EXPECT_EQ(cache.Find(summary(3, 0)->id)->version, 1u);
  cache.Offer(summary(4, 7), cache.epoch());
  EXPECT_EQ(cache.Find(summary(4, 0)->id)->version, 7u);
}

TEST_F(QueriesTest, HistoryPairsEachEventWithTheStateAfterIt) {
  const Uuid id = t_.RunIn("scan", "success");
  ASSERT_TRUE(t_.Do(id, Action::kDelete).ok());
  std::vector<HistoryItem> items;
  std::uint32_t after = 0;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = q().History(id, after, 2, /*with_deleted=*/true);
    ASSERT_TRUE(page.has_value());
    items.insert(items.end(), page->items.begin(), page->items.end());
    if (!page->next_after_seq) break;
    EXPECT_EQ(*page->next_after_seq, page->items.back().seq);
    after = *page->next_after_seq;
  }
  ASSERT_EQ(items.size(), 4u);
  for (std::uint32_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(items[i].seq, i + 1);
    auto event = ledger::DecodeEvent(items[i].event);
    ASSERT_TRUE(event.has_value());
    EXPECT_EQ(event->seq, i + 1);
    auto state = q().RunAtSeq(id, i + 1);
    EXPECT_EQ(items[i].state, RunJson(**state, true));
  }
  EXPECT_NE(items.back().state.find(R"("deleted":true)"), std::string::npos);
  auto plain = q().History(id, 0, 1, false);
  EXPECT_EQ(plain->items.at(0).state.find("deleted"), std::string::npos);
}

// --- Listing and counts over a mixed set of runs ------------------------------------------

class ListingTest : public ::testing::Test {
 protected:
  // 63 runs over three datastores, seven operations, four triggers, every
  // status, with logs (warnings), reruns, resumes and deletions, created in
  // three separate milliseconds.
  void SetUp() override {
    const char* triggers[] = {R"({"kind":"user","id":"alice"})", R"({"kind":"schedule","id":"nightly"})",
                              R"({"kind":"api","id":"alice"})", R"({"kind":"user","id":"bob"})"};
    std::vector<std::future<Reply>> pending;
    for (int group = 0; group < 3; ++group) {
      for (int i = group * 21; i < (group + 1) * 21; ++i) {
        CreateRunRequest request;
        request.caller = rt::Alice();
        request.data = J(R"({"operation":")" + std::string(kOperations[i % 7]) + R"(","datastore":{"id":"ds-)" +
                         std::to_string(i % 3 + 1) + R"("},"triggered_by":)" + triggers[i % 4] +
                         R"(,"containers":["a","b"]})");
        pending.push_back(t_.CreateAsync(std::move(request)));
      }
      std::int64_t last_ms = 0;
      for (auto& future : pending) {
        const Reply reply = rt::Wait(future);
        ASSERT_TRUE(reply.ok()) << reply.status.ToString();
        ids_.push_back(reply.run_id());
        last_ms = std::max(last_ms, reply.run().created_at_ms);
      }
      pending.clear();
      group_ms_.push_back(last_ms);
      rt::WaitUntilAfter(last_ms);
    }
    // Drive each run by its index; everything in flight at once.
    std::vector<std::future<Reply>> steps;
    auto event = [&](const Uuid& id, std::string type, std::string data) {
      AppendRequest request;
      request.caller = rt::Bob();
      request.run_id = id;
      request.type = std::move(type);
      request.data = J(data);
      steps.push_back(t_.AppendAsync(std::move(request)));
    };
    auto act = [&](const Uuid& id, Action action) {
      ActionRequest request;
      request.caller = rt::Alice();
      request.run_id = id;
      request.action = action;
      steps.push_back(t_.ActAsync(std::move(request)));
    };
    for (size_t i = 0; i < ids_.size(); ++i) {
      const Uuid& id = ids_[i];
      const bool promote = std::string_view(kOperations[i % 7]) == "promote";
      const int fate = static_cast<int>(i % 5);  // queued, running, success, failure, aborted
      if (fate == 0) {
        if (i % 2 == 0) event(id, "logged", R"({"level":"info","message":"waiting"})");
        continue;
      }
      if (fate == 4) {
        act(id, Action::kAbort);
        continue;
      }
      if (!promote) event(id, "started", R"({"worker":"w"})");
      if (i % 3 == 0) event(id, "logged", R"({"level":"warning","message":"slow"})");
      if (fate == 2) event(id, "ended", R"({"status":"success"})");
      if (fate == 3) event(id, "ended", R"({"status":"failure","error":{"message":"x"}})");
    }
    for (auto& future : steps) {
      const Reply reply = rt::Wait(future);
      ASSERT_TRUE(reply.ok()) << reply.status.ToString();
    }
    steps.clear();
    // Reruns and resumes of some finished runs, then deletions.
    for (size_t i = 0; i < ids_.size(); ++i) {
      const int fate = static_cast<int>(i % 5);
      if (fate >= 2 && i % 4 == 1 && std::string_view(kOperations[i % 7]) != "external_scan") {
        act(ids_[i], Action::kRerun);
      }
      if (fate >= 3 && i % 4 == 2 && IsOneOf(kOperations[i % 7], {"profile", "scan", "promote"})) {
        act(ids_[i], Action::kResume);
      }
    }
    for (size_t i = 0; i < ids_.size(); ++i) {
      if (i % 5 >= 2 && i % 6 == 0) act(ids_[i], Action::kDelete);
    }
    for (auto& future : steps) {
      const Reply reply = rt::Wait(future);
      ASSERT_TRUE(reply.ok()) << reply.status.ToString();
      if (reply.outcome.event && reply.outcome.event->type == "created") ids_.push_back(reply.run_id());
    }
    for (const Uuid& id : ids_) {
      const auto run = t_.Get(id);
      ASSERT_TRUE(run.has_value());
      if (run->rerun_of) rerun_source_ = *run->rerun_of;
      if (run->resumed_from) resumed_source_ = *run->resumed_from;
    }
    ASSERT_NE(rerun_source_, Uuid{});
    ASSERT_NE(resumed_source_, Uuid{});
  }

  static bool IsOneOf(std::string_view value, std::initializer_list<std::string_view> set) {
    return std::find(set.begin(), set.end(), value) != set.end();
  }

  // Every run, by brute force, filtered by `keep` and in listing order.
  std::vector<Uuid> Expected(const std::function<bool(const RunState&)>& keep) {
    std::vector<RunState> runs;
    for (const Uuid& id : ids_) {
      auto run = t_.Get(id);
      if (run && keep(*run)) runs.push_back(*run);
    }
    std::sort(runs.begin(), runs.end(), [](const RunState& a, const RunState& b) {
      if (a.created_at_ms != b.created_at_ms) return a.created_at_ms > b.created_at_ms;
      return a.id > b.id;
    });
    std::vector<Uuid> out;
    for (const auto& run : runs) out.push_back(run.id);
    return out;
  }

  // Every page of ListRuns, concatenated.
  std::vector<Uuid> Listed(const RunFilter& filter, size_t limit) {
    std::vector<Uuid> out;
    std::optional<std::string> cursor;
    for (int pages = 0; pages < 1000; ++pages) {
      auto page = t_.queries().ListRuns(filter, limit, cursor);
      EXPECT_TRUE(page.has_value()) << page.error().ToString();
      if (!page) break;
      EXPECT_LE(page->items.size(), limit);
      for (const auto& run : page->items) out.push_back(run.id);
      if (!page->next_cursor) break;
      EXPECT_FALSE(page->items.empty()) << "a page with a next cursor holds something";
      cursor = page->next_cursor;
    }
    return out;
  }

  static std::string DatastoreOf(const RunState& run) { return run.datastore.Find("id")->string(); }
  static std::string Actor(const RunState& run) {
    return run.triggered_by.Find("kind")->string() + ":" + run.triggered_by.Find("id")->string();
  }

  struct Case {
    std::string name;
    RunFilter filter;
    std::function<bool(const RunState&)> keep;
  };
  std::vector<Case> Cases() {
    std::vector<Case> cases;
    auto add = [&](std::string name, std::function<void(RunFilter&)> set,
                   std::function<bool(const RunState&)> keep, bool deleted_too = false) {
      RunFilter filter;
      set(filter);
      cases.push_back({std::move(name), filter, [keep, deleted_too](const RunState& run) {
                         return (deleted_too || !run.deleted()) && keep(run);
                       }});
    };
    add("no filter", [](RunFilter&) {}, [](const RunState&) { return true; });
    add("status running", [](RunFilter& f) { f.statuses = {"running"}; },
        [](const RunState& r) { return r.status == "running"; });
    add("status queued,failure", [](RunFilter& f) { f.statuses = {"queued", "failure"}; },
        [](const RunState& r) { return r.status == "queued" || r.status == "failure"; });
    add("operation scan", [](RunFilter& f) { f.operations = {"scan"}; },
        [](const RunState& r) { return r.operation == "scan"; });
    add("operation sync,promote,export", [](RunFilter& f) { f.operations = {"sync", "promote", "export"}; },
        [](const RunState& r) { return IsOneOf(r.operation, {"sync", "promote", "export"}); });
    add("status and operation", [](RunFilter& f) {
          f.statuses = {"success", "aborted"};
          f.operations = {"profile", "scan"};
        },
        [](const RunState& r) {
          return IsOneOf(r.status, {"success", "aborted"}) && IsOneOf(r.operation, {"profile", "scan"});
        });
    add("datastore ds-2", [](RunFilter& f) { f.datastore = "ds-2"; },
        [](const RunState& r) { return DatastoreOf(r) == "ds-2"; });
    add("datastore and status", [](RunFilter& f) {
          f.datastore = "ds-1";
          f.statuses = {"queued"};
        },
        [](const RunState& r) { return DatastoreOf(r) == "ds-1" && r.status == "queued"; });
    add("datastore unknown", [](RunFilter& f) { f.datastore = "ds-404"; }, [](const RunState&) { return false; });
    add("triggered_by user:alice", [](RunFilter& f) { f.triggered_by = "user:alice"; },
        [](const RunState& r) { return Actor(r) == "user:alice"; });
    add("triggered_by alice (any kind)", [](RunFilter& f) { f.triggered_by = "alice"; },
        [](const RunState& r) { return r.triggered_by.Find("id")->string() == "alice"; });
    add("triggered_by schedule:nightly with status", [](RunFilter& f) {
          f.triggered_by = "schedule:nightly";
          f.statuses = {"success", "failure"};
        },
        [](const RunState& r) { return Actor(r) == "schedule:nightly" && IsOneOf(r.status, {"success", "failure"}); });
    add("triggered_by bob", [](RunFilter& f) { f.triggered_by = "bob"; },
        [](const RunState& r) { return r.triggered_by.Find("id")->string() == "bob"; });
    add("warning true", [](RunFilter& f) { f.warning = true; }, [](const RunState& r) { return r.warning(); });
    add("warning false", [](RunFilter& f) { f.warning = false; }, [](const RunState& r) { return !r.warning(); });
    add("rerun_of", [&](RunFilter& f) { f.rerun_of = rerun_source_; },
        [&](const RunState& r) { return r.rerun_of == rerun_source_; });
    add("resumed_from", [&](RunFilter& f) { f.resumed_from = resumed_source_; },
        [&](const RunState& r) { return r.resumed_from == resumed_source_; });
    add("created_after", [&](RunFilter& f) { f.created_after_ms = group_ms_[0]; },
        [&](const RunState& r) { return r.created_at_ms > group_ms_[0]; });
    add("created_before", [&](RunFilter& f) { f.created_before_ms = group_ms_[1]; },
        [&](const RunState& r) { return r.created_at_ms < group_ms_[1]; });
    add("created between, with operation", [&](RunFilter& f) {
          f.created_after_ms = group_ms_[0];
          f.created_before_ms = group_ms_[2];
          f.operations = {"scan", "sync"};
        },
        [&](const RunState& r) {
          return r.created_at_ms > group_ms_[0] && r.created_at_ms < group_ms_[2] &&
                 IsOneOf(r.operation, {"scan", "sync"});
        });
    add("include_deleted", [](RunFilter& f) { f.include_deleted = true; }, [](const RunState&) { return true; },
        true);
    add("include_deleted with status", [](RunFilter& f) {
          f.include_deleted = true;
          f.statuses = {"failure"};
        },
        [](const RunState& r) { return r.status == "failure"; }, true);
    add("visible datastores", [](RunFilter& f) { f.visible_datastores = std::vector<std::string>{"ds-1", "ds-3"}; },
        [](const RunState& r) { return IsOneOf(DatastoreOf(r), {"ds-1", "ds-3"}); });
    add("visible datastores, none", [](RunFilter& f) { f.visible_datastores = std::vector<std::string>{}; },
        [](const RunState&) { return false; });
    add("visible datastores and a datastore outside them", [](RunFilter& f) {
          f.visible_datastores = std::vector<std::string>{"ds-1"};
          f.datastore = "ds-2";
        },
        [](const RunState&) { return false; });
    add("visible datastores with operation", [](RunFilter& f) {
          f.visible_datastores = std::vector<std::string>{"ds-2"};
          f.operations = {"materialize"};
        },
        [](const RunState& r) { return DatastoreOf(r) == "ds-2" && r.operation == "materialize"; });
    return cases;
  }
  rt::TestLedger t_;
  std::vector<Uuid> ids_;
  std::vector<std::int64_t> group_ms_;
  Uuid rerun_source_{};
  Uuid resumed_source_{};
};

TEST_F(ListingTest, EveryFilterListsExactlyTheMatchingRunsNewestFirst) {
  for (const Case& c : Cases()) {
    const auto expected = Expected(c.keep);
    EXPECT_EQ(Listed(c.filter, 7), expected) << c.name;
    EXPECT_EQ(Listed(c.filter, 1000), expected) << c.name;
    if (c.name == "no filter") {
      EXPECT_GT(expected.size(), 60u);
    }
  }
}

// Status keys are removed with SingleDelete, which drops the key and its
// removal together when they reach a table file: reopening flushes the
// memtables, and every listing must still be exact.
TEST_F(ListingTest, ListingsStayExactAfterTheIndexIsFlushedToTables) {
  ASSERT_TRUE(t_.Reopen().ok());
  for (const Case& c : Cases()) {
    EXPECT_EQ(Listed(c.filter, 1000), Expected(c.keep)) << c.name;
  }
}

// Status keys of the statuses a run leaves are SingleDeleted, and each pair
// costs every listing of that status a step until a flush: they live in a
// table of their own, and only they do.
TEST_F(ListingTest, OnlyQueuedAndRunningStatusKeysLiveInTheActiveIndex) {
  // Kind and status of every status key ('s' and 'S'), by the table that should hold it.
  std::multiset<std::string> expected_active;
  std::multiset<std::string> expected_settled;
  for (const Uuid& id : ids_) {
    const std::optional<RunState> run = t_.Get(id);
    ASSERT_TRUE(run.has_value());
    auto& expected = run->status == "queued" || run->status == "running" ? expected_active : expected_settled;
    expected.insert("s " + run->status);
    expected.insert("S " + run->status);
  }
  ASSERT_FALSE(expected_active.empty());
  ASSERT_FALSE(expected_settled.empty());
  std::multiset<std::string> active;
  std::multiset<std::string> settled;
  for (const auto& [table, key, value] :
       rt::DumpTables(t_.store(), {projections::kActiveIndexTable, projections::kRunIndexTable})) {
    if (key[0] != 's' && key[0] != 'S') {
      EXPECT_TRUE(table == projections::kRunIndexTable) << "an active_index key of kind " << key[0];
      continue;
    }
    const std::string indexed = key.substr(3, key.size() - 3 - projections::kRunIndexSuffixBytes);
    const std::string status = indexed.substr(0, indexed.find('\n'));
    (table == projections::kActiveIndexTable ? active : settled).insert(key.substr(0, 1) + " " + status);
  }
  EXPECT_EQ(active, expected_active);
  EXPECT_EQ(settled, expected_settled);
}

TEST_F(ListingTest, CountsEqualCountingTheListing) {
  for (const Case& c : Cases()) {
    RunFilter unfiltered_status = c.filter;
    unfiltered_status.statuses.clear();
    StatusCounts expected;
    for (const Uuid& id : Listed(unfiltered_status, 1000)) {
      const std::string status = t_.Get(id)->status;
      if (status == "queued") ++expected.queued;
      if (status == "running") ++expected.running;
      if (status == "success") ++expected.success;
      if (status == "failure") ++expected.failure;
      if (status == "aborted") ++expected.aborted;
    }
    auto counts = t_.queries().CountRuns(c.filter);
    ASSERT_TRUE(counts.has_value()) << c.name;
    EXPECT_EQ(counts->queued, expected.queued) << c.name;
    EXPECT_EQ(counts->running, expected.running) << c.name;
    EXPECT_EQ(counts->success, expected.success) << c.name;
    EXPECT_EQ(counts->failure, expected.failure) << c.name;
    EXPECT_EQ(counts->aborted, expected.aborted) << c.name;
  }
}

TEST_F(ListingTest, CursorStaysCorrectWhileRunsArriveAndChange) {
  RunFilter active;
  active.statuses = {"queued", "running"};
  // Runs made from now on are strictly newer than every listed one.
  rt::WaitUntilAfter(ledger::NowUnixMs());
  const std::vector<Uuid> all_before = Listed(RunFilter(), 1000);
  const std::vector<Uuid> active_before = Listed(active, 1000);
  std::vector<Uuid> all_seen;
  std::vector<Uuid> active_seen;
  std::optional<std::string> all_cursor;
  std::optional<std::string> active_cursor;
  int round = 0;
  for (bool all_done = false, active_done = false; !(all_done && active_done); ++round) {
    ASSERT_LT(round, 100);
    if (!all_done) {
      auto page = t_.queries().ListRuns(RunFilter(), 4, all_cursor);
      ASSERT_TRUE(page.has_value());
      for (const auto& run : page->items) all_seen.push_back(run.id);
      all_cursor = page->next_cursor;
      all_done = !all_cursor;
    }
    if (!active_done) {
      auto page = t_.queries().ListRuns(active, 3, active_cursor);
      ASSERT_TRUE(page.has_value());
      for (const auto& run : page->items) active_seen.push_back(run.id);
      active_cursor = page->next_cursor;
      active_done = !active_cursor;
    }
    // Between pages: new runs arrive and queued runs start (so move from one
    // status index to another).
    ASSERT_TRUE(t_.CreateRun(rt::CreatedJson("scan")).ok());
    for (const Uuid& id : active_before) {
      if (t_.Get(id)->status == "queued" && t_.Get(id)->operation != "promote") {
        ASSERT_TRUE(t_.Event(id, "started", R"({"worker":"w"})").ok());
        break;
      }
    }
  }
  EXPECT_EQ(all_seen, all_before) << "no duplicates, no misses, and no newer runs on later pages";
  EXPECT_EQ(active_seen, active_before);
}

TEST_F(ListingTest, MalformedCursorIsBadRequest) {
  for (const char* cursor : {"", "zz", "not-a-cursor", "00", "0123456789abcdef0123456789abcdef0123456789abcdeG",
                             "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF",
                             "0123456789abcdef0123456789abcdef0123456789abcdef00"}) {
    auto page = t_.queries().ListRuns(RunFilter(), 10, std::string(cursor));
    ASSERT_FALSE(page.has_value()) << cursor;
    EXPECT_EQ(page.error().code(), Code::kBadRequest) << cursor;
  }
}

// --- Audit queries over the event indexes --------------------------------------------------

class AuditTest : public ListingTest {
 protected:
  std::vector<ledger::Event> AllEvents() {
    std::vector<ledger::Event> events;
    for (std::uint64_t p = 1; p <= t_.store().size(); ++p) {
      auto event = t_.store().ReadEvent(p);
      EXPECT_TRUE(event.has_value() && event->has_value());
      events.push_back(**event);
    }
    return events;
  }
  std::vector<std::uint64_t> Audited(const AuditFilter& filter, size_t limit) {
    std::vector<std::uint64_t> positions;
    std::uint64_t after = 0;
    for (int pages = 0; pages < 10000; ++pages) {
      auto page = t_.queries().AuditEvents(filter, after, limit);
      EXPECT_TRUE(page.has_value());
      if (!page) break;
      EXPECT_LE(page->items.size(), limit);
      for (const auto& stored : page->items) positions.push_back(ledger::DecodeEvent(stored)->position);
      if (!page->next) break;
      after = *page->next;
    }
    return positions;
  }
};

TEST_F(AuditTest, EveryFilterAnswersTheMatchingEventsInPositionOrder) {
  const auto events = AllEvents();
  ASSERT_GT(events.size(), 150u);
  std::map<Uuid, RunState> runs;
  for (const auto& e : events) {
    if (!runs.count(e.run_id)) runs.emplace(e.run_id, *t_.Get(e.run_id));
  }
  const Uuid some_run = ids_[7];
  // From the second group of creations (inclusive) to the end of the third
  // (exclusive bound just after it): the later steps fall outside.
  const std::int64_t from = group_ms_[1];
  const std::int64_t to = group_ms_[2] + 1;

  struct AuditCase {
    std::string name;
    AuditFilter filter;
    std::function<bool(const ledger::Event&)> keep;
  };
  std::vector<AuditCase> cases;
  auto add = [&](std::string name, std::function<void(AuditFilter&)> set,
                 std::function<bool(const ledger::Event&)> keep) {
    AuditFilter filter;
    set(filter);
    cases.push_back({std::move(name), filter, std::move(keep)});
  };
  auto ds = [&](const ledger::Event& e) { return DatastoreOf(runs.at(e.run_id)); };
  auto op = [&](const ledger::Event& e) { return runs.at(e.run_id).operation; };
  add("everything", [](AuditFilter&) {}, [](const ledger::Event&) { return true; });
  add("type ended", [](AuditFilter& f) { f.types = {"ended"}; },
      [](const ledger::Event& e) { return e.type == "ended"; });
  add("types created,deleted,logged", [](AuditFilter& f) { f.types = {"created", "deleted", "logged"}; },
      [](const ledger::Event& e) { return IsOneOf(e.type, {"created", "deleted", "logged"}); });
  add("principal bob", [](AuditFilter& f) { f.principal = "bob"; },
      [](const ledger::Event& e) { return e.principal == "bob"; });
  add("principal and type", [](AuditFilter& f) {
        f.principal = "alice";
        f.types = {"ended"};
      },
      [](const ledger::Event& e) { return e.principal == "alice" && e.type == "ended"; });
  add("datastore ds-3", [](AuditFilter& f) { f.datastore = "ds-3"; },
      [&](const ledger::Event& e) { return ds(e) == "ds-3"; });
  add("operation promote", [](AuditFilter& f) { f.operation = "promote"; },
      [&](const ledger::Event& e) { return op(e) == "promote"; });
  add("datastore and operation and type", [](AuditFilter& f) {
        f.datastore = "ds-1";
        f.operation = "scan";
        f.types = {"started", "ended"};
      },
      [&](const ledger::Event& e) {
        return ds(e) == "ds-1" && op(e) == "scan" && IsOneOf(e.type, {"started", "ended"});
      });
  add("run_id", [&](AuditFilter& f) { f.run_id = some_run; },
      [&](const ledger::Event& e) { return e.run_id == some_run; });
  add("from", [&](AuditFilter& f) { f.from_ms = from; },
      [&](const ledger::Event& e) { return e.recorded_at_ms >= from; });
  add("to", [&](AuditFilter& f) { f.to_ms = to; }, [&](const ledger::Event& e) { return e.recorded_at_ms < to; });
  add("from, to and type", [&](AuditFilter& f) {
        f.from_ms = from;
        f.to_ms = to;
        f.types = {"created"};
      },
      [&](const ledger::Event& e) {
        return e.recorded_at_ms >= from && e.recorded_at_ms < to && e.type == "created";
      });
  add("unknown principal", [](AuditFilter& f) { f.principal = "mallory"; },
      [](const ledger::Event&) { return false; });

  for (const auto& c : cases) {
    std::vector<std::uint64_t> expected;
    for (const auto& e : events) {
      if (c.keep(e)) expected.push_back(e.position);
    }
    EXPECT_EQ(Audited(c.filter, 5), expected) << c.name;
    EXPECT_EQ(Audited(c.filter, 1000), expected) << c.name;
  }
}

TEST_F(QueriesTest, AuditIndexesSpanBlocksAcrossBatchesAndRestarts) {
  const Uuid run = t_.RunIn("scan", "running");
  // Concurrent appends share batches; the restart drops the block still
  // filling from memory, so the next append reads it back from disk.
  auto log_concurrently = [&](int n) {
    std::vector<std::future<Reply>> replies;
    for (int i = 0; i < n; ++i) {
      AppendRequest request;
      request.caller = rt::Alice();
      request.run_id = run;
      request.type = i % 3 == 0 ? "progressed" : "logged";
      request.data = i % 3 == 0 ? J(R"({"processed":1})") : J(R"({"level":"info","message":"m"})");
      replies.push_back(t_.AppendAsync(std::move(request)));
    }
    for (auto& reply : replies) ASSERT_TRUE(rt::Wait(reply).ok());
  };
  log_concurrently(150);
  ASSERT_TRUE(t_.Reopen().ok());
  log_concurrently(150);

  std::vector<std::uint64_t> logged;
  for (std::uint64_t p = 1; p <= t_.store().size(); ++p) {
    if (t_.store().ReadEvent(p)->value().type == "logged") logged.push_back(p);
  }
  ASSERT_EQ(logged.size(), 200u);
  // One key per block of kAuditBlockPositions, not one per event.
  const std::string prefix = AuditPrefix('T', "logged");
  size_t keys = 0;
  auto it = t_.store().NewIterator(kAuditTable);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) ++keys;
  EXPECT_EQ(keys, (logged.size() + kAuditBlockPositions - 1) / kAuditBlockPositions);

  AuditFilter filter;
  filter.types = {"logged"};
  for (std::uint64_t after : {std::uint64_t{0}, logged[0], logged[63], logged[64] - 1, logged[64], logged[130],
                              logged[199] - 1, logged[199]}) {
    std::vector<std::uint64_t> expected;
    for (std::uint64_t p : logged) {
      if (p > after) expected.push_back(p);
    }
    for (size_t limit : {size_t{7}, size_t{1000}}) {
      std::vector<std::uint64_t> got;
      for (std::uint64_t from = after;;) {
        auto page = q().AuditEvents(filter, from, limit);
        ASSERT_TRUE(page.has_value());
        for (const auto& stored : page->items) got.push_back(ledger::DecodeEvent(stored)->position);
        if (!page->next) break;
        from = *page->next;
      }
      EXPECT_EQ(got, expected) << "after " << after << ", limit " << limit;
    }
  }
}

TEST_F(AuditTest, FirstPositionAtOrAfterFindsTheTimeBoundary) {
  const auto events = AllEvents();
  for (const auto& e : events) {
    auto first = t_.queries().FirstPositionAtOrAfter(e.recorded_at_ms);
    ASSERT_TRUE(first.has_value());
    EXPECT_LE(*first, e.position);
    EXPECT_EQ(events[*first - 1].recorded_at_ms, e.recorded_at_ms);
    if (*first > 1) {
      EXPECT_LT(events[*first - 2].recorded_at_ms, e.recorded_at_ms);
    }
  }
  EXPECT_EQ(*t_.queries().FirstPositionAtOrAfter(events.back().recorded_at_ms + 1), events.size() + 1);
  EXPECT_EQ(*t_.queries().FirstPositionAtOrAfter(0), 1u);
}

}  // namespace
}  // namespace runledger::projections
