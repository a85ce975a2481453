#include "projections/run_ledger.h"

#include "ledger/key_layout.h"
#include "ledger/merkle.h"
#include "projections/tables.h"
#include "projections/validation.h"

namespace runledger::projections {
namespace {

using ledger::AppendContext;
using ledger::Event;

Status RunNotFound(const Uuid& id) {
  return Status::NotFound("run_not_found", "no run " + ledger::FormatUuid(id));
}

// Events durable before this batch (the committed Merkle frontier's size).
Result<std::uint64_t> CommittedSize(AppendContext& ctx) {
  auto bytes = ctx.Get(ledger::kMetaTable, ledger::kFrontierKey);
  if (!bytes) return bytes.error();
  if (!bytes->has_value()) return std::uint64_t{0};
  auto frontier = ledger::MerkleFrontier::Decode(**bytes);
  if (!frontier) return frontier.error();
  return frontier->size();
}

Status InvalidTransition(std::string message) {
  return Status::Conflict("invalid_transition", std::move(message));
}

Json UserActor(const std::string& name) {
  Json actor = Json::MakeObject();
  actor.Set("kind", Json::String("user"));
  actor.Set("id", Json::String(name));
  return actor;
}

// A command whose outcome goes to a Done callback.
class RunCommand : public ledger::Command {
 public:
  RunCommand(RunProjection& projection, Done done) : projection_(projection), done_(std::move(done)) {}
  void Complete(const Status& status) override { done_(status, std::move(outcome_)); }

 protected:
  // The run as of this batch; RunNotFound for unknown and deleted runs.
  Result<RunState*> LiveRun(const Uuid& id, AppendContext& ctx) {
    auto run = projection_.Find(id, ctx);
    if (!run) return run.error();
    if (*run == nullptr || (*run)->deleted()) return RunNotFound(id);
    return *run;
  }
  // The run's first `seq` events. ctx.Get sees committed state only, so the
  // ones appended earlier in this batch are not in the stream index yet;
  // they follow every committed event, and are found by walking the batch.
  Result<std::vector<Event>> FirstEvents(const Uuid& id, std::uint32_t seq, AppendContext& ctx) {
    std::vector<Event> events;
    for (std::uint32_t i = 1; i <= seq; ++i) {
      auto position = ctx.Get(ledger::kStreamsTable, ledger::StreamKey(id, i));
      if (!position) return position.error();
      if (!position->has_value()) break;
      auto event = ctx.EventAt(ledger::ReadU64(**position));
      if (!event) return event.error();
      if (!event->has_value()) return Status::Corruption("run stream points at a missing event");
      events.push_back(std::move(**event));
    }
    if (events.size() == seq) return events;
    auto committed = CommittedSize(ctx);
    if (!committed) return committed.error();
    for (std::uint64_t position = *committed + 1; events.size() < seq; ++position) {
      auto event = ctx.EventAt(position);
      if (!event) return event.error();
      if (!event->has_value()) return Status::Corruption("run stream has a gap");
      if ((*event)->run_id == id && (*event)->seq == events.size() + 1) events.push_back(std::move(**event));
    }
    return events;
  }
  // The state right after the run's seq-th event (the first response of a
  // request that is now repeated).
  Result<RunState> StateAt(const Uuid& id, std::uint32_t seq, AppendContext& ctx) {
    auto events = FirstEvents(id, seq, ctx);
    if (!events) return events.error();
    RunState state;
    for (const Event& event : *events) Fold(state, event);
    return state;
  }
  Result<std::optional<Event>> IdempotentEvent(const std::string& principal, std::string_view path,
                                               const std::optional<std::string>& key,
                                               AppendContext& ctx) {
    if (!key) return std::optional<Event>();
    auto position = projection_.FindIdempotent(IdempotencyScope(principal, "POST", path, *key), ctx);
    if (!position) return position.error();
    if (!position->has_value()) return std::optional<Event>();
    return ctx.EventAt(**position);
  }

