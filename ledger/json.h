#pragma once

// A small JSON document model and an I-JSON (RFC 7493) parser.
//
// Numbers are IEEE-754 doubles: I-JSON allows nothing a double cannot hold
// exactly, so no precision is lost between parsing and canonical output
// (ledger/canonical_json.h). Strings hold UTF-8.

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "ledger/status.h"

namespace runledger::ledger {

// The deepest nesting of arrays and objects that ParseJson accepts. A
// top-level scalar has depth 0, `[]` depth 1, `[[]]` depth 2.
inline constexpr int kMaxJsonDepth = 64;

// One JSON value. A Json owns its children; copies are deep. Not
// thread-safe for concurrent mutation; concurrent const use is fine.
class Json {
 public:
  enum class Kind : unsigned char { kNull, kBool, kNumber, kString, kArray, kObject };
  using Array = std::vector<Json>;
  using Member = std::pair<std::string, Json>;
  // Members in the order they were parsed or inserted. Invariant: keys are
  // unique (ParseJson rejects duplicates; MakeObject requires it).
  using Object = std::vector<Member>;

  Json();  // null
  static Json Bool(bool b);
  // `d` should be finite: JSON has no NaN or infinity, and the canonical
  // form writes them as `null`.
  static Json Number(double d);
  static Json String(std::string s);
  static Json MakeArray(Array a = {});
  // Precondition: the keys of `o` are unique (checked in debug builds).
  static Json MakeObject(Object o = {});

  Kind kind() const { return static_cast<Kind>(value_.index()); }
  bool is_null() const { return kind() == Kind::kNull; }
  bool is_bool() const { return kind() == Kind::kBool; }
  bool is_number() const { return kind() == Kind::kNumber; }
  bool is_string() const { return kind() == Kind::kString; }
  bool is_array() const { return kind() == Kind::kArray; }
  bool is_object() const { return kind() == Kind::kObject; }

  // Read accessors. On a value of another kind they return false, 0, an
  // empty string, an empty array or an empty object: check is_x() first
  // when the kind matters.
  bool boolean() const;
  double number() const;
  const std::string& string() const;
  const Array& array() const;
  const Object& object() const;

  // Mutable accessors. On a value of another kind they first replace it
  // with an empty array / object, so `Json j; j.array().push_back(...)`
  // builds an array.
  Array& array();
  Object& object();

  // The member named `key`, or nullptr when absent or when this is not an
  // object. The pointer is valid until the object is next modified.
  const Json* Find(std::string_view key) const;
  Json* Find(std::string_view key);

  // Replaces the member named `key`, or appends it. A non-object value is
  // first replaced with an empty object.
  void Set(std::string key, Json value);
  // Removes the member named `key`, keeping the order of the others.
  // Returns true if it was present; false also when this is not an object.
  bool Erase(std::string_view key);

  // The value as an integer when it is a number with an integral value
  // within ±(2^53−1) (1.0 and -0.0 count), else nullopt.
  std::optional<std::int64_t> AsSafeInteger() const;

  // Semantic equality: objects are equal as key->value maps whatever their
  // member order; numbers compare by value (-0 == 0; NaN != NaN); arrays
  // element by element.
  friend bool operator==(const Json& a, const Json& b);

 private:
  // The alternative index equals the Kind.
  std::variant<std::monostate, bool, double, std::string, Array, Object> value_;
};

// How ParseJson treats integer literals outside ±(2^53−1).
struct JsonParseOptions {
  // False (the default, for input from clients): such a literal is an
  // I-JSON violation (422). True: it is read as the nearest double. Set it
  // to read back canonical JSON this process wrote: RFC 8785 writes
  // integral doubles below 1e21 in full, so an accepted 1e20 is stored as
  // 100000000000000000000, which the default would refuse on reading.
  bool allow_large_integer_literals = false;
};

// Parses one complete JSON text (RFC 8259) that must also be I-JSON
// (RFC 7493). Errors:
//  - Code::kBadRequest, reason "bad_request": the text is not JSON (empty,
//    syntax error, malformed number such as `01` or `1.`, bad escape,
//    unescaped control character, trailing content).
//  - Code::kUnprocessable, reason "schema_violation": valid JSON that breaks
//    I-JSON: a duplicate key in any object, invalid UTF-8 (including an
//    unpaired surrogate escape such as "\ud800"), an integer literal (no
//    fraction, no exponent) outside ±(2^53−1), a number that is not a finite
//    double (1e400), nesting deeper than kMaxJsonDepth.
// A syntax error anywhere takes precedence over an I-JSON violation, except
// that parsing stops where nesting first exceeds kMaxJsonDepth. The message
// is one short sentence naming the problem and its JSON pointer.
// A number that underflows (1e-400) is accepted as its nearest double, 0.
// Thread-safe: each thread keeps its own simdjson parser for inputs up to
// 1 MiB; larger inputs use a temporary one.
Result<Json> ParseJson(std::string_view text, const JsonParseOptions& options = {});
// As above, for text that already carries simdjson's padding (avoids a
// copy). Pass a simdjson::padded_string as padded_string_view(p): it converts
// to std::string_view too, so a bare one is ambiguous.
Result<Json> ParseJson(const simdjson::padded_string_view& padded,
                       const JsonParseOptions& options = {});

}  // namespace runledger::ledger
