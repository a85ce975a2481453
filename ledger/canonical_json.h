#pragma once

// RFC 8785 JSON Canonicalization Scheme (JCS): the byte form that event
// hashes are computed over (SPEC section 6). Any JCS implementation given
// the same Json produces the same bytes:
//
//   value   = "null" | "true" | "false" | number | string | array | object
//   array   = "[" [ value *( "," value ) ] "]"
//   object  = "{" [ member *( "," member ) ] "}"   ; members sorted by
//             the UTF-16 code units of their keys (Utf16KeyLess)
//   member  = string ":" value
//   number  = ECMAScript Number.prototype.toString of the double
//   string  = '"' chars '"'   ; only '"', '\\' and U+0000..U+001F escaped
//
// No whitespace anywhere. All functions are thread-safe and append to
// `*out`, which must not be null.

#include <string>
#include <string_view>

#include "ledger/json.h"

namespace runledger::ledger {

// Appends the canonical form of `value`. Non-finite numbers (which JSON
// cannot express and ParseJson never produces) are written as `null`.
void AppendCanonical(const Json& value, std::string* out);
std::string Canonical(const Json& value);

// Appends `d` laid out as ECMAScript's Number::toString does, using the
// shortest digits that round-trip: 1e20 -> "100000000000000000000",
// 1e21 -> "1e+21", 1e-6 -> "0.000001", 1e-7 -> "1e-7", -0 -> "0".
// NaN and infinities are written as `null`.
void AppendCanonicalNumber(double d, std::string* out);

// Appends `utf8` as a JSON string: quotes, `\"`, `\\`, \b \t \n \f \r and
// \u00xx (lowercase hex) for the other control characters; every other byte
// is copied as is (the input is expected to be valid UTF-8).
void AppendCanonicalString(std::string_view utf8, std::string* out);

// JCS member order: true if `a` sorts before `b` when both are compared as
// sequences of UTF-16 code units. Both must be valid UTF-8. Differs from
// byte order only for code points above U+FFFF versus U+E000..U+FFFF.
bool Utf16KeyLess(std::string_view a, std::string_view b);

}  // namespace runledger::ledger