  RunProjection& projection_;
  Outcome outcome_;

 private:
  Done done_;
};

class CreateRunCommand : public RunCommand {
 public:
  CreateRunCommand(RunProjection& projection, CreateRunRequest request, Done done)
      : RunCommand(projection, std::move(done)), request_(std::move(request)) {}

  Status Execute(AppendContext& ctx) override {
    auto repeat = IdempotentEvent(request_.caller.name, "/v1/runs", request_.idempotency_key_sha256, ctx);
    if (!repeat) return repeat.error();
    if (repeat->has_value()) {
      const Event& first = **repeat;
      if (!(first.data == request_.data) || (request_.run_id && *request_.run_id != first.run_id)) {
        return Status(Code::kUnprocessable, "idempotency_mismatch",
                      "this Idempotency-Key was used with another body");
      }
      RunState state;
      Fold(state, first);
      outcome_.repeated = true;
      outcome_.run = std::move(state);
      return Status::Ok();
    }
    if (request_.run_id) {
      auto existing = projection_.Find(*request_.run_id, ctx);
      if (!existing) return existing.error();
      if (*existing != nullptr) return Repeat(**existing, ctx);
    }
    Event event;
    event.type = "created";
    event.run_id = request_.run_id ? *request_.run_id : ledger::NewUuidV7(ctx.batch_time_ms());
    event.principal = request_.caller.name;
    event.id = request_.client_event_id;
    event.occurred_at = request_.occurred_at;
    event.idempotency_key_sha256 = request_.idempotency_key_sha256;
    event.data = std::move(request_.data);
    outcome_.event = ctx.Append(std::move(event));
    auto run = projection_.Find(outcome_.event->run_id, ctx);
    if (run && *run) outcome_.run = **run;
    return Status::Ok();
  }

 private:
  // A created for a run that exists: the same payload (or client event id)
  // returns it, anything else is a conflict.
  Status Repeat(const RunState& run, AppendContext& ctx) {
    std::optional<Event> created;
    if (request_.client_event_id) {
      auto same_id = ctx.FindByClientId(run.id, *request_.client_event_id);
      if (!same_id) return same_id.error();
      created = std::move(*same_id);
    }
    if (!created) {
      auto first = FirstEvents(run.id, 1, ctx);
      if (!first) return first.error();
      created = std::move(first->front());
    }
    if (!created || created->type != "created" || run.deleted() || !(created->data == request_.data)) {
      return Status::Conflict("idempotency_mismatch",
                              "run " + ledger::FormatUuid(run.id) + " exists with another payload");
    }
    outcome_.repeated = true;
    outcome_.event = std::move(created);
    outcome_.run = run;
    return Status::Ok();
  }

