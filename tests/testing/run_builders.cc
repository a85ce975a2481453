#include "tests/testing/run_builders.h"

#include <gtest/gtest.h>

#include <thread>

#include "ledger/canonical_json.h"
#include "ledger/time.h"
#include "ledger/uuid.h"
#include "projections/tables.h"

namespace runledger::ledger {
void PrintTo(const Json& value, std::ostream* os) { *os << Canonical(value); }
}  // namespace runledger::ledger

namespace runledger::testing {
namespace {

projections::Done Fulfil(std::shared_ptr<std::promise<Reply>> promise) {
  return [promise = std::move(promise)](const Status& status, projections::Outcome outcome) {
    promise->set_value(Reply{status, std::move(outcome)});
  };
}

std::string Printable(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace

const RunState& Reply::run() const {
  static const RunState kEmpty;
  if (!outcome.run) {
    ADD_FAILURE() << "the reply carries no run (status " << status.ToString() << ")";
    return kEmpty;
  }
  return *outcome.run;
}

Json J(std::string_view text) {
  auto parsed = ledger::ParseJson(text);
  if (!parsed) {
    ADD_FAILURE() << "test JSON does not parse: " << parsed.error().ToString() << "\n" << text;
    return Json();
  }
  return std::move(*parsed);
}

std::string CreatedJson(std::string_view operation, std::string_view datastore,
                        std::string_view extra_members) {
  std::string out = R"({"operation":")" + std::string(operation) + R"(","datastore":{"id":")" +
                    std::string(datastore) + R"("},"triggered_by":{"kind":"user","id":"alice"})";
  if (!extra_members.empty()) out += "," + std::string(extra_members);
  out += "}";
  return out;
}

Caller Alice() { return Caller{"alice", false}; }
Caller Bob() { return Caller{"bob", false}; }

Reply Wait(std::future<Reply>& future) {
  if (future.wait_for(kReplyDeadline) != std::future_status::ready) {
    ADD_FAILURE() << "no reply within " << kReplyDeadline.count() << " s";
    return Reply{Status::Internal("no reply within the deadline"), {}};
  }
  return future.get();
}

TestLedger::TestLedger() : dir_str_(dir_.str()) {
  const Status s = Reopen(true);
  if (!s.ok()) ADD_FAILURE() << "cannot open the ledger: " << s.ToString();
}

TestLedger::~TestLedger() { Close(); }

void TestLedger::Close() { ledger_.reset(); }

Status TestLedger::Reopen(bool start_committer) {
  ledger::StoreOptions options;
  options.start_committer = start_committer;
  return Open(options);
}

Status TestLedger::ReopenForRebuild(size_t batch_events) {
  ledger::StoreOptions options;
  options.start_committer = false;
  options.rebuild_batch_events = batch_events;
  return Open(options);
}

Status TestLedger::Open(ledger::StoreOptions options) {
  Close();
  options.data_dir = dir_str_;
  auto opened = projections::RunLedger::Open(options);
  if (!opened) return opened.error();
  ledger_ = std::move(*opened);
  return Status::Ok();
}

std::future<Reply> TestLedger::CreateAsync(projections::CreateRunRequest request) {
  auto promise = std::make_shared<std::promise<Reply>>();
  auto future = promise->get_future();
  ledger_->CreateRun(std::move(request), Fulfil(std::move(promise)));
  return future;
}

std::future<Reply> TestLedger::AppendAsync(projections::AppendRequest request) {
  auto promise = std::make_shared<std::promise<Reply>>();
  auto future = promise->get_future();
  ledger_->AppendEvent(std::move(request), Fulfil(std::move(promise)));
  return future;
}

std::future<Reply> TestLedger::ActAsync(projections::ActionRequest request) {
  auto promise = std::make_shared<std::promise<Reply>>();
  auto future = promise->get_future();
  ledger_->Act(std::move(request), Fulfil(std::move(promise)));
  return future;
}

Reply TestLedger::Create(projections::CreateRunRequest request) {
  auto future = CreateAsync(std::move(request));
  return Wait(future);
}

Reply TestLedger::Append(projections::AppendRequest request) {
  auto future = AppendAsync(std::move(request));
  return Wait(future);
}

Reply TestLedger::Act(projections::ActionRequest request) {
  auto future = ActAsync(std::move(request));
  return Wait(future);
}

Reply TestLedger::CreateRun(std::string_view data, Caller caller) {
  projections::CreateRunRequest request;
  request.caller = std::move(caller);
  request.data = J(data);
  return Create(std::move(request));
}

Reply TestLedger::Event(const Uuid& run, std::string type, std::string_view data,
                        std::optional<std::string> client_event_id) {
  projections::AppendRequest request;
  request.caller = Alice();
  request.run_id = run;
  request.type = std::move(type);
  request.data = J(data);
  request.client_event_id = std::move(client_event_id);
  return Append(std::move(request));
}

