#pragma once

// Helpers for the projections tests: a RunLedger in its own temporary
// directory with a synchronous face over its asynchronous commands (submit,
// then wait on a future with a deadline), builders for run payloads and
// events, and dumps of tables for byte-for-byte comparisons.
//
// Not thread-safe: one test thread drives a TestLedger (the ledger's own
// committer thread answers the futures).

#include <chrono>
#include <future>
#include <ostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "ledger/event_store.h"
#include "ledger/json.h"
#include "projections/queries.h"
#include "projections/run_ledger.h"
#include "tests/testing/temp_dir.h"

namespace runledger::ledger {
// Lets gtest print a Json (in canonical form) on failure.
void PrintTo(const Json& value, std::ostream* os);
}  // namespace runledger::ledger

namespace runledger::testing {

using ledger::Json;
using ledger::Uuid;
using projections::Action;
using projections::Caller;
using projections::RunState;

// How long a test waits for one command's answer before failing.
inline constexpr std::chrono::seconds kReplyDeadline{60};

// What a command's Done callback received.
struct Reply {
  Status status;
  projections::Outcome outcome;

  bool ok() const { return status.ok(); }
  // The run the outcome carries; fails the test (and returns an empty
  // state) when there is none.
  const RunState& run() const;
  Uuid run_id() const { return run().id; }
};

// Parses JSON written in a test. A parse error fails the test and yields null.
Json J(std::string_view text);

// A `created` payload: {"operation", "datastore": {"id"}, "triggered_by":
// {"kind":"user","id":"alice"}} plus `extra_members` (JSON members without
// the braces, e.g. R"("containers":["a","b"])").
std::string CreatedJson(std::string_view operation, std::string_view datastore = "ds-1",
                        std::string_view extra_members = "");

Caller Alice();
Caller Bob();

// Waits at most kReplyDeadline; a late reply fails the test.
Reply Wait(std::future<Reply>& future);

class TestLedger {
 public:
  TestLedger();  // opens a fresh ledger with the committer running
  ~TestLedger();
  TestLedger(const TestLedger&) = delete;
  TestLedger& operator=(const TestLedger&) = delete;

  // Closes the store (answering nothing new) and opens the same directory
  // again; with start_committer false only reads and rebuilds work.
  Status Reopen(bool start_committer = true);
  // Offline, with a rebuild folding `batch_events` events at a time.
  Status ReopenForRebuild(size_t batch_events);
  void Close();

  projections::RunLedger& ledger() { return *ledger_; }
  ledger::EventStore& store() { return ledger_->store(); }
  projections::RunQueries queries() { return projections::RunQueries(store()); }
  const std::string& dir() const { return dir_str_; }

  std::future<Reply> CreateAsync(projections::CreateRunRequest request);
  std::future<Reply> AppendAsync(projections::AppendRequest request);
  std::future<Reply> ActAsync(projections::ActionRequest request);
  Reply Create(projections::CreateRunRequest request);
  Reply Append(projections::AppendRequest request);
  Reply Act(projections::ActionRequest request);

  // Shorthands: `data` is JSON text.
  Reply CreateRun(std::string_view data, Caller caller = Alice());
  Reply Event(const Uuid& run, std::string type, std::string_view data,
              std::optional<std::string> client_event_id = std::nullopt);
  Reply Do(const Uuid& run, Action action, Caller caller = Alice(),
           std::optional<std::string> reason = std::nullopt);

  // Creates a run and drives it to `status` (queued, running, success,
  // failure, aborted) or "deleted" (ended with failure, then deleted). A
  // promote run cannot be queued. Fails the test when a step is refused.
  Uuid RunIn(std::string_view operation, std::string_view status,
             std::string_view extra_members = R"("containers":["a","b","c"])");

  // The run as stored now (deleted runs included).
  std::optional<RunState> Get(const Uuid& id);
  // The stored run record bytes; empty when there is none.
  std::string RecordBytes(const Uuid& id);

 private:
  Status Open(ledger::StoreOptions options);

  TempDir dir_;
  std::string dir_str_;
  std::unique_ptr<projections::RunLedger> ledger_;
};

// Every (table, key, value) of the given tables, in table then key order.
using TableDump = std::vector<std::tuple<ledger::TableId, std::string, std::string>>;
TableDump DumpTables(ledger::EventStore& store, const std::vector<ledger::TableId>& tables);
// kRunsTable .. kActiveIndexTable.
std::vector<ledger::TableId> ProjectionTables();
// The projection tables plus the ledger's events, streams and client ids
// (not merkle/meta: checkpoints are signed in the background).
std::vector<ledger::TableId> ContentTables();
// Empty when equal, else a description of the first difference.
std::string FirstDifference(const TableDump& before, const TableDump& after);

// Waits (without sleeping) until the wall clock has passed `ms`, so the
// next batch gets a later recorded_at. Returns the new time.
std::int64_t WaitUntilAfter(std::int64_t ms);

}  // namespace runledger::testing