  CreateRunRequest request_;
};

Status CheckCounters(const RunState& run, const Json* metrics) {
  if (metrics == nullptr) return Status::Ok();
  for (const auto& [name, value] : metrics->object()) {
    const auto previous = run.MetricValue(name);
    if (previous && value.AsSafeInteger().value_or(0) < *previous) {
      return InvalidTransition("metric " + name + " would go backwards");
    }
  }
  return Status::Ok();
}

// The state machine of SPEC section 2 for one event.
Status CheckTransition(const RunState& run, const AppendRequest& request) {
  const std::string& type = request.type;
  const std::string& status = run.status;
  const std::string at = " in status " + status;
  if (type == "started") {
    const bool promote_naming_worker =
        run.operation == "promote" && status == "running" && !run.worker_started;
    if (status != "queued" && !promote_naming_worker) return InvalidTransition("started is not allowed" + at);
    return Status::Ok();
  }
  if (type == "progressed") {
    if (status != "running") return InvalidTransition("progressed is not allowed" + at);
    const std::int64_t processed = request.data.Find("processed")->AsSafeInteger().value_or(0);
    std::optional<std::int64_t> total = run.total;
    if (const Json* t = request.data.Find("total")) {
      const std::int64_t new_total = t->AsSafeInteger().value_or(0);
      if (run.total && new_total < *run.total) return InvalidTransition("total would go backwards");
      total = new_total;
    }
    if (processed < run.processed) return InvalidTransition("processed would go backwards");
    if (total && processed > *total) return InvalidTransition("processed would exceed total");
    return CheckCounters(run, request.data.Find("metrics"));
  }
  if (type == "logged") {
    if (status != "queued" && status != "running") return InvalidTransition("logged is not allowed" + at);
    return Status::Ok();
  }
  if (type == "ended") {
    const std::string& end = request.data.Find("status")->string();
    if (end == "aborted") {
      if (status != "queued" && status != "running") return InvalidTransition("ended is not allowed" + at);
      const Json* kind = request.data.Find("aborted_by")->Find("kind");
      if (kind->string() != "system") {
        return Status::Schema("an aborted ended sent as an event must have aborted_by.kind system; "
                              "users abort with POST /v1/runs/{id}/abort");
      }
    } else if (status != "running") {
      return InvalidTransition("ended with " + end + " is not allowed" + at);
    }
    return CheckCounters(run, request.data.Find("metrics"));
  }
  return Status::Schema("type " + type + " cannot be appended here");
}

class AppendCommand : public RunCommand {
 public:
  AppendCommand(RunProjection& projection, AppendRequest request, Done done)
      : RunCommand(projection, std::move(done)), request_(std::move(request)) {}

  Status Execute(AppendContext& ctx) override {
    auto run = LiveRun(request_.run_id, ctx);
    if (!run) return run.error();
    if (request_.client_event_id) {
      auto stored = ctx.FindByClientId(request_.run_id, *request_.client_event_id);
      if (!stored) return stored.error();
      if (stored->has_value()) {
        const Event& first = **stored;
        if (first.type != request_.type || !(first.data == request_.data)) {
          return Status::Conflict("idempotency_mismatch",
                                  "event id " + *request_.client_event_id + " was used with another body");
        }
        outcome_.repeated = true;
        outcome_.event = first;
        return Status::Ok();
      }
    }
    // A refusal answers with the run as it is; a success does not need it.
    if (request_.if_match && *request_.if_match != (*run)->version) {
      outcome_.run = **run;
      return Status(Code::kPreconditionFailed, "version_conflict",
                    "the run is at version " + std::to_string((*run)->version));
    }
    if (Status allowed = CheckTransition(**run, request_); !allowed.ok()) {
      outcome_.run = **run;
      return allowed;
    }
    Event event;
    event.type = request_.type;
    event.run_id = request_.run_id;
    event.principal = request_.caller.name;
    event.id = request_.client_event_id;
    event.occurred_at = request_.occurred_at;
    event.data = std::move(request_.data);
    outcome_.event = ctx.Append(std::move(event));
    return Status::Ok();
  }

 private:
  AppendRequest request_;
};

// Resume is supported for the run's state and operation type (whether
// anything is left to resume aside).
bool Resumable(const RunState& run) {
  return (run.status == "failure" || run.status == "aborted") &&
         (run.operation == "profile" || run.operation == "scan" || run.operation == "promote");
}

class ActionCommand : public RunCommand {
 public:
  ActionCommand(RunProjection& projection, ActionRequest request, Done done)
      : RunCommand(projection, std::move(done)), request_(std::move(request)) {}

