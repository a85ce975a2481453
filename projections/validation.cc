#include "projections/validation.h"

#include <algorithm>
#include <initializer_list>
#include <string_view>
#include <unordered_set>

#include "ledger/time.h"
#include "ledger/uuid.h"

namespace runledger::projections {
namespace {

constexpr size_t kFreeTextMaxBytes = 64 << 10;  // SPEC: a logged message is at most 64 KiB
constexpr size_t kClientIdMaxChars = 128;

size_t CodePoints(std::string_view utf8) {
  return static_cast<size_t>(std::count_if(utf8.begin(), utf8.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

Status Violation(std::string message) { return Status::Schema(std::move(message)); }

bool OneOf(std::string_view value, std::initializer_list<std::string_view> allowed) {
  return std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

Status OnlyKnown(const Json& object, std::string_view where,
                 std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : object.object()) {
    if (!OneOf(key, known)) return Violation(std::string(where) + ": unknown member \"" + key + "\"");
  }
  return Status::Ok();
}

Status RequireObject(const Json* value, std::string_view where) {
  if (value == nullptr) return Violation(std::string(where) + " is required");
  if (!value->is_object()) return Violation(std::string(where) + " must be an object");
  return Status::Ok();
}

Status NonEmptyString(const Json* value, std::string_view where, bool required) {
  if (value == nullptr) return required ? Violation(std::string(where) + " is required") : Status::Ok();
  if (!value->is_string() || value->string().empty()) {
    return Violation(std::string(where) + " must be a non-empty string");
  }
  return Status::Ok();
}

Status StringMember(const Json* value, std::string_view where, bool required) {
  if (value == nullptr) return required ? Violation(std::string(where) + " is required") : Status::Ok();
  if (!value->is_string()) return Violation(std::string(where) + " must be a string");
  return Status::Ok();
}

// Free text (logged message, error.message, reason): at most 64 KiB of
// UTF-8, as the SPEC sets for a logged message; schemas/README.md says why
// the JSON Schemas can only bound it in code points.
Status FreeText(const Json* value, std::string_view where, bool required, bool may_be_empty) {
  RUNLEDGER_RETURN_IF_ERROR(StringMember(value, where, required));
  if (value == nullptr) return Status::Ok();
  if (!may_be_empty && value->string().empty()) return Violation(std::string(where) + " must not be empty");
  if (value->string().size() > kFreeTextMaxBytes) {
    return Violation(std::string(where) + " is longer than 64 KiB (65,536 bytes of UTF-8)");
  }
  return Status::Ok();
}

Status NonNegativeInt(const Json* value, std::string_view where, bool required) {
  if (value == nullptr) return required ? Violation(std::string(where) + " is required") : Status::Ok();
  const auto n = value->AsSafeInteger();
  if (!n || *n < 0) return Violation(std::string(where) + " must be an integer >= 0");
  return Status::Ok();
}

Status Actor(const Json* value, std::string_view where, bool required) {
  if (value == nullptr) return required ? Violation(std::string(where) + " is required") : Status::Ok();
  RUNLEDGER_RETURN_IF_ERROR(RequireObject(value, where));
  RUNLEDGER_RETURN_IF_ERROR(OnlyKnown(*value, where, {"kind", "id"}));
  const Json* kind = value->Find("kind");
  if (kind == nullptr || !kind->is_string() ||
      !OneOf(kind->string(), {"user", "schedule", "api", "system"})) {
    return Violation(std::string(where) + ".kind must be one of user, schedule, api, system");
  }
  return NonEmptyString(value->Find("id"), std::string(where) + ".id", true);
}

Status Counters(const Json* value, std::string_view where) {
  if (value == nullptr) return Status::Ok();
  RUNLEDGER_RETURN_IF_ERROR(RequireObject(value, where));
  for (const auto& [name, count] : value->object()) {
    if (name.empty()) return Violation(std::string(where) + ": counter names must not be empty");
    RUNLEDGER_RETURN_IF_ERROR(NonNegativeInt(&count, std::string(where) + "." + name, true));
  }
  return Status::Ok();
}

Status OptionalObject(const Json* value, std::string_view where) {
  return value == nullptr ? Status::Ok() : RequireObject(value, where);
}

Status ValidateStarted(const Json& data) {
  RUNLEDGER_RETURN_IF_ERROR(OnlyKnown(data, "data", {"worker"}));
  return NonEmptyString(data.Find("worker"), "data.worker", true);
}

Status ValidateProgressed(const Json& data) {
  RUNLEDGER_RETURN_IF_ERROR(OnlyKnown(data, "data", {"processed", "total", "metrics", "containers"}));
  RUNLEDGER_RETURN_IF_ERROR(NonNegativeInt(data.Find("processed"), "data.processed", true));
  RUNLEDGER_RETURN_IF_ERROR(NonNegativeInt(data.Find("total"), "data.total", false));
  RUNLEDGER_RETURN_IF_ERROR(Counters(data.Find("metrics"), "data.metrics"));
  const Json* containers = data.Find("containers");
  if (containers == nullptr) return Status::Ok();
  if (!containers->is_array()) return Violation("data.containers must be an array");
  for (const Json& entry : containers->array()) {
    RUNLEDGER_RETURN_IF_ERROR(RequireObject(&entry, "data.containers[]"));
    RUNLEDGER_RETURN_IF_ERROR(OnlyKnown(entry, "data.containers[]", {"name", "status"}));
    RUNLEDGER_RETURN_IF_ERROR(NonEmptyString(entry.Find("name"), "data.containers[].name", true));
    const Json* status = entry.Find("status");
    if (status == nullptr || !status->is_string() ||
        !OneOf(status->string(), {"done", "failed", "skipped"})) {
      return Violation("data.containers[].status must be one of done, failed, skipped");
    }
  }
  return Status::Ok();
}

Status ValidateLogged(const Json& data) {
  RUNLEDGER_RETURN_IF_ERROR(OnlyKnown(data, "data", {"level", "message", "container", "fields"}));
  const Json* level = data.Find("level");
  if (level == nullptr || !level->is_string() ||
      !OneOf(level->string(), {"debug", "info", "warning", "error"})) {
    return Violation("data.level must be one of debug, info, warning, error");
  }
  RUNLEDGER_RETURN_IF_ERROR(FreeText(data.Find("message"), "data.message", true, true));
  RUNLEDGER_RETURN_IF_ERROR(NonEmptyString(data.Find("container"), "data.container", false));
  return OptionalObject(data.Find("fields"), "data.fields");
}

Status ValidateEnded(const Json& data) {
  RUNLEDGER_RETURN_IF_ERROR(
      OnlyKnown(data, "data", {"status", "metrics", "result", "error", "aborted_by", "reason"}));
  const Json* status = data.Find("status");
  if (status == nullptr || !status->is_string() ||
      !OneOf(status->string(), {"success", "failure", "aborted"})) {
    return Violation("data.status must be one of success, failure, aborted");
  }
  const std::string& s = status->string();
  RUNLEDGER_RETURN_IF_ERROR(Counters(data.Find("metrics"), "data.metrics"));
  RUNLEDGER_RETURN_IF_ERROR(OptionalObject(data.Find("result"), "data.result"));
  const Json* error = data.Find("error");
  if (s == "failure") {
    RUNLEDGER_RETURN_IF_ERROR(RequireObject(error, "data.error"));
    RUNLEDGER_RETURN_IF_ERROR(OnlyKnown(*error, "data.error", {"message", "code"}));
    RUNLEDGER_RETURN_IF_ERROR(FreeText(error->Find("message"), "data.error.message", true, false));
    RUNLEDGER_RETURN_IF_ERROR(NonEmptyString(error->Find("code"), "data.error.code", false));
  } else if (error != nullptr) {
    return Violation("data.error is only allowed when status is failure");
  }
  const Json* aborted_by = data.Find("aborted_by");
  if (s == "aborted") {
    RUNLEDGER_RETURN_IF_ERROR(Actor(aborted_by, "data.aborted_by", true));
    return FreeText(data.Find("reason"), "data.reason", false, true);
  }
  if (aborted_by != nullptr) return Violation("data.aborted_by is only allowed when status is aborted");
  if (data.Find("reason") != nullptr) return Violation("data.reason is only allowed when status is aborted");
  return Status::Ok();
}

}  // namespace

// RFC 3339 section 5.6 lets a specification require upper-case `T` and `Z`;
// the published schema does (schemas/README.md).
bool IsRfc3339(std::string_view text) {
  return text.size() > 10 && text[10] == 'T' && text.back() != 'z' &&
         ledger::ParseRfc3339Ms(text).has_value();
}

bool IsValidClientEventId(const Json& id) {
  if (!id.is_string()) return false;
  const size_t chars = CodePoints(id.string());
  return chars >= 1 && chars <= kClientIdMaxChars;
}

Status ValidateCreatedPayload(const Json& data) {
  RUNLEDGER_RETURN_IF_ERROR(RequireObject(&data, "data"));
  RUNLEDGER_RETURN_IF_ERROR(OnlyKnown(
      data, "data", {"operation", "datastore", "config", "triggered_by", "containers", "total", "unit"}));
  const Json* operation = data.Find("operation");
  if (operation == nullptr || !operation->is_string() ||
      !OneOf(operation->string(),
             {"sync", "profile", "scan", "external_scan", "export", "materialize", "promote"})) {
    return Violation("data.operation must be one of sync, profile, scan, external_scan, export, "
                     "materialize, promote");
  }
  const Json* datastore = data.Find("datastore");
  RUNLEDGER_RETURN_IF_ERROR(RequireObject(datastore, "data.datastore"));
  RUNLEDGER_RETURN_IF_ERROR(OnlyKnown(*datastore, "data.datastore", {"id", "name"}));
  RUNLEDGER_RETURN_IF_ERROR(NonEmptyString(datastore->Find("id"), "data.datastore.id", true));
  RUNLEDGER_RETURN_IF_ERROR(NonEmptyString(datastore->Find("name"), "data.datastore.name", false));
  RUNLEDGER_RETURN_IF_ERROR(OptionalObject(data.Find("config"), "data.config"));
  RUNLEDGER_RETURN_IF_ERROR(Actor(data.Find("triggered_by"), "data.triggered_by", true));
  if (const Json* containers = data.Find("containers")) {
    if (!containers->is_array()) return Violation("data.containers must be an array");
    // Names are the keys of the run's containers: each one once.
    std::unordered_set<std::string_view> seen;
    for (const Json& name : containers->array()) {
      RUNLEDGER_RETURN_IF_ERROR(NonEmptyString(&name, "data.containers[]", true));
      if (!seen.insert(name.string()).second) {
        return Violation("data.containers: \"" + name.string() + "\" is listed twice");
      }
    }
  }
  RUNLEDGER_RETURN_IF_ERROR(NonNegativeInt(data.Find("total"), "data.total", false));
  return NonEmptyString(data.Find("unit"), "data.unit", false);
}

Status ValidatePayload(std::string_view type, const Json& data) {
  if (!data.is_object()) return Violation("data must be an object");
  if (type == "created") return ValidateCreatedPayload(data);
  if (type == "started") return ValidateStarted(data);
  if (type == "progressed") return ValidateProgressed(data);
  if (type == "logged") return ValidateLogged(data);
  if (type == "ended") return ValidateEnded(data);
  if (type == "deleted") {
    RUNLEDGER_RETURN_IF_ERROR(OnlyKnown(data, "data", {"reason"}));
    return FreeText(data.Find("reason"), "data.reason", false, true);
  }
  return Violation("type must be one of created, started, progressed, logged, ended");
}

Status ValidateEventEnvelope(const Json& body, bool bulk) {
  if (!body.is_object()) return Violation("the event must be a JSON object");
  if (bulk) {
    RUNLEDGER_RETURN_IF_ERROR(OnlyKnown(body, "event", {"type", "data", "id", "occurred_at", "run_id"}));
    const Json* run_id = body.Find("run_id");
    if (run_id == nullptr || !run_id->is_string() || !ledger::ParseUuid(run_id->string())) {
      return Violation("run_id must be a UUID");
    }
    if (body.Find("id") == nullptr) return Violation("id is required in a bulk line");
  } else {
    RUNLEDGER_RETURN_IF_ERROR(OnlyKnown(body, "event", {"type", "data", "id", "occurred_at"}));
  }
  const Json* type = body.Find("type");
  if (type == nullptr || !type->is_string() ||
      !OneOf(type->string(), {"created", "started", "progressed", "logged", "ended"})) {
    return Violation("type must be one of created, started, progressed, logged, ended");
  }
  if (const Json* id = body.Find("id"); id != nullptr && !IsValidClientEventId(*id)) {
    return Violation("id must be a string of 1 to 128 characters");
  }
  if (const Json* at = body.Find("occurred_at");
      at != nullptr && (!at->is_string() || !IsRfc3339(at->string()))) {
    return Violation("occurred_at must be an RFC 3339 date-time");
  }
  const Json* data = body.Find("data");
  if (data == nullptr) return Violation("data is required");
  return ValidatePayload(type->string(), *data);
}

}  // namespace runledger::projections
