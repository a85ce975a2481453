#pragma once

// RFC 9457 problem responses, and the one table that maps a
// runledger::Code to an HTTP status. A problem body is
//
//   {"type":"about:blank","title":"Conflict","status":409,
//    "detail":"...","code":"invalid_transition","request_id":"...", <extra>}
//
// where `code` is the SPEC's stable machine word and `request_id` repeats the
// response's X-Request-Id. Bodies of 5xx problems made from a Status never
// carry the Status message: it may name files or internal state.

#include <functional>
#include <string>
#include <string_view>

#include "ledger/json_writer.h"
#include "ledger/status.h"
#include "server/http.h"

namespace runledger::server {

// Writes extra members after the standard ones, e.g. for a 409:
//   [&](ledger::JsonWriter& w) {
//     w.Key("current_status").String("running");
//     w.Key("allowed_actions").BeginArray().String("abort").EndArray();
//   }
using ProblemMembers = std::function<void(ledger::JsonWriter&)>;

// kOk is 200; kCorruption, kIOError and kInternal are 500.
int HttpStatusFor(Code code);

// The problem object alone, for places that embed it (a bulk-ingest line).
std::string ProblemJson(unsigned status, std::string_view code,
                        std::string_view title, std::string_view detail,
                        std::string_view request_id,
                        const ProblemMembers& extra = {});

// A complete application/problem+json response carrying X-Request-Id.
Response MakeProblem(unsigned status, std::string_view code,
                     std::string_view title, std::string_view detail,
                     std::string_view request_id, unsigned version = 11,
                     bool keep_alive = true, const ProblemMembers& extra = {});

// The problem for a failed Status: status from HttpStatusFor, `code` from
// status.reason(), title from the HTTP reason phrase, detail from
// status.message() for 4xx and a generic sentence for 5xx (whose code is
// then "internal", or "unavailable" for 503). An ok Status is a caller bug
// and becomes a 500.
Response ProblemFromStatus(const Status& status, std::string_view request_id,
                           unsigned version = 11, bool keep_alive = true,
                           const ProblemMembers& extra = {});

// A fresh request id: 16 lowercase hex characters from a random source.
std::string NewRequestId();

// True for 1..kMaxRequestIdLength visible ASCII characters (0x21..0x7E).
inline constexpr std::size_t kMaxRequestIdLength = 128;
bool IsSaneRequestId(std::string_view id);

// The id a response to this request carries: the client's X-Request-Id if
// sane, else a new one.
std::string RequestIdFor(const http::request_header<>& header);

}  // namespace runledger::server