  Status Execute(AppendContext& ctx) override {
    auto found = LiveRun(request_.run_id, ctx);
    if (!found) return found.error();
    const RunState& run = **found;
    const std::string path = "/v1/runs/" + ledger::FormatUuid(run.id) + "/" +
                             std::string(ActionName(request_.action));
    auto repeat = IdempotentEvent(request_.caller.name, path, request_.idempotency_key_sha256, ctx);
    if (!repeat) return repeat.error();
    if (repeat->has_value()) return Repeat(**repeat, ctx);
    outcome_.run = run;
    if (request_.action == Action::kResume && Resumable(run) && !run.HasWorkLeft()) {
      return Status::Conflict("nothing_to_resume", "every container of run " +
                                                       ledger::FormatUuid(run.id) + " is done");
    }
    const auto actions = run.Actions();
    if (std::find(actions.begin(), actions.end(), ActionName(request_.action)) == actions.end()) {
      return Status::Conflict("action_not_supported",
                              std::string(ActionName(request_.action)) + " is not allowed for a " +
                                  run.operation + " run in status " + run.status);
    }
    Event event;
    event.run_id = run.id;
    event.principal = request_.caller.name;
    event.idempotency_key_sha256 = request_.idempotency_key_sha256;
    switch (request_.action) {
      case Action::kAbort: {
        event.type = "ended";
        event.data.Set("status", Json::String("aborted"));
        event.data.Set("aborted_by", UserActor(request_.caller.name));
        if (request_.reason) event.data.Set("reason", Json::String(*request_.reason));
        break;
      }
      case Action::kDelete:
        event.type = "deleted";
        event.idempotency_key_sha256.reset();
        if (request_.reason) event.data.Set("reason", Json::String(*request_.reason));
        break;
      case Action::kRerun:
      case Action::kResume:
        event.type = "created";
        event.run_id = ledger::NewUuidV7(ctx.batch_time_ms());
        event.data = NewRunPayload(run);
        break;
    }
    const Event& appended = ctx.Append(std::move(event));
    auto after = projection_.Find(appended.run_id, ctx);
    if (after && *after) outcome_.run = **after;
    outcome_.event = appended;
    return Status::Ok();
  }

 private:
  Json NewRunPayload(const RunState& run) const {
    Json data = Json::MakeObject();
    data.Set("operation", Json::String(run.operation));
    Json datastore = Json::MakeObject();
    datastore.Set("id", *run.datastore.Find("id"));
    if (const Json* name = run.datastore.Find("name"); name && !name->is_null()) datastore.Set("name", *name);
    data.Set("datastore", std::move(datastore));
    data.Set("config", run.config);
    data.Set("triggered_by", UserActor(request_.caller.name));
    const bool resume = request_.action == Action::kResume;
    const bool by_container = !run.planned_containers.empty() || !run.containers.empty();
    if (by_container) {
      Json containers = Json::MakeArray();
      const auto names = resume ? run.ContainersLeft() : run.planned_containers;
      for (const auto& name : names) containers.array().push_back(Json::String(name));
      data.Set("containers", std::move(containers));
      if (!resume && run.total) data.Set("total", Json::Number(static_cast<double>(*run.total)));
    } else if (run.total) {
      const std::int64_t total = resume ? *run.total - run.processed : *run.total;
      data.Set("total", Json::Number(static_cast<double>(total)));
    }
    data.Set("unit", Json::String(run.unit));
    data.Set(resume ? "resumed_from" : "rerun_of", Json::String(ledger::FormatUuid(run.id)));
    return data;
  }

  Status Repeat(const Event& first, AppendContext& ctx) {
    if (request_.action == Action::kAbort) {
      const Json* reason = first.data.Find("reason");
      const bool same = reason ? request_.reason && *request_.reason == reason->string() : !request_.reason;
      if (!same) {
        return Status(Code::kUnprocessable, "idempotency_mismatch",
                      "this Idempotency-Key was used with another body");
      }
    }
    auto state = StateAt(first.run_id, first.seq, ctx);
    if (!state) return state.error();
    outcome_.repeated = true;
    outcome_.event = first;
    outcome_.run = std::move(*state);
    return Status::Ok();
  }

