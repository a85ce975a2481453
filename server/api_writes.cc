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
  if (!now || !now->has_value() || !principal_->CanView(DatastoreOf(**now))) return std::nullopt;
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
  api_.ledger_.CreateRun(std::move(create), [self, run_id](const Status& status, projections::Outcome outcome) {
    if (!status.ok()) return self->Fail(status, self->ConflictRun(status, std::move(outcome.run), run_id));
    if (!outcome.repeated) self->api_.metrics_.RecordAppends(1);
    const bool existing_run = outcome.repeated && !self->IdempotencyKeyHash();
    Response response = self->Json200(existing_run ? 200 : 201, projections::RunJson(*outcome.run));
    const std::string id = ledger::FormatUuid(outcome.run->id);
    response.set(http::field::location, "/v1/runs/" + id);
    if (outcome.event) response.set("X-Ledger-Position", std::to_string(outcome.event->position));
    self->Send(std::move(response));
  });
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
  api_.ledger_.AppendEvent(std::move(append), [self, id](const Status& status, projections::Outcome outcome) {
    if (!status.ok()) return self->Fail(status, self->ConflictRun(status, std::move(outcome.run), id));
    if (!outcome.repeated) self->api_.metrics_.RecordAppends(1);
    Response response = self->Json200(outcome.repeated ? 200 : 201, outcome.event->stored);
    response.set("X-Ledger-Position", std::to_string(outcome.event->position));
    self->Send(std::move(response));
  });
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
  api_.ledger_.Act(std::move(act), [self, action](const Status& status, projections::Outcome outcome) {
    if (!status.ok()) return self->Fail(status, outcome.run);
    if (!outcome.repeated) self->api_.metrics_.RecordAppends(1);
    Response response(http::status::no_content, self->request_.version());
    if (action != projections::Action::kDelete) {
      const bool creates = action != projections::Action::kAbort;
      response = self->Json200(creates ? 201 : 200, projections::RunJson(*outcome.run));
      if (creates) response.set(http::field::location, "/v1/runs/" + ledger::FormatUuid(outcome.run->id));
    }
    if (outcome.event) response.set("X-Ledger-Position", std::to_string(outcome.event->position));
    self->Send(std::move(response));
  });
}

// Each line is judged alone and answered in order; all lines are submitted
// at once so they share group commits.
void Api::Call::BulkIngest() {
  route_ = "bulk_ingest";
  if (!RequireRole({Role::kWorker})) return;
  if (!RequireJsonBody("application/x-ndjson")) return;
  struct Bulk {
    std::vector<std::string> results;
    std::atomic<size_t> pending{1};  // one for the submitting loop
  };
  auto bulk = std::make_shared<Bulk>();
  auto self = shared_from_this();
  auto finish = [self, bulk] {
    if (bulk->pending.fetch_sub(1) != 1) return;
    std::string body;
    for (const auto& line : bulk->results) {
      body += line;
      body.push_back('\n');
    }
    Response response = self->Json200(200, std::move(body));
    response.set(http::field::content_type, "application/x-ndjson");
    self->Send(std::move(response));
  };
  // Parse every line first: results must not grow while answers arrive.
  std::vector<std::pair<size_t, projections::AppendRequest>> accepted;
  std::vector<size_t> line_of;
  for (const NdjsonLine& entry : SplitNdjsonLines(request_.body())) {
    const size_t line_number = entry.number;
    const std::string_view line = entry.text;
    const size_t slot = bulk->results.size();
    bulk->results.emplace_back();
    line_of.push_back(line_number);
    auto problem = [&, line_number, slot](const Status& status) {
      const auto http_status = static_cast<unsigned>(HttpStatusFor(status.code()));
      bulk->results[slot] = ProblemJson(http_status, status.reason(),
                                        http::obsolete_reason(static_cast<http::status>(http_status)),
                                        status.message(), request_id_,
                                        [line_number](JsonWriter& w) { w.Key("line").Uint(line_number); });
    };
    if (line.size() > api_.options_.bulk_line_limit_bytes) {
      problem(Status(Code::kPayloadTooLarge, "payload_too_large", "the line is over 1 MiB"));
      continue;
    }
    auto event = ledger::ParseJson(line);
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
  const std::string request_id = request_id_;
  for (auto& entry : accepted) {
    // Not a structured binding: clang before 16 cannot capture one.
    const size_t slot = entry.first;
    const size_t line_number = line_of[slot];
    api_.ledger_.AppendEvent(std::move(entry.second), [bulk, slot, line_number, finish, request_id, self](
                                                    const Status& status, projections::Outcome outcome) {
      std::string result;
      if (!status.ok()) {
        const auto http_status = static_cast<unsigned>(HttpStatusFor(status.code()));
        result = ProblemJson(http_status, status.reason(),
                             http::obsolete_reason(static_cast<http::status>(http_status)),
                             status.code() >= Code::kUnavailable ? "the store failed" : status.message(),
                             request_id, [line_number](JsonWriter& w) { w.Key("line").Uint(line_number); });
      } else {
        if (!outcome.repeated) self->api_.metrics_.RecordAppends(1);
        const ledger::Event& e = *outcome.event;
        JsonWriter w(&result);
        w.BeginObject().Key("line").Uint(line_number).Key("status").Uint(outcome.repeated ? 200 : 201)
            .Key("run_id").String(ledger::FormatUuid(e.run_id)).Key("seq").Uint(e.seq)
            .Key("position").Uint(e.position).Key("hash").String(ledger::ToHex(e.hash)).EndObject();
      }
      bulk->results[slot] = std::move(result);
      finish();
    });
  }
  finish();
}

}  // namespace runledger::server
