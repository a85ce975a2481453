// Request target parsing (server/query_string.h) and the value parsers the
// read routes apply to query parameters: ParseDecimal (limit, after,
// after_seq, at_seq, Last-Event-ID), ParseRfc3339Ms (as_of, from, to,
// created_*), ParseUuid (run ids), SplitComma (status, operation, type).
// Properties: each agrees with a simple reference or round-trips.

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.h"
#include "ledger/time.h"
#include "ledger/uuid.h"
#include "server/query_string.h"

namespace {

using namespace runledger;

std::optional<std::uint64_t> ReferenceDecimal(std::string_view text, std::uint64_t max) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  unsigned __int128 value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > max) return std::nullopt;
  return static_cast<std::uint64_t>(value);
}

void CheckValue(std::string_view value) {
  for (std::uint64_t max : {std::uint64_t{1000}, std::uint64_t{UINT32_MAX}, std::uint64_t{UINT64_MAX}}) {
    FUZZ_CHECK(server::ParseDecimal(value, max) == ReferenceDecimal(value, max));
  }
  for (const std::string& item : server::SplitComma(value)) {
    FUZZ_CHECK(!item.empty() && item.find(',') == std::string::npos);
  }
  // Every accepted time can be written back and read again (an export
  // header's from/to are written so and verified so).
  if (const auto ms = ledger::ParseRfc3339Ms(value)) {
    const std::string formatted = ledger::FormatTimestampMs(*ms);
    FUZZ_CHECK(formatted.size() == 24);
    FUZZ_CHECK(ledger::ParseRfc3339Ms(formatted) == ms);
  }
  if (const auto id = ledger::ParseUuid(value)) {
    const std::string text = ledger::FormatUuid(*id);
    FUZZ_CHECK(value.size() == 36 && text.size() == 36 && ledger::ParseUuid(text) == id);
    for (std::size_t i = 0; i < text.size(); ++i) {
      const char c = value[i] >= 'A' && value[i] <= 'F' ? static_cast<char>(value[i] - 'A' + 'a') : value[i];
      FUZZ_CHECK(text[i] == c);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view target = fuzz::AsText(data, size);
  const std::size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string decoded = server::PercentDecode(path);
  FUZZ_CHECK(decoded.size() <= path.size());
  if (path.find_first_of("%+") == std::string_view::npos) FUZZ_CHECK(decoded == path);
  std::size_t slashes = 0;
  for (char c : path) slashes += c == '/';
  const auto parts = server::SplitPath(path);
  FUZZ_CHECK(parts.size() <= slashes + 1);
  for (const std::string& part : parts) CheckValue(part);
  if (q == std::string_view::npos) return 0;
  for (const auto& [name, value] : server::ParseQueryString(target.substr(q + 1))) {
    FUZZ_CHECK(!name.empty() || !value.empty() || target.substr(q + 1).find("=") != std::string_view::npos);
    CheckValue(value);
  }
  return 0;
}