  ActionRequest request_;
};

}  // namespace

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kAbort: return "abort";
    case Action::kResume: return "resume";
    case Action::kRerun: return "rerun";
    case Action::kDelete: return "delete";
  }
  return "";
}

Result<std::unique_ptr<RunLedger>> RunLedger::Open(ledger::StoreOptions options) {
  options.projection_tables = ProjectionTableNames();
  options.projection_tuning = ProjectionTableTuning();
  std::unique_ptr<RunLedger> ledger(new RunLedger());
  ledger->projection_.SetSummaryCache(&ledger->summaries_);
  auto store = ledger::EventStore::Open(options, &ledger->projection_);
  if (!store) return store.error();
  if (options.start_committer) {
    auto format = (*store)->Get(kRunCountsTable, kProjectionFormatKey);
    if (!format) return format.error();
    if ((*store)->size() > 0 && *format != std::optional<std::string>(kProjectionFormat)) {
      // Projections from an older layout: replay the events into the current one.
      store->reset();
      ledger::StoreOptions offline = options;
      offline.start_committer = false;
      auto rebuilding = ledger::EventStore::Open(offline, &ledger->projection_);
      if (!rebuilding) return rebuilding.error();
      RUNLEDGER_RETURN_IF_ERROR((*rebuilding)->RebuildProjections());
      rebuilding->reset();
      ledger->projection_.OnReset();
      store = ledger::EventStore::Open(options, &ledger->projection_);
      if (!store) return store.error();
    }
  }
  ledger->store_ = std::move(*store);
  return ledger;
}

RunLedger::~RunLedger() { store_.reset(); }

void RunLedger::CreateRun(CreateRunRequest request, Done done) {
  Status valid = Status::Ok();
  // A member's triggered_by is filled in before validating, since the
  // payload schema requires it (SPEC section 5: a member may leave it out).
  if (request.caller.member && request.data.is_object()) {
    const Json self = UserActor(request.caller.name);
    if (const Json* by = request.data.Find("triggered_by"); by == nullptr) {
      request.data.Set("triggered_by", self);
    } else if (!(*by == self)) {
      valid = Status::Schema("a member triggers runs as itself: triggered_by must be "
                             "{\"kind\":\"user\",\"id\":\"" + request.caller.name + "\"} or left out");
    }
  }
  if (valid.ok()) valid = ValidateCreatedPayload(request.data);
  if (!valid.ok()) {
    done(valid, Outcome());
    return;
  }
  store_->Submit(std::make_unique<CreateRunCommand>(projection_, std::move(request), std::move(done)));
}

void RunLedger::AppendEvent(AppendRequest request, Done done) {
  if (request.type == "created") {
    CreateRunRequest create;
    create.caller = std::move(request.caller);
    create.data = std::move(request.data);
    create.run_id = request.run_id;
    create.client_event_id = std::move(request.client_event_id);
    create.occurred_at = std::move(request.occurred_at);
    CreateRun(std::move(create), std::move(done));
    return;
  }
  if (Status valid = ValidatePayload(request.type, request.data); !valid.ok() || request.type == "deleted") {
    done(valid.ok() ? Status::Schema("deleted events come only from DELETE /v1/runs/{id}") : valid,
         Outcome());
    return;
  }
  store_->Submit(std::make_unique<AppendCommand>(projection_, std::move(request), std::move(done)));
}

void RunLedger::Act(ActionRequest request, Done done) {
  if (request.reason) {
    // The reason follows the rule of the deleted payload's (free text, at
    // most 64 KiB of UTF-8) for abort and delete alike.
    Json data = Json::MakeObject();
    data.Set("reason", Json::String(*request.reason));
    if (Status valid = ValidatePayload("deleted", data); !valid.ok()) {
      done(valid, Outcome());
      return;
    }
  }
  store_->Submit(std::make_unique<ActionCommand>(projection_, std::move(request), std::move(done)));
}

}  // namespace runledger::projections
