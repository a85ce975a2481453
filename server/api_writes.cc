// Routes that append: POST /v1/runs, POST /v1/runs/{id}/events,
// POST /v1/events (bulk NDJSON) and the run actions.

#include <atomic>

#include "ledger/json.h"
#include "ledger/uuid.h"
#include "projections/validation.h"
#include "server/internal/api_call.h"
#include "server/ndjson.h"

namespace runledger::server {
namespace {

std::optional<std::string> OptionalString(const Json& body, std::string_view key) {
  const Json* value = body.Find(key);
  return value && value->is_string() ? std::optional<std::string>(value->string()) : std::nullopt;
}

}  // namespace

std::optional<RunState> Api::Call::ConflictRun(const Status& status, std::optional<RunState> run,
                                               const std::optional<ledger::Uuid>& id) {
  if (run || !id || status.code() != Code::kConflict) return run;
  auto now = api_.queries_.GetRun(*id);
  if (!now || !now->has_value() || !principal_->CanView(projections::DatastoreId(**now))) return std::nullopt;
  return std::move(**now);
}

void Api::Call::CreateRun() {
  route_ = "create_run";
  if (principal_->role == Role::kAuditor) {
    return Problem(403, "forbidden", "your role may not create runs");
  }
  if (!RequireJsonBody() || !RequireValidIdempotencyKey()) return;
  auto body = ledger::ParseJson(std::string_view(request_.body()));
  if (!body) return Fail(body.error());
  if (!body->is_object()) return Fail(Status::Schema("the body must be a JSON object"));
  projections::CreateRunRequest create;
  create.caller = CallerOf();
  create.idempotency_key_sha256 = IdempotencyKeyHash();
  if (const Json* run_id = body->Find("run_id")) {
    const auto id = run_id->is_string() ? ledger::ParseUuid(run_id->string()) : std::nullopt;
    if (!id) return Fail(Status::Schema("run_id must be a UUID"));
    create.run_id = id;
    body->Erase("run_id");
  }
  if (principal_->role == Role::kMember) {
    const Json* ds = body->Find("datastore");
    const Json* ds_id = ds ? ds->Find("id") : nullptr;
    if (ds_id && ds_id->is_string() && !principal_->CanEdit(ds_id->string())) {
      return Problem(403, "forbidden", "you are not an editor of datastore " + ds_id->string());
    }
  }
  create.data = std::move(*body);
  auto self = shared_from_this();
  const std::optional<ledger::Uuid> run_id = create.run_id;
  api_.ledger_.CreateRun(std::move(create), OnIoThread([self, run_id](const Status& status,
                                                                             projections::Outcome outcome) {
    if (!status.ok()) return self->Fail(status, self->ConflictRun(status, std::move(outcome.run), run_id));
    const bool existing_run = outcome.repeated && !self->IdempotencyKeyHash();
    Response response = self->Json200(existing_run ? 200 : 201, projections::RunJson(*outcome.run));
    const std::string id = ledger::FormatUuid(outcome.run->id);
    response.set(http::field::location, "/v1/runs/" + id);
    if (outcome.event) response.set("X-Ledger-Position", std::to_string(outcome.event->position));
    self->Send(std::move(response));
  }));
}

void Api::Call::AppendEvent(const std::string& run_id) {
  route_ = "append_event";
  if (!RequireRole({Role::kWorker})) return;
  if (!RequireJsonBody()) return;
  const auto id = ledger::ParseUuid(run_id);
  if (!id) return Problem(404, "run_not_found", "no run " + run_id);
  auto body = ledger::ParseJson(std::string_view(request_.body()));
  if (!body) return Fail(body.error());
  if (Status valid = projections::ValidateEventEnvelope(*body, false); !valid.ok()) return Fail(valid);
  projections::AppendRequest append;
  append.caller = CallerOf();
  append.run_id = *id;
  append.type = body->Find("type")->string();
  append.data = std::move(*body->Find("data"));
  append.client_event_id = OptionalString(*body, "id");
  append.occurred_at = OptionalString(*body, "occurred_at");
  if (const std::string if_match = Header(http::field::if_match); !if_match.empty()) {
    std::string digits = if_match;
    if (digits.size() >= 2 && digits.front() == '"' && digits.back() == '"') digits = digits.substr(1, digits.size() - 2);
    std::uint32_t version = 0;
    for (char c : digits) {
      if (c < '0' || c > '9' || version > 100000000) return Problem(412, "version_conflict", "If-Match must be \"<version>\"");
      version = version * 10 + static_cast<std::uint32_t>(c - '0');
    }
    append.if_match = version;
  }
  auto self = shared_from_this();
  api_.ledger_.AppendEvent(std::move(append), OnIoThread([self, id](const Status& status, projections::Outcome outcome) {
    if (!status.ok()) return self->Fail(status, self->ConflictRun(status, std::move(outcome.run), id));
    Response response = self->Json200(outcome.repeated ? 200 : 201, outcome.event->stored);
    response.set("X-Ledger-Position", std::to_string(outcome.event->position));
    self->Send(std::move(response));
  }));
}

void Api::Call::RunAction(const std::string& run_id, projections::Action action) {
  route_ = std::string("run_") + std::string(projections::ActionName(action));
  if (principal_->role == Role::kAuditor || principal_->role == Role::kWorker) {
    // Such a caller can view every run, so 403 leaks nothing; still answer
    // 404 for runs that do not exist.
    if (!VisibleRun(run_id, false)) return;
    return Problem(403, "forbidden", "your role may not act on runs");
  }
  if (!RequireJsonBody() || !RequireValidIdempotencyKey()) return;
  std::optional<std::string> reason;
  if (!request_.body().empty()) {
    auto body = ledger::ParseJson(std::string_view(request_.body()));
    if (!body) return Fail(body.error());
    if (!body->is_object()) return Fail(Status::Schema("the body must be a JSON object"));
    const bool takes_reason = action == projections::Action::kAbort || action == projections::Action::kDelete;
    for (const auto& [key, value] : body->object()) {
      if (key != "reason" || !takes_reason) return Fail(Status::Schema("unknown member \"" + key + "\""));
      if (!value.is_string()) return Fail(Status::Schema("reason must be a string"));
      reason = value.string();
    }
  }
  auto run = VisibleRun(run_id, false);
  if (!run) return;
  if (!principal_->CanEdit(run->datastore_id)) {
    return Problem(403, "forbidden", "you are not an editor of this run's datastore");
  }
  projections::ActionRequest act;
  act.caller = CallerOf();
  act.run_id = run->id;
  act.action = action;
  act.reason = std::move(reason);
  if (action != projections::Action::kDelete) act.idempotency_key_sha256 = IdempotencyKeyHash();
  auto self = shared_from_this();
  api_.ledger_.Act(std::move(act), OnIoThread([self, action](const Status& status, projections::Outcome outcome) {
    if (!status.ok()) return self->Fail(status, outcome.run);
    Response response(http::status::no_content, self->request_.version());
    if (action != projections::Action::kDelete) {
      const bool creates = action != projections::Action::kAbort;
      response = self->Json200(creates ? 201 : 200, projections::RunJson(*outcome.run));
      if (creates) response.set(http::field::location, "/v1/runs/" + ledger::FormatUuid(outcome.run->id));
    }
    if (outcome.event) response.set("X-Ledger-Position", std::to_string(outcome.event->position));
    self->Send(std::move(response));
  }));
}

// A line's answer: a problem found while parsing, or what the ledger said.
// The ledger's callbacks only record it; the lines are written on the I/O
// thread once all are in, so the committer does not format them.
struct Api::Call::BulkLine {
  size_t line_number = 0;
  std::string problem;  // set when refused before reaching the ledger
  Status status;
  bool repeated = false;
  ledger::Uuid run_id{};
  std::uint32_t seq = 0;
  std::uint64_t position = 0;
  ledger::Hash hash{};
};

struct Api::Call::BulkIngestState {
  std::vector<BulkLine> results;
  std::atomic<size_t> pending{1};  // one for the submitting loop
};

// Each line is judged alone and answered in order; all lines are submitted
// at once so they share group commits.
void Api::Call::BulkIngest() {
  route_ = "bulk_ingest";
  if (!RequireRole({Role::kWorker})) return;
  if (!RequireJsonBody("application/x-ndjson")) return;
  auto bulk = std::make_shared<BulkIngestState>();
  auto self = shared_from_this();
  auto finish = [self, bulk] {
    if (bulk->pending.fetch_sub(1) != 1) return;
    self->exchange_->Defer([self, bulk] { self->AnswerBulk(*bulk); });
  };
  // Parse every line first: results must not grow while answers arrive.
  std::vector<std::pair<size_t, projections::AppendRequest>> accepted;
  for (const NdjsonLine& entry : SplitNdjsonLines(request_.body())) {
    const size_t slot = bulk->results.size();
    bulk->results.emplace_back().line_number = entry.number;
    auto problem = [&](const Status& status) { bulk->results[slot].problem = LineProblem(status, entry.number); };
    if (entry.text.size() > api_.options_.bulk_line_limit_bytes) {
      problem(Status(Code::kPayloadTooLarge, "payload_too_large", "the line is over 1 MiB"));
      continue;
    }
    auto event = ledger::ParseJson(entry.text);
    if (!event) {
      problem(event.error());
      continue;
    }
    if (Status valid = projections::ValidateEventEnvelope(*event, true); !valid.ok()) {
      problem(valid);
      continue;
    }
    projections::AppendRequest append;
    append.caller = CallerOf();
    append.run_id = *ledger::ParseUuid(event->Find("run_id")->string());
    append.type = event->Find("type")->string();
    append.data = std::move(*event->Find("data"));
    append.client_event_id = OptionalString(*event, "id");
    append.occurred_at = OptionalString(*event, "occurred_at");
    accepted.emplace_back(slot, std::move(append));
  }
  bulk->pending.fetch_add(accepted.size());
  for (auto& entry : accepted) {
    // Not a structured binding: clang before 16 cannot capture one.
    const size_t slot = entry.first;
    api_.ledger_.AppendEvent(std::move(entry.second), [bulk, slot, finish](const Status& status,
                                                                          projections::Outcome outcome) {
      BulkLine& result = bulk->results[slot];
      result.status = status;
      if (status.ok()) {
        const ledger::Event& e = *outcome.event;
        result.repeated = outcome.repeated;
        result.run_id = e.run_id;
        result.seq = e.seq;
        result.position = e.position;
        result.hash = e.hash;
      }
      finish();
    });
  }
  finish();
}

void Api::Call::AnswerBulk(const BulkIngestState& bulk) {
  std::string body;
  for (const auto& line : bulk.results) {
    if (!line.problem.empty()) {
      body += line.problem;
    } else if (!line.status.ok()) {
      const Status shown = line.status.code() >= Code::kUnavailable
                               ? Status(line.status.code(), line.status.reason(), "the store failed")
                               : line.status;
      body += LineProblem(shown, line.line_number);
    } else {
      JsonWriter w(&body);
      w.BeginObject().Key("line").Uint(line.line_number).Key("status").Uint(line.repeated ? 200 : 201)
          .Key("run_id").String(ledger::FormatUuid(line.run_id)).Key("seq").Uint(line.seq)
          .Key("position").Uint(line.position).Key("hash").String(ledger::ToHex(line.hash)).EndObject();
    }
    body.push_back('\n');
  }
  Response response = Json200(200, std::move(body));
  response.set(http::field::content_type, "application/x-ndjson");
  Send(std::move(response));
}

std::string Api::Call::LineProblem(const Status& status, size_t line_number) const {
  const auto http_status = static_cast<unsigned>(HttpStatusFor(status.code()));
  return ProblemJson(http_status, status.reason(),
                     http::obsolete_reason(static_cast<http::status>(http_status)), status.message(),
                     request_id_, [line_number](JsonWriter& w) { w.Key("line").Uint(line_number); });
}

}  // namespace runledger::server
