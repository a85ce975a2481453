#pragma once

// Parsing of a request target's path and query string, kept apart from the
// handler so it can be tested and fuzzed on its own. All functions are pure
// and thread-safe; none fails: malformed input decodes to *something*, and
// the routes judge the values (400 bad_request for a bad parameter).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace runledger::server {

// Decodes `%XX` (either hex case) to its byte and `+` to a space. A `%` not
// followed by two hex digits is kept as is. The result may hold any byte,
// NUL and invalid UTF-8 included.
std::string PercentDecode(std::string_view in);

// "/a/b%2Fc/" -> {"a", "b/c"}: the segments after the leading "/", each
// percent-decoded after splitting (so an encoded "/" or ".." is data, never
// structure); a trailing "/" adds no empty segment. Segments are not
// normalized: ".." is an ordinary segment that no route matches.
std::vector<std::string> SplitPath(std::string_view path);

// "a=1&b=x%20y&c" -> {a: "1", b: "x y", c: ""}: pairs split on "&", then on
// the first "="; names and values percent-decoded; empty pairs skipped; of a
// repeated name the last value wins.
std::map<std::string, std::string> ParseQueryString(std::string_view query);

// "a,,b," -> {"a", "b"}: a comma list, empty items dropped.
std::vector<std::string> SplitComma(std::string_view text);

// A non-negative decimal integer: 1..19 ASCII digits (leading zeros
// allowed) whose value is at most `max`; nullopt for anything else (empty,
// a sign, spaces, more digits).
std::optional<std::uint64_t> ParseDecimal(std::string_view text, std::uint64_t max = UINT64_MAX);

}  // namespace runledger::server