Reply TestLedger::Do(const Uuid& run, Action action, Caller caller, std::optional<std::string> reason) {
  projections::ActionRequest request;
  request.caller = std::move(caller);
  request.run_id = run;
  request.action = action;
  request.reason = std::move(reason);
  return Act(std::move(request));
}

Uuid TestLedger::RunIn(std::string_view operation, std::string_view status,
                       std::string_view extra_members) {
  const Reply created = CreateRun(CreatedJson(operation, "ds-1", extra_members));
  if (!created.ok()) {
    ADD_FAILURE() << "create " << operation << ": " << created.status.ToString();
    return Uuid{};
  }
  const Uuid id = created.run_id();
  auto step = [&](const Reply& reply, std::string_view what) {
    if (!reply.ok()) ADD_FAILURE() << operation << " to " << status << ": " << what << ": "
                                   << reply.status.ToString();
  };
  if (status == "queued") {
    if (operation == "promote") ADD_FAILURE() << "a promote run is never queued";
    return id;
  }
  if (status == "aborted") {
    step(Do(id, Action::kAbort), "abort");
    return id;
  }
  if (operation != "promote") step(Event(id, "started", R"({"worker":"w1"})"), "started");
  if (status == "running") return id;
  if (status == "success") {
    step(Event(id, "ended", R"({"status":"success"})"), "ended");
  } else if (status == "failure" || status == "deleted") {
    step(Event(id, "ended", R"({"status":"failure","error":{"message":"boom"}})"), "ended");
    if (status == "deleted") step(Do(id, Action::kDelete), "delete");
  } else {
    ADD_FAILURE() << "unknown status " << status;
  }
  return id;
}

std::optional<RunState> TestLedger::Get(const Uuid& id) {
  auto run = queries().GetRun(id);
  if (!run) {
    ADD_FAILURE() << "GetRun: " << run.error().ToString();
    return std::nullopt;
  }
  return *run;
}

std::string TestLedger::RecordBytes(const Uuid& id) {
  auto bytes = store().Get(projections::kRunsTable, projections::RunKey(id));
  if (!bytes) {
    ADD_FAILURE() << "reading the run record: " << bytes.error().ToString();
    return {};
  }
  return bytes->value_or(std::string());
}

TableDump DumpTables(ledger::EventStore& store, const std::vector<ledger::TableId>& tables) {
  TableDump dump;
  for (ledger::TableId table : tables) {
    auto it = store.NewIterator(table);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      dump.emplace_back(table, std::string(it->key()), std::string(it->value()));
    }
    const Status s = it->status();
    if (!s.ok()) ADD_FAILURE() << "iterating table " << table << ": " << s.ToString();
  }
  return dump;
}

std::vector<ledger::TableId> ProjectionTables() {
  return {projections::kRunsTable, projections::kRunIndexTable, projections::kRunCountsTable,
          projections::kAuditTable, projections::kIdempotencyTable, projections::kActiveIndexTable};
}

std::vector<ledger::TableId> ContentTables() {
  std::vector<ledger::TableId> tables = {ledger::kEventsTable, ledger::kStreamsTable,
                                         ledger::kClientIdsTable};
  for (ledger::TableId table : ProjectionTables()) tables.push_back(table);
  return tables;
}

std::string FirstDifference(const TableDump& before, const TableDump& after) {
  const size_t common = std::min(before.size(), after.size());
  for (size_t i = 0; i < common; ++i) {
    if (before[i] == after[i]) continue;
    const auto& [t1, k1, v1] = before[i];
    const auto& [t2, k2, v2] = after[i];
    return "entry " + std::to_string(i) + " differs:\n  before: table " + std::to_string(t1) +
           " key " + Printable(k1) + " value " + Printable(v1) + "\n  after:  table " +
           std::to_string(t2) + " key " + Printable(k2) + " value " + Printable(v2);
  }
  if (before.size() != after.size()) {
    const TableDump& longer = before.size() > after.size() ? before : after;
    const auto& [t, k, v] = longer[common];
    return std::string(before.size() > after.size() ? "before" : "after") + " has " +
           std::to_string(longer.size() - common) + " more entries, first: table " +
           std::to_string(t) + " key " + Printable(k) + " value " + Printable(v);
  }
  return {};
}

std::int64_t WaitUntilAfter(std::int64_t ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::int64_t now = ledger::NowUnixMs();
  while (now <= ms && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
    now = ledger::NowUnixMs();
  }
  if (now <= ms) ADD_FAILURE() << "the clock did not pass " << ms;
  return now;
}

}  // namespace runledger::testing
