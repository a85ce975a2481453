#include "projections/run_state.h"

#include <algorithm>

#include "ledger/json_writer.h"
#include "ledger/time.h"

namespace runledger::projections {
namespace {

using ledger::JsonWriter;

const std::string* StringAt(const Json& object, std::string_view key) {
  const Json* value = object.Find(key);
  return value != nullptr && value->is_string() ? &value->string() : nullptr;
}

std::optional<std::int64_t> IntAt(const Json& object, std::string_view key) {
  const Json* value = object.Find(key);
  return value != nullptr ? value->AsSafeInteger() : std::nullopt;
}

void SetMetrics(RunState& state, const Json* metrics) {
  if (metrics == nullptr || !metrics->is_object()) return;
  for (const auto& [name, value] : metrics->object()) {
    const auto count = value.AsSafeInteger();
    if (!count) continue;
    auto it = std::lower_bound(state.metrics.begin(), state.metrics.end(), name,
                               [](const auto& entry, const std::string& key) { return entry.first < key; });
    if (it != state.metrics.end() && it->first == name) {
      it->second = *count;
    } else {
      state.metrics.insert(it, {name, *count});
    }
  }
}

void SetContainerStatus(RunState& state, const std::string& name, const std::string& status) {
  for (auto& entry : state.containers) {
    if (entry.first == name) {
      entry.second = status;
      return;
    }
  }
  state.containers.emplace_back(name, status);
}

void WriteTimeOrNull(JsonWriter& w, const std::optional<std::int64_t>& ms) {
  if (ms) {
    w.String(ledger::FormatTimestampMs(*ms));
  } else {
    w.Null();
  }
}

void WriteUuidOrNull(JsonWriter& w, const std::optional<Uuid>& id) {
  if (id) {
    w.String(ledger::FormatUuid(*id));
  } else {
    w.Null();
  }
}

void WriteJsonOrNull(JsonWriter& w, const Json& value) {
  if (value.is_null()) {
    w.Null();
  } else {
    w.Value(value);
  }
}

void FoldCreated(RunState& state, const ledger::Event& event) {
  const Json& data = event.data;
  state.id = event.run_id;
  state.operation = StringAt(data, "operation") ? *StringAt(data, "operation") : "";
  state.status = state.operation == "promote" ? "running" : "queued";
  if (const Json* ds = data.Find("datastore")) {
    state.datastore = Json::MakeObject();
    state.datastore.Set("id", ds->Find("id") ? *ds->Find("id") : Json());
    state.datastore.Set("name", ds->Find("name") ? *ds->Find("name") : Json());
  }
  if (const Json* config = data.Find("config")) state.config = *config;
  if (const Json* by = data.Find("triggered_by")) state.triggered_by = *by;
  if (const Json* containers = data.Find("containers"); containers && containers->is_array()) {
    for (const Json& name : containers->array()) {
      if (name.is_string()) state.planned_containers.push_back(name.string());
    }
  }
  state.total = IntAt(data, "total");
  if (!state.total && data.Find("containers")) {
    state.total = static_cast<std::int64_t>(state.planned_containers.size());
  }
  if (const std::string* unit = StringAt(data, "unit")) state.unit = *unit;
  if (const std::string* id = StringAt(data, "rerun_of")) state.rerun_of = ledger::ParseUuid(*id);
  if (const std::string* id = StringAt(data, "resumed_from")) {
    state.resumed_from = ledger::ParseUuid(*id);
  }
  state.created_at_ms = event.recorded_at_ms;
}

void FoldProgressed(RunState& state, const Json& data) {
  if (auto processed = IntAt(data, "processed")) state.processed = *processed;
  if (auto total = IntAt(data, "total")) state.total = *total;
  SetMetrics(state, data.Find("metrics"));
  if (const Json* containers = data.Find("containers"); containers && containers->is_array()) {
    for (const Json& entry : containers->array()) {
      const std::string* name = StringAt(entry, "name");
      const std::string* status = StringAt(entry, "status");
      if (name && status) SetContainerStatus(state, *name, *status);
    }
  }
}

void FoldEnded(RunState& state, const ledger::Event& event) {
  const Json& data = event.data;
  if (const std::string* status = StringAt(data, "status")) state.status = *status;
  SetMetrics(state, data.Find("metrics"));
  if (const Json* result = data.Find("result")) state.result = *result;
  if (const Json* error = data.Find("error")) state.error = *error;
  if (const Json* by = data.Find("aborted_by")) state.aborted_by = *by;
  state.ended_at_ms = event.recorded_at_ms;
}

}  // namespace

bool IsTerminal(std::string_view status) {
  return status == "success" || status == "failure" || status == "aborted";
}

std::vector<std::string> RunState::ContainersLeft() const {
  std::vector<std::string> left;
  auto done = [this](const std::string& name) {
    for (const auto& [container, status] : containers) {
      if (container == name) return status == "done";
    }
    return false;
  };
  for (const auto& name : planned_containers) {
    if (!done(name)) left.push_back(name);
  }
  for (const auto& [name, status] : containers) {
    const bool planned = std::find(planned_containers.begin(), planned_containers.end(), name) !=
                         planned_containers.end();
    if (!planned && status != "done") left.push_back(name);
  }
  return left;
}

bool RunState::HasWorkLeft() const {
  if (!planned_containers.empty() || !containers.empty()) return !ContainersLeft().empty();
  return total.has_value() && *total - processed > 0;
}

std::vector<std::string> RunState::Actions() const {
  std::vector<std::string> actions;
  if (deleted()) return actions;
  if (status == "queued" || status == "running") actions.emplace_back("abort");
  if ((status == "failure" || status == "aborted") &&
      (operation == "profile" || operation == "scan" || operation == "promote") && HasWorkLeft()) {
    actions.emplace_back("resume");
  }
  if (IsTerminal(status) && operation != "external_scan") actions.emplace_back("rerun");
  if (IsTerminal(status)) actions.emplace_back("delete");
  return actions;
}

std::optional<std::int64_t> RunState::MetricValue(std::string_view name) const {
  for (const auto& [metric, value] : metrics) {
    if (metric == name) return value;
  }
  return std::nullopt;
}

void Fold(RunState& state, const ledger::Event& event) {
  const std::string& type = event.type;
  if (type == "created") {
    FoldCreated(state, event);
  } else if (type == "started") {
    if (const std::string* worker = StringAt(event.data, "worker")) state.worker = *worker;
    state.worker_started = true;
    state.status = "running";
    // started_at is the started event's recorded_at (SPEC section 2), also
    // for a promote, which runs from creation but may name its worker later.
    state.started_at_ms = event.recorded_at_ms;
  } else if (type == "progressed") {
    FoldProgressed(state, event.data);
  } else if (type == "logged") {
    ++state.log_count;
  } else if (type == "ended") {
    FoldEnded(state, event);
  } else if (type == "deleted") {
    state.deleted_at_ms = event.recorded_at_ms;
  }
  state.version = event.seq;
  state.last_event_ms = event.recorded_at_ms;
}

std::string DatastoreId(const RunState& state) {
  const std::string* id = StringAt(state.datastore, "id");
  return id ? *id : std::string();
}

void AppendRunJson(const RunState& s, bool with_deleted, std::string* out) {
  JsonWriter w(out);
  w.BeginObject();
  w.Key("id").String(ledger::FormatUuid(s.id));
  w.Key("operation").String(s.operation);
  w.Key("status").String(s.status);
  w.Key("warning").Bool(s.warning());
  w.Key("actions").BeginArray();
  for (const auto& action : s.Actions()) w.String(action);
  w.EndArray();
  w.Key("datastore").Value(s.datastore);
  w.Key("config").Value(s.config);
  w.Key("triggered_by");
  WriteJsonOrNull(w, s.triggered_by);
  w.Key("aborted_by");
  WriteJsonOrNull(w, s.aborted_by);
  w.Key("worker");
  if (s.worker) w.String(*s.worker); else w.Null();
  w.Key("progress").BeginObject().Key("processed").Int(s.processed).Key("total");
  if (s.total) w.Int(*s.total); else w.Null();
  w.Key("unit").String(s.unit).EndObject();
  w.Key("metrics").BeginObject();
  for (const auto& [name, value] : s.metrics) w.Key(name).Int(value);
  w.EndObject();
  w.Key("containers").BeginObject();
  for (const auto& [name, status] : s.containers) w.Key(name).String(status);
  w.EndObject();
  w.Key("log_count").Int(s.log_count);
  w.Key("result");
  WriteJsonOrNull(w, s.result);
  w.Key("error");
  WriteJsonOrNull(w, s.error);
  w.Key("rerun_of");
  WriteUuidOrNull(w, s.rerun_of);
  w.Key("resumed_from");
  WriteUuidOrNull(w, s.resumed_from);
  w.Key("created_at").String(ledger::FormatTimestampMs(s.created_at_ms));
  w.Key("started_at");
  WriteTimeOrNull(w, s.started_at_ms);
  w.Key("ended_at");
  WriteTimeOrNull(w, s.ended_at_ms);
  w.Key("duration_ms");
  if (s.ended_at_ms) w.Int(*s.ended_at_ms - s.started_at_ms.value_or(s.created_at_ms)); else w.Null();
  w.Key("version").Uint(s.version);
  if (with_deleted && s.deleted()) {
    w.Key("deleted").Bool(true);
    w.Key("deleted_at");
    WriteTimeOrNull(w, s.deleted_at_ms);
  }
  w.EndObject();
}

std::string RunJson(const RunState& state, bool with_deleted) {
  std::string out;
  out.reserve(512);
  AppendRunJson(state, with_deleted, &out);
  return out;
}

Result<RunState> DecodeRunRecordJson(std::string_view bytes) {
  // Records hold client JSON in canonical form, which writes an accepted 1e20
  // as a 21-digit integer literal: read back what we wrote.
  ledger::JsonParseOptions options;
  options.allow_large_integer_literals = true;
  auto parsed = ledger::ParseJson(bytes, options);
  if (!parsed) return Status::Corruption("run record is not JSON: " + parsed.error().message());
  const Json* run = parsed->Find("run");
  if (run == nullptr || !run->is_object()) return Status::Corruption("run record lacks its run");
  RunState s;
  const std::string* id = StringAt(*run, "id");
  const auto uuid = id ? ledger::ParseUuid(*id) : std::nullopt;
  if (!uuid) return Status::Corruption("run record has no id");
  s.id = *uuid;
  s.operation = StringAt(*run, "operation") ? *StringAt(*run, "operation") : "";
  s.status = StringAt(*run, "status") ? *StringAt(*run, "status") : "";
  if (const Json* v = run->Find("datastore")) s.datastore = *v;
  if (const Json* v = run->Find("config")) s.config = *v;
  if (const Json* v = run->Find("triggered_by")) s.triggered_by = *v;
  if (const Json* v = run->Find("aborted_by")) s.aborted_by = *v;
  if (const std::string* v = StringAt(*run, "worker")) s.worker = *v;
  if (const Json* progress = run->Find("progress")) {
    s.processed = IntAt(*progress, "processed").value_or(0);
    s.total = IntAt(*progress, "total");
    if (const std::string* unit = StringAt(*progress, "unit")) s.unit = *unit;
  }
  SetMetrics(s, run->Find("metrics"));
  if (const Json* containers = run->Find("containers"); containers && containers->is_object()) {
    for (const auto& [name, status] : containers->object()) {
      if (status.is_string()) s.containers.emplace_back(name, status.string());
    }
  }
  s.log_count = IntAt(*run, "log_count").value_or(0);
  if (const Json* v = run->Find("result")) s.result = *v;
  if (const Json* v = run->Find("error")) s.error = *v;
  if (const std::string* v = StringAt(*run, "rerun_of")) s.rerun_of = ledger::ParseUuid(*v);
  if (const std::string* v = StringAt(*run, "resumed_from")) s.resumed_from = ledger::ParseUuid(*v);
  auto time_at = [&](std::string_view key) -> std::optional<std::int64_t> {
    const std::string* text = StringAt(*run, key);
    return text ? ledger::ParseRfc3339Ms(*text) : std::nullopt;
  };
  s.created_at_ms = time_at("created_at").value_or(0);
  s.started_at_ms = time_at("started_at");
  s.ended_at_ms = time_at("ended_at");
  s.deleted_at_ms = time_at("deleted_at");
  s.version = static_cast<std::uint32_t>(IntAt(*run, "version").value_or(0));
  if (const Json* planned = parsed->Find("planned"); planned && planned->is_array()) {
    for (const Json& name : planned->array()) {
      if (name.is_string()) s.planned_containers.push_back(name.string());
    }
  }
  if (const Json* v = parsed->Find("worker_started"); v && v->is_bool()) s.worker_started = v->boolean();
  s.last_event_ms = IntAt(*parsed, "last_event_ms").value_or(0);
  return s;
}

}  // namespace runledger::projections
