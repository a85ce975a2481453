#include "tools/reliability/crash_check.h"

#include "ledger/json.h"

namespace runledger::tools::reliability {
namespace {

using ledger::Json;

constexpr const char* kPageLimit = "1000";

Result<Json> GetJson(HttpConnection& connection, const std::string& target) {
  const HttpResponse response = connection.Send("GET", target);
  if (response.status != 200) {
    return Status::Internal("GET " + target + " answered " + std::to_string(response.status) + " " +
                            response.error + response.body.substr(0, 300));
  }
  ledger::JsonParseOptions options;
  options.allow_large_integer_literals = true;
  auto body = ledger::ParseJson(response.body, options);
  if (!body || !body->is_object())
    return Status::Internal("GET " + target + ": the body is not a JSON object");
  return body;
}

double NumberOr(const Json& json, std::string_view key, double fallback) {
  const Json* value = json.Find(key);
  return value && value->is_number() ? value->number() : fallback;
}

std::string StringOr(const Json& json, std::string_view key) {
  const Json* value = json.Find(key);
  return value && value->is_string() ? value->string() : "";
}

LedgerEvent FromJson(const Json& item) {
  LedgerEvent event;
  event.position = static_cast<std::uint64_t>(NumberOr(item, "position", 0));
  event.run_id = StringOr(item, "run_id");
  event.seq = static_cast<std::uint32_t>(NumberOr(item, "seq", 0));
  event.client_id = StringOr(item, "id");
  event.type = StringOr(item, "type");
  if (event.client_id.empty() && event.type == "created") event.client_id = kCreatedKey;
  return event;
}

std::string Name(const EventKey& key) { return key.run_id + "/" + key.client_id; }

}  // namespace

Result<LedgerScan> ScanLedger(HttpConnection& auditor) {
  LedgerScan scan;
  std::uint64_t after = 0;
  for (;;) {
    auto page = GetJson(
        auditor, "/v1/events?limit=" + std::string(kPageLimit) + "&after=" + std::to_string(after));
    if (!page) return page.error();
    const Json* items = page->Find("items");
    const Json* next = page->Find("next_after");
    if (!items || !items->is_array() || !next)
      return Status::Internal("GET /v1/events: no items or next_after");
    for (const Json& item : items->array()) {
      LedgerEvent event = FromJson(item);
      const size_t index = scan.events.size();
      scan.by_run[event.run_id].push_back(index);
      if (!event.client_id.empty()) {
        // A duplicate key is a violation CheckScan reports; keep the first.
        scan.by_key.emplace(EventKey{event.run_id, event.client_id}, index);
      }
      scan.events.push_back(std::move(event));
    }
    if (next->is_null()) return scan;
    const auto next_after = static_cast<std::uint64_t>(next->number());
    if (next_after <= after) return Status::Internal("GET /v1/events: next_after does not advance");
    after = next_after;
  }
}

void Checker::CheckScan(const LedgerScan& scan) {
  for (size_t i = 0; i < scan.events.size(); ++i) {
    if (scan.events[i].position != i + 1) {
      book_.Violation("ledger position gap: the event at index " + std::to_string(i) +
                      " has position " + std::to_string(scan.events[i].position));
      break;
    }
  }
  std::map<EventKey, int> seen;
  for (const auto& event : scan.events) {
    if (event.client_id.empty()) {
      book_.Violation("an event without client id at position " + std::to_string(event.position));
    } else if (++seen[{event.run_id, event.client_id}] == 2) {
      book_.Violation("event " + event.run_id + "/" + event.client_id + " is stored twice");
    }
  }
  for (const auto& [run_id, indexes] : scan.by_run) {
    for (size_t i = 0; i < indexes.size(); ++i) {
      if (scan.events[indexes[i]].seq != i + 1) {
        book_.Violation("run " + run_id + ": seq gap, event " + std::to_string(i + 1) +
                        " has seq " + std::to_string(scan.events[indexes[i]].seq));
        break;
      }
    }
  }
}

void Checker::CheckAcked(const LedgerScan& scan, CycleFigures* figures) {
  for (const auto& [key, placement] : book_.AckedSnapshot()) {
    auto it = scan.by_key.find(key);
    if (it == scan.by_key.end()) {
      ++figures->lost;
      book_.Violation("LOST: acknowledged event " + Name(key) + " (seq " +
                      std::to_string(placement.seq) + ", position " +
                      std::to_string(placement.position) + ") is not in the ledger");
      continue;
    }
    const LedgerEvent& stored = scan.events[it->second];
    if (stored.seq != placement.seq ||
        (placement.position != 0 && stored.position != placement.position)) {
      book_.Violation("event " + Name(key) + " was acknowledged at seq " +
                      std::to_string(placement.seq) + " position " +
                      std::to_string(placement.position) + " but is stored at seq " +
                      std::to_string(stored.seq) + " position " + std::to_string(stored.position));
    }
    ++figures->acked_checked;
  }
}

void Checker::ResolveInDoubt(const LedgerScan& scan, HttpConnection& writer,
                             std::set<std::string>* touched, CycleFigures* figures) {
  std::vector<InDoubt> in_doubt = book_.TakeInDoubt();
  std::set<EventKey> may_exist;
  for (const auto& item : in_doubt) {
    if (item.sent) may_exist.insert(item.op.keys.begin(), item.op.keys.end());
  }
  // Every stored event is acknowledged or was in flight at the kill.
  for (const auto& event : scan.events) {
    const EventKey key{event.run_id, event.client_id};
    if (!book_.Acked(key) && !may_exist.contains(key)) {
      book_.Violation("event " + Name(key) + " at position " + std::to_string(event.position) +
                      " is stored but was never acknowledged nor in flight at a kill");
    }
  }
  for (auto& item : in_doubt) {
    ++figures->in_doubt_ops;
    Writer& owner = *writers_[item.writer];
    std::vector<bool> stored;
    for (const auto& key : item.op.keys) {
      stored.push_back(scan.by_key.contains(key));
      ++(stored.back() ? figures->in_doubt_stored : figures->in_doubt_absent);
      touched->insert(key.run_id);
      if (stored.back() && !item.sent) {
        book_.Violation("event " + Name(key) + " is stored though its request never connected");
      }
    }
    const HttpResponse response =
        writer.Send("POST", item.op.target, item.op.body, {}, item.op.content_type);
    auto answers = ParseAnswer(item.op, response);
    if (!answers) {
      book_.Violation("retrying an in-doubt write: " + answers.error().message() + " " +
                      response.error);
      owner.Abandon();
      continue;
    }
    bool ok = true;
    for (size_t i = 0; i < answers->size(); ++i) {
      EventAnswer& answer = (*answers)[i];
      const EventKey& key = item.op.keys[i];
      if (answer.status != (stored[i] ? 200u : 201u)) {
        ok = false;
        book_.Violation("retry of in-doubt event " + Name(key) + " answered " +
                        std::to_string(answer.status) +
                        (stored[i] ? " though it is stored (expected 200)"
                                   : " though it is absent (expected 201)"));
      }
      if (stored[i]) {
        const LedgerEvent& event = scan.events[scan.by_key.at(key)];
        if (answer.placement.position == 0) answer.placement.position = event.position;
        if (answer.placement != Placement{event.seq, event.position}) {
          ok = false;
          book_.Violation("retry of stored event " + Name(key) + " answered another seq/position");
        }
      }
      ok = book_.Ack(key, answer.placement) && ok;
    }
    if (ok) {
      owner.Applied(item.op);
    } else {
      owner.Abandon();
    }
  }
}

void Checker::CheckRun(HttpConnection& admin, const LedgerScan& scan, const std::string& run_id) {
  auto run = GetJson(admin, "/v1/runs/" + run_id);
  const auto it = scan.by_run.find(run_id);
  const size_t count = it == scan.by_run.end() ? 0 : it->second.size();
  if (!run) {
    book_.Violation(run.error().message());
    return;
  }
  if (NumberOr(*run, "version", -1) != static_cast<double>(count)) {
    book_.Violation("run " + run_id + ": projected version " +
                    std::to_string(NumberOr(*run, "version", -1)) + " but the ledger holds " +
                    std::to_string(count) + " events");
  }
  std::vector<std::uint64_t> positions;
  std::uint64_t after_seq = 0;
  for (;;) {
    auto page = GetJson(admin, "/v1/runs/" + run_id + "/events?limit=" + kPageLimit +
                                   "&after_seq=" + std::to_string(after_seq));
    if (!page) {
      book_.Violation(page.error().message());
      return;
    }
    const Json* items = page->Find("items");
    const Json* next = page->Find("next_after_seq");
    if (!items || !items->is_array() || !next)
      return book_.Violation("run events page without items");
    for (const Json& item : items->array())
      positions.push_back(static_cast<std::uint64_t>(NumberOr(item, "position", 0)));
    if (next->is_null()) break;
    after_seq = static_cast<std::uint64_t>(next->number());
  }
  std::vector<std::uint64_t> expected;
  if (it != scan.by_run.end()) {
    for (size_t index : it->second) expected.push_back(scan.events[index].position);
  }
  if (positions != expected) {
    book_.Violation("run " + run_id + ": GET /v1/runs/{id}/events lists " +
                    std::to_string(positions.size()) + " events, the ledger " +
                    std::to_string(expected.size()) + " (or at other positions)");
  }
}

CycleFigures Checker::Check(HttpConnection& admin, HttpConnection& writer, bool all_runs) {
  CycleFigures figures;
  auto scan = ScanLedger(admin);
  if (!scan) {
    book_.Violation("reading the ledger: " + scan.error().message());
    return figures;
  }
  figures.events = scan->events.size();
  CheckScan(*scan);
  CheckAcked(*scan, &figures);
  std::set<std::string> touched;
  ResolveInDoubt(*scan, writer, &touched, &figures);
  if (figures.in_doubt_ops > 0) {
    // The retries appended what had not been stored: read the ledger again
    // for the checks below.
    scan = ScanLedger(admin);
    if (!scan) {
      book_.Violation("reading the ledger: " + scan.error().message());
      return figures;
    }
    CheckScan(*scan);
  }
  for (const auto& [run_id, version] : book_.ObservedSnapshot()) {
    auto it = scan->by_run.find(run_id);
    const size_t count = it == scan->by_run.end() ? 0 : it->second.size();
    if (count < version) {
      book_.Violation("run " + run_id + ": a reader saw version " + std::to_string(version) +
                      " before the kill; the ledger now holds " + std::to_string(count) +
                      " events");
    }
  }
  for (const auto& event : scan->events) {
    if (all_runs || event.position > checked_size_) touched.insert(event.run_id);
  }
  for (const auto& run_id : touched) CheckRun(admin, *scan, run_id);
  figures.runs_checked = touched.size();
  checked_size_ = scan->events.size();
  return figures;
}

Result<ProjectionSnapshot> SnapshotProjections(HttpConnection& admin,
                                               const std::vector<std::string>& runs) {
  ProjectionSnapshot snapshot;
  auto get = [&](const std::string& target) -> Status {
    const HttpResponse response = admin.Send("GET", target);
    if (response.status != 200) {
      return Status::Internal("GET " + target + " answered " + std::to_string(response.status) +
                              response.error);
    }
    snapshot[target] = response.body + "\nETag: " + response.header("etag");
    return Status::Ok();
  };
  for (const auto& run : runs) RUNLEDGER_RETURN_IF_ERROR(get("/v1/runs/" + run));
  for (const char* target :
       {"/v1/runs/counts", "/v1/runs/counts?operation=scan", "/v1/runs/counts?datastore=ds-0",
        "/v1/runs/counts?triggered_by=api:crash-harness", "/v1/runs/counts?warning=true"}) {
    RUNLEDGER_RETURN_IF_ERROR(get(target));
  }
  std::string cursor;
  for (int page = 0;; ++page) {
    const std::string target = "/v1/runs?limit=1000" + (cursor.empty() ? "" : "&cursor=" + cursor);
    auto body = GetJson(admin, target);
    if (!body) return body.error();
    const Json* items = body->Find("items");
    std::string ids;
    if (items && items->is_array()) {
      for (const Json& item : items->array())
        ids += StringOr(item, "id") + "@" + std::to_string(NumberOr(item, "version", 0)) + " ";
    }
    snapshot["listing page " + std::to_string(page)] = ids;
    cursor = StringOr(*body, "next_cursor");
    if (cursor.empty()) break;
  }
  return snapshot;
}

std::vector<std::string> CompareSnapshots(const ProjectionSnapshot& before,
                                          const ProjectionSnapshot& after, size_t max) {
  std::vector<std::string> differences;
  for (const auto& [target, body] : before) {
    if (differences.size() >= max) break;
    auto it = after.find(target);
    if (it == after.end()) {
      differences.push_back(target + ": missing after the rebuild");
    } else if (it->second != body) {
      differences.push_back(target + ": before " + body.substr(0, 300) + " | after " +
                            it->second.substr(0, 300));
    }
  }
  if (after.size() != before.size() && differences.size() < max) {
    differences.push_back("the snapshots hold " + std::to_string(before.size()) + " and " +
                          std::to_string(after.size()) + " targets");
  }
  return differences;
}

}  // namespace runledger::tools::reliability
