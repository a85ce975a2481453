#pragma once

// The schema rules of SPEC section 2, as published in schemas/: every
// function answers 422 schema_violation with a message naming the member.
// State-dependent rules live in the commands (projections/commands.cc).

#include <string_view>

#include "ledger/json.h"
#include "ledger/status.h"

namespace runledger::projections {

using ledger::Json;

// A `created` payload as a client sends it (no rerun_of / resumed_from).
Status ValidateCreatedPayload(const Json& data);
// The payload of `type` (started, progressed, logged, ended, deleted).
Status ValidatePayload(std::string_view type, const Json& data);

// Body of POST /v1/runs/{id}/events: {type, data, id?, occurred_at?}.
// With `bulk`, also `run_id` (required) and a required `id` (POST /v1/events).
Status ValidateEventEnvelope(const Json& body, bool bulk);

// Client event ids: strings of 1..128 characters.
bool IsValidClientEventId(const Json& id);
// RFC 3339 date-time with `T`, optional fraction, `Z` or an offset.
bool IsRfc3339(std::string_view text);

}  // namespace runledger::projections
