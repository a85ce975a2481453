#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace runledger::ledger {

// Milliseconds since the Unix epoch, from the system clock.
std::int64_t NowUnixMs();

// Formats as the ledger's `recorded_at`: `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
std::string FormatTimestampMs(std::int64_t unix_ms);

// Parses an RFC 3339 date-time (`2026-01-02T03:04:05Z`, optional fraction,
// `Z` or `+hh:mm`/`-hh:mm`, `T`/`t`/space separator) into Unix milliseconds;
// fractions beyond milliseconds are truncated. nullopt when malformed, or
// when the instant in UTC falls outside years 0000..9999 (which
// FormatTimestampMs cannot write).
std::optional<std::int64_t> ParseRfc3339Ms(std::string_view text);

}  // namespace runledger::ledger
