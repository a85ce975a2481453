// Event parser + validator: ParseJson (I-JSON), then every schema check a
// request body meets (POST /v1/runs/{id}/events, a bulk line, POST /v1/runs,
// each payload type). Properties: errors are only 400 bad_request or 422
// schema_violation, and an envelope the validator accepts has everything
// the handlers dereference without checking (type, data, a bulk run_id
// that ParseUuid reads).

#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_check.h"
#include "ledger/canonical_json.h"
#include "ledger/json.h"
#include "ledger/uuid.h"
#include "projections/validation.h"

namespace {

using runledger::Code;
using runledger::Status;
using runledger::ledger::Json;

bool IsSchemaViolation(const Status& s) {
  return s.ok() || (s.code() == Code::kUnprocessable && s.reason() == "schema_violation");
}

void CheckEnvelope(const Json& body, bool bulk) {
  const Status status = runledger::projections::ValidateEventEnvelope(body, bulk);
  FUZZ_CHECK(IsSchemaViolation(status));
  if (!status.ok()) return;
  const Json* type = body.Find("type");
  FUZZ_CHECK(type != nullptr && type->is_string());
  FUZZ_CHECK(type->string() != "deleted");
  FUZZ_CHECK(body.Find("data") != nullptr);
  if (const Json* id = body.Find("id")) FUZZ_CHECK(id->is_string() && !id->string().empty());
  if (const Json* at = body.Find("occurred_at")) FUZZ_CHECK(at->is_string());
  if (bulk) {
    const Json* run_id = body.Find("run_id");
    FUZZ_CHECK(run_id != nullptr && run_id->is_string());
    FUZZ_CHECK(runledger::ledger::ParseUuid(run_id->string()).has_value());
    FUZZ_CHECK(body.Find("id") != nullptr);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = runledger::fuzz::AsText(data, size);
  auto parsed = runledger::ledger::ParseJson(text);
  if (!parsed) {
    const Status& e = parsed.error();
    FUZZ_CHECK((e.code() == Code::kBadRequest && e.reason() == "bad_request") ||
               (e.code() == Code::kUnprocessable && e.reason() == "schema_violation"));
    return 0;
  }
  CheckEnvelope(*parsed, false);
  CheckEnvelope(*parsed, true);
  FUZZ_CHECK(IsSchemaViolation(runledger::projections::ValidateCreatedPayload(*parsed)));
  for (const char* type : {"created", "started", "progressed", "logged", "ended", "deleted", "bogus"}) {
    FUZZ_CHECK(IsSchemaViolation(runledger::projections::ValidatePayload(type, *parsed)));
  }
  // The event's data of a valid envelope is what gets stored: its canonical
  // form must read back (DecodeEvent parses it with large literals allowed).
  if (const Json* payload = parsed->Find("data")) {
    runledger::ledger::JsonParseOptions stored;
    stored.allow_large_integer_literals = true;
    FUZZ_CHECK(runledger::ledger::ParseJson(runledger::ledger::Canonical(*payload), stored).has_value());
  }
  return 0;
}
