#include "ledger/json.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstring>
#include <memory>
#include <system_error>

namespace runledger::ledger {
namespace {

namespace od = simdjson::ondemand;

// Largest magnitude of an I-JSON integer literal: 2^53 - 1.
constexpr std::uint64_t kMaxSafeInteger = (std::uint64_t{1} << 53) - 1;

// Inputs up to this size reuse the calling thread's simdjson parser and
// padding buffer; larger ones get temporary ones, so one huge request does
// not pin its memory to a thread forever.
constexpr std::size_t kPooledInputBytesMax = std::size_t{1} << 20;

// Longest key, token or JSON pointer quoted in an error message.
constexpr std::size_t kMessageQuoteBytesMax = 96;

// A key that occurs more than once in `members`, if any.
std::optional<std::string_view> FindDuplicateKey(const Json::Object& members) {
  if (members.size() <= 16) {  // small objects: no allocation
    for (std::size_t i = 1; i < members.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (members[i].first == members[j].first) return members[i].first;
      }
    }
    return std::nullopt;
  }
  std::vector<std::string_view> keys;
  keys.reserve(members.size());
  for (const Json::Member& m : members) keys.push_back(m.first);
  std::sort(keys.begin(), keys.end());
  auto it = std::adjacent_find(keys.begin(), keys.end());
  if (it == keys.end()) return std::nullopt;
  return *it;
}

bool ObjectsEqual(const Json::Object& a, const Json::Object& b) {
  if (a.size() != b.size()) return false;
  // Keys are unique, so "every member of a is in b with an equal value"
  // plus equal sizes means equal maps.
  for (const Json::Member& m : a) {
    auto it =
        std::find_if(b.begin(), b.end(), [&](const Json::Member& n) { return n.first == m.first; });
    if (it == b.end() || !(it->second == m.second)) return false;
  }
  return true;
}

template <typename Members>
auto FindMember(Members& members, std::string_view key) -> decltype(&members[0].second) {
  for (auto& m : members) {
    if (m.first == key) return &m.second;
  }
  return nullptr;
}

}  // namespace

Json::Json() = default;

Json Json::Bool(bool b) {
  Json j;
  j.value_ = b;
  return j;
}

Json Json::Number(double d) {
  Json j;
  j.value_ = d;
  return j;
}

Json Json::String(std::string s) {
  Json j;
  j.value_ = std::move(s);
  return j;
}

Json Json::MakeArray(Array a) {
  Json j;
  j.value_ = std::move(a);
  return j;
}

Json Json::MakeObject(Object o) {
  assert(!FindDuplicateKey(o).has_value());
  Json j;
  j.value_ = std::move(o);
  return j;
}

bool Json::boolean() const {
  const bool* b = std::get_if<bool>(&value_);
  return b != nullptr && *b;
}

double Json::number() const {
  const double* d = std::get_if<double>(&value_);
  return d != nullptr ? *d : 0.0;
}

const std::string& Json::string() const {
  static const std::string& kEmpty = *new std::string();
  const std::string* s = std::get_if<std::string>(&value_);
  return s != nullptr ? *s : kEmpty;
}

const Json::Array& Json::array() const {
  static const Array& kEmpty = *new Array();
  const Array* a = std::get_if<Array>(&value_);
  return a != nullptr ? *a : kEmpty;
}

const Json::Object& Json::object() const {
  static const Object& kEmpty = *new Object();
  const Object* o = std::get_if<Object>(&value_);
  return o != nullptr ? *o : kEmpty;
}

Json::Array& Json::array() {
  if (!is_array()) value_ = Array();
  return *std::get_if<Array>(&value_);
}

Json::Object& Json::object() {
  if (!is_object()) value_ = Object();
  return *std::get_if<Object>(&value_);
}

const Json* Json::Find(std::string_view key) const {
  const Object* o = std::get_if<Object>(&value_);
  return o != nullptr ? FindMember(*o, key) : nullptr;
}

Json* Json::Find(std::string_view key) {
  Object* o = std::get_if<Object>(&value_);
  return o != nullptr ? FindMember(*o, key) : nullptr;
}

void Json::Set(std::string key, Json value) {
  Object& members = object();
  if (Json* existing = FindMember(members, key)) {
    *existing = std::move(value);
    return;
  }
  members.emplace_back(std::move(key), std::move(value));
}

bool Json::Erase(std::string_view key) {
  Object* o = std::get_if<Object>(&value_);
  if (o == nullptr) return false;
  auto it = std::find_if(o->begin(), o->end(), [&](const Member& m) { return m.first == key; });
  if (it == o->end()) return false;
  o->erase(it);
  return true;
}

std::optional<std::int64_t> Json::AsSafeInteger() const {
  const double* d = std::get_if<double>(&value_);
  constexpr double kMax = static_cast<double>(kMaxSafeInteger);
  // The range test also rejects NaN; infinities fail it too.
  if (d == nullptr || !(*d >= -kMax && *d <= kMax) || std::trunc(*d) != *d) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(*d);
}

bool operator==(const Json& a, const Json& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Json::Kind::kNull:
      return true;
    case Json::Kind::kBool:
      return a.boolean() == b.boolean();
    case Json::Kind::kNumber:
      return a.number() == b.number();
    case Json::Kind::kString:
      return a.string() == b.string();
    case Json::Kind::kArray:
      return a.array() == b.array();
    case Json::Kind::kObject:
      return ObjectsEqual(a.object(), b.object());
  }
  return false;
}

// ---------------------------------------------------------------------------
// Parsing.
//
// simdjson validates UTF-8 and string quoting over the whole input, but the
// On-Demand API checks only what it is asked to read, so the DomBuilder reads
// every value: it checks number and literal tokens against the JSON grammar
// itself, and finds duplicate keys, which simdjson never reports.
//
// A syntax error stops the parse (400). An I-JSON violation is remembered
// (the first one wins) and parsing goes on, so that a text that is also
// malformed further on still gets its 400. Only excessive nesting stops the
// parse with a 422, to bound recursion.

namespace {

// One step of the path from the root to the value being parsed, kept on the
// C++ stack; turned into a JSON pointer only when an error is reported.
struct PathNode {
  const PathNode* parent;
  std::string_view key;  // valid while the simdjson document lives
  std::size_t index;
  bool is_key;
};

// Cuts `s` to at most kMessageQuoteBytesMax bytes at a UTF-8 boundary.
std::string Abbreviate(std::string_view s) {
  if (s.size() <= kMessageQuoteBytesMax) return std::string(s);
  std::size_t n = kMessageQuoteBytesMax;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n)) + "...";
}

// Appends rather than `"\"" + ...`: GCC 12 warns falsely (-Wrestrict) on that form.
std::string Quoted(std::string_view s) {
  std::string quoted(1, '"');
  quoted.append(Abbreviate(s));
  quoted.push_back('"');
  return quoted;
}

// " at /a/0/b", per RFC 6901 (`~` -> `~0`, `/` -> `~1`).
std::string At(const PathNode* node) {
  if (node == nullptr) return " at the top level";
  std::vector<const PathNode*> chain;
  for (; node != nullptr; node = node->parent) chain.push_back(node);
  std::string pointer;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    pointer += '/';
    if (!(*it)->is_key) {
      pointer += std::to_string((*it)->index);
      continue;
    }
    for (char c : (*it)->key) {
      if (c == '~') {
        pointer += "~0";
      } else if (c == '/') {
        pointer += "~1";
      } else {
        pointer += c;
      }
    }
  }
  return " at " + Abbreviate(pointer);
}

std::string_view Describe(simdjson::error_code error) {
  switch (error) {
    case simdjson::EMPTY:
      return "the text is empty";
    case simdjson::UNCLOSED_STRING:
      return "a string is not closed";
    case simdjson::UNESCAPED_CHARS:
      return "a string contains an unescaped control character";
    case simdjson::INCOMPLETE_ARRAY_OR_OBJECT:
      return "an array or object is not closed properly";
    case simdjson::TRAILING_CONTENT:
      return "there is content after the JSON value";
    case simdjson::CAPACITY:
      return "the text is too large";
    case simdjson::STRING_ERROR:
      return "a string has an invalid escape";
    default:
      return "unexpected character";
  }
}

Status SyntaxError(simdjson::error_code error, const PathNode* path) {
  if (error == simdjson::MEMALLOC) return Status::Internal("out of memory parsing JSON");
  return Status::BadRequest("not valid JSON: " + std::string(Describe(error)) + At(path));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads the 4 hex digits at p (within a closed string, so the closing quote
// stops the read before the end of the buffer). -1 if not hex.
int ReadHex4(const char* p) {
  int value = 0;
  for (int i = 0; i < 4; ++i) {
    int digit = HexValue(p[i]);
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

// The closing quote of the string whose contents start at `p`. simdjson has
// already checked that every string in the input is closed.
const char* StringEnd(const char* p) {
  while (*p != '"') p += (*p == '\\') ? 2 : 1;
  return p;
}

enum class StringProblem { kBadEscape, kUnpairedSurrogate };

// Why simdjson could not unescape the string whose contents start at `p`.
StringProblem DiagnoseString(const char* p) {
  for (; *p != '"'; ++p) {
    if (*p != '\\') continue;
    ++p;
    if (*p != '\0' && std::strchr("\"\\/bfnrt", *p) != nullptr) continue;
    if (*p != 'u') return StringProblem::kBadEscape;
    int unit = ReadHex4(p + 1);
    if (unit < 0) return StringProblem::kBadEscape;
    p += 4;
    if (unit >= 0xDC00 && unit <= 0xDFFF) return StringProblem::kUnpairedSurrogate;
    if (unit < 0xD800 || unit > 0xDBFF) continue;
    if (p[1] != '\\' || p[2] != 'u') return StringProblem::kUnpairedSurrogate;
    int low = ReadHex4(p + 3);
    if (low < 0) return StringProblem::kBadEscape;
    if (low < 0xDC00 || low > 0xDFFF) return StringProblem::kUnpairedSurrogate;
    p += 6;
  }
  // Not found: report the conservative answer.
  return StringProblem::kBadEscape;
}

enum class NumberForm { kMalformed, kInteger, kDecimal };

// Checks `t` against RFC 8259's grammar:
//   -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
NumberForm ScanNumber(std::string_view t) {
  std::size_t i = 0;
  const std::size_t n = t.size();
  if (i < n && t[i] == '-') ++i;
  if (i >= n || !IsDigit(t[i])) return NumberForm::kMalformed;
  if (t[i++] != '0') {
    while (i < n && IsDigit(t[i])) ++i;
  }
  NumberForm form = NumberForm::kInteger;
  if (i < n && t[i] == '.') {
    form = NumberForm::kDecimal;
    if (++i >= n || !IsDigit(t[i])) return NumberForm::kMalformed;
    while (i < n && IsDigit(t[i])) ++i;
  }
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    form = NumberForm::kDecimal;
    if (++i < n && (t[i] == '+' || t[i] == '-')) ++i;
    if (i >= n || !IsDigit(t[i])) return NumberForm::kMalformed;
    while (i < n && IsDigit(t[i])) ++i;
  }
  return i == n ? form : NumberForm::kMalformed;
}

// The value of an integer literal within ±(2^53−1), else nullopt.
// Precondition: ScanNumber(t) == kInteger.
std::optional<double> SafeIntegerLiteral(std::string_view t) {
  const bool negative = t[0] == '-';
  std::string_view digits = t.substr(negative ? 1 : 0);
  if (digits.size() > 16) return std::nullopt;  // 2^53 - 1 has 16 digits
  std::uint64_t value = 0;
  for (char c : digits) value = value * 10 + static_cast<std::uint64_t>(c - '0');
  if (value > kMaxSafeInteger) return std::nullopt;
  const double magnitude = static_cast<double>(value);  // exact below 2^53
  return negative ? -magnitude : magnitude;
}

// For a well-formed decimal literal that std::from_chars found out of range:
// true if it overflows (|x| >= 1), false if it underflows towards zero.
bool Overflows(std::string_view t) {
  std::size_t i = (t[0] == '-') ? 1 : 0;
  long long leading_exponent = 0;  // power of ten of the first nonzero digit
  if (t[i] != '0') {
    std::size_t start = i;
    while (i < t.size() && IsDigit(t[i])) ++i;
    leading_exponent = static_cast<long long>(i - start) - 1;
  } else if (i + 1 < t.size() && t[i + 1] == '.') {
    const std::size_t fraction_start = i + 2;
    i = fraction_start;
    while (i < t.size() && t[i] == '0') ++i;
    leading_exponent = -static_cast<long long>(i - fraction_start + 1);
  }
  std::size_t e = t.find_first_of("eE");
  long long exponent = 0;
  if (e != std::string_view::npos) {
    std::size_t j = e + 1;
    const bool negative = t[j] == '-';
    if (t[j] == '+' || t[j] == '-') ++j;
    for (; j < t.size() && exponent < 1'000'000'000; ++j) exponent = exponent * 10 + (t[j] - '0');
    if (negative) exponent = -exponent;
  }
  return leading_exponent + exponent >= 0;
}

std::string_view TrimTrailingSpace(std::string_view t) {
  while (!t.empty() &&
         (t.back() == ' ' || t.back() == '\t' || t.back() == '\n' || t.back() == '\r')) {
    t.remove_suffix(1);
  }
  return t;
}

// Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs,
// no surrogates, nothing above U+10FFFF), or 0.
std::size_t Utf8SequenceLength(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = p[0];
  if (c < 0x80) return 1;
  std::size_t length;
  unsigned char low = 0x80, high = 0xBF;  // bounds of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    length = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    length = 3;
    if (c == 0xE0) low = 0xA0;
    if (c == 0xED) high = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    length = 4;
    if (c == 0xF0) low = 0x90;
    if (c == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (static_cast<std::size_t>(end - p) < length || p[1] < low || p[1] > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
  }
  return length;
}

// Replaces each byte that does not belong to well-formed UTF-8 with '?' and
// returns the offset of the first one.
std::size_t ReplaceInvalidUtf8(std::string* text) {
  auto* p = reinterpret_cast<unsigned char*>(text->data());
  auto* end = p + text->size();
  std::size_t first = text->size();
  for (unsigned char* q = p; q < end;) {
    std::size_t length = Utf8SequenceLength(q, end);
    if (length > 0) {
      q += length;
      continue;
    }
    first = std::min(first, static_cast<std::size_t>(q - p));
    *q++ = '?';
  }
  return first;
}

class DomBuilder {
 public:
  // `bad_utf8`, when set, points at an invalid byte (already replaced) that
  // must be reported as an I-JSON violation with the path of its string.
  DomBuilder(const JsonParseOptions& options, const char* end, const char* bad_utf8)
      : options_(options), end_(end), bad_utf8_(bad_utf8) {}

  Result<Json> Build(od::document& doc) {
    od::json_type type;
    if (auto error = doc.type().get(type)) return SyntaxError(error, nullptr);
    Json root;
    if (type == od::json_type::array || type == od::json_type::object) {
      od::value value;
      if (auto error = doc.get_value().get(value)) return SyntaxError(error, nullptr);
      root = ParseContainer(value, type, nullptr, 1);
      if (failed()) return fatal_;
      // Every token was consumed, or something follows the value.
      if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
        return SyntaxError(simdjson::TRAILING_CONTENT, nullptr);
      }
    } else {
      std::string_view raw;
      if (auto error = doc.raw_json_token().get(raw)) return SyntaxError(error, nullptr);
      if (raw.data() + raw.size() != end_) return SyntaxError(simdjson::TRAILING_CONTENT, nullptr);
      root = type == od::json_type::string ? ParseString(raw.data(), doc.get_string(), nullptr)
                                           : ParseScalar(raw, type, nullptr);
      if (failed()) return fatal_;
    }
    if (!violation_.ok()) return violation_;
    return root;
  }

 private:
  // A nonempty object starts with room for this many members: most event
  // objects fit, which saves the reallocations of growing from one. Copies
  // of the DOM are sized exactly, so only the parse result carries slack.
  static constexpr std::size_t kObjectMembersReserved = 8;

  // Each Parse* returns the value read. After a fatal error (failed()) the
  // value is meaningless and the caller must stop.
  bool failed() const { return !fatal_.ok(); }

  Json ParseValue(od::value& value, const PathNode* path, int depth) {
    od::json_type type;
    if (auto error = value.type().get(type)) return Fatal(SyntaxError(error, path));
    switch (type) {
      case od::json_type::array:
      case od::json_type::object:
        return ParseContainer(value, type, path, depth + 1);
      case od::json_type::string: {
        const char* quote = value.raw_json_token().data();
        return ParseString(quote, value.get_string(), path);
      }
      default:
        return ParseScalar(value.raw_json_token(), type, path);
    }
  }

  Json ParseContainer(od::value& value, od::json_type type, const PathNode* path, int depth) {
    if (depth > kMaxJsonDepth) {
      return Fatal(Status::Schema("nesting is deeper than " + std::to_string(kMaxJsonDepth) +
                                  " levels" + At(path)));
    }
    return type == od::json_type::array ? ParseArray(value, path, depth)
                                        : ParseObject(value, path, depth);
  }

  Json ParseArray(od::value& value, const PathNode* path, int depth) {
    od::array array;
    if (auto error = value.get_array().get(array)) return Fatal(SyntaxError(error, path));
    Json result = Json::MakeArray();
    Json::Array& elements = result.array();
    for (auto element_result : array) {
      PathNode node{path, {}, elements.size(), false};
      od::value element;
      if (auto error = std::move(element_result).get(element)) {
        return Fatal(SyntaxError(error, &node));
      }
      elements.push_back(ParseValue(element, &node, depth));
      if (failed()) return Json();
    }
    return result;
  }

  Json ParseObject(od::value& value, const PathNode* path, int depth) {
    od::object object;
    if (auto error = value.get_object().get(object)) return Fatal(SyntaxError(error, path));
    // Built through object() rather than MakeObject: duplicate keys are
    // reported below, not asserted.
    Json result;
    Json::Object& members = result.object();
    for (auto field_result : object) {
      if (members.empty()) members.reserve(kObjectMembersReserved);  // `{}` allocates nothing
      od::field field;
      if (auto error = std::move(field_result).get(field)) return Fatal(SyntaxError(error, path));
      const char* key_start = field.key().raw();
      std::string_view key;
      if (field.unescaped_key().get(key) != simdjson::SUCCESS) {
        StringFailed(key_start, path);
        if (failed()) return Json();
      }
      PathNode node{path, key, 0, true};
      CheckUtf8(key_start, &node);
      members.emplace_back(std::string(key), ParseValue(field.value(), &node, depth));
      if (failed()) return Json();
    }
    CheckDuplicateKeys(members, path);
    return result;
  }

  Json ParseString(const char* quote, simdjson::simdjson_result<std::string_view> unescaped,
                   const PathNode* path) {
    std::string_view s;
    if (std::move(unescaped).get(s) != simdjson::SUCCESS) {
      StringFailed(quote + 1, path);
      return Json();
    }
    CheckUtf8(quote + 1, path);
    return Json::String(std::string(s));
  }

  // simdjson could not unescape the string whose contents start at `p`:
  // a fatal syntax error, or an I-JSON violation.
  void StringFailed(const char* p, const PathNode* path) {
    if (DiagnoseString(p) == StringProblem::kBadEscape) {
      Fatal(SyntaxError(simdjson::STRING_ERROR, path));
    } else {
      Violate("a string has an unpaired UTF-16 surrogate escape" + At(path));
    }
  }

  void CheckUtf8(const char* contents, const PathNode* path) {
    if (bad_utf8_ != nullptr && bad_utf8_ >= contents && bad_utf8_ < StringEnd(contents)) {
      Violate("a string is not valid UTF-8" + At(path));
    }
  }

  Json ParseScalar(std::string_view raw, od::json_type type, const PathNode* path) {
    std::string_view token = TrimTrailingSpace(raw);
    switch (type) {
      case od::json_type::number:
        return ParseNumber(token, path);
      case od::json_type::boolean:
        if (token == "true") return Json::Bool(true);
        if (token == "false") return Json::Bool(false);
        break;
      case od::json_type::null:
        if (token == "null") return Json();
        break;
      default:
        break;
    }
    return Fatal(
        Status::BadRequest("not valid JSON: unexpected token " + Quoted(token) + At(path)));
  }

  Json ParseNumber(std::string_view token, const PathNode* path) {
    NumberForm form = ScanNumber(token);
    if (form == NumberForm::kMalformed) {
      return Fatal(
          Status::BadRequest("not valid JSON: malformed number " + Quoted(token) + At(path)));
    }
    if (form == NumberForm::kInteger) {
      if (std::optional<double> value = SafeIntegerLiteral(token)) return Json::Number(*value);
      if (!options_.allow_large_integer_literals) {
        Violate("integer " + Quoted(token) + At(path) + " is outside ±(2^53-1)");
        return Json();
      }
    }
    double value = 0;
    auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), value);
    if (error == std::errc::result_out_of_range) {
      if (Overflows(token)) {
        Violate("number " + Quoted(token) + At(path) + " is not a finite double");
        return Json();
      }
      value = token[0] == '-' ? -0.0 : 0.0;
    } else if (error != std::errc() || end != token.data() + token.size()) {
      return Fatal(
          Status::BadRequest("not valid JSON: malformed number " + Quoted(token) + At(path)));
    }
    return Json::Number(value);
  }

  void CheckDuplicateKeys(const Json::Object& members, const PathNode* path) {
    if (!violation_.ok()) return;
    if (std::optional<std::string_view> key = FindDuplicateKey(members)) {
      Violate("duplicate key " + Quoted(*key) + " in the object" + At(path));
    }
  }

  void Violate(std::string message) {
    if (violation_.ok()) violation_ = Status::Schema(std::move(message));
  }

  // Records a fatal error; returns a placeholder value for the caller to drop.
  Json Fatal(Status status) {
    fatal_ = std::move(status);
    return Json();
  }

  const JsonParseOptions& options_;
  const char* end_;
  const char* bad_utf8_;
  Status fatal_;
  Status violation_;
};

// Owns a copy of the input with simdjson's padding after it.
class PaddedCopy {
 public:
  void Assign(std::string_view text) {
    const std::size_t needed = text.size() + simdjson::SIMDJSON_PADDING;
    if (needed > capacity_) {
      data_ = std::make_unique<char[]>(needed);
      capacity_ = needed;
    }
    std::memcpy(data_.get(), text.data(), text.size());
    std::memset(data_.get() + text.size(), 0, simdjson::SIMDJSON_PADDING);
    size_ = text.size();
  }
  const char* data() const { return data_.get(); }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

Result<Json> ParseInvalidUtf8(od::parser& parser, const JsonParseOptions& options, const char* data,
                              std::size_t size);

Result<Json> ParseWith(od::parser& parser, const JsonParseOptions& options, const char* data,
                       std::size_t size, std::size_t capacity, const char* bad_utf8 = nullptr) {
  auto document = parser.iterate(data, size, capacity);
  if (document.error() == simdjson::UTF8_ERROR) {
    // A second failure means simdjson is stricter than ReplaceInvalidUtf8.
    if (bad_utf8 == nullptr) return ParseInvalidUtf8(parser, options, data, size);
    return Status::Schema("the text is not valid UTF-8");
  }
  if (document.error()) return SyntaxError(document.error(), nullptr);
  return DomBuilder(options, data + size, bad_utf8).Build(document.value_unsafe());
}

// The input is not UTF-8. Parse a copy with the bad bytes replaced by '?':
// if that copy is not JSON either (a bad byte outside a string, or another
// syntax error), the answer is 400; otherwise 422, naming the string.
Result<Json> ParseInvalidUtf8(od::parser& parser, const JsonParseOptions& options, const char* data,
                              std::size_t size) {
  std::string copy(data, size);
  const std::size_t first_bad = ReplaceInvalidUtf8(&copy);
  const std::string message =
      "the text is not valid UTF-8 (byte " + std::to_string(first_bad) + ")";
  if (first_bad == size) return Status::Schema(message);  // simdjson is stricter than we are
  copy.append(simdjson::SIMDJSON_PADDING, '\0');
  Result<Json> result =
      ParseWith(parser, options, copy.data(), size, copy.size(), copy.data() + first_bad);
  if (result) return Status::Schema(message);
  return result.error();
}

}  // namespace

Result<Json> ParseJson(const simdjson::padded_string_view& padded,
                       const JsonParseOptions& options) {
  if (padded.size() > kPooledInputBytesMax) {
    od::parser parser;
    return ParseWith(parser, options, padded.data(), padded.size(), padded.capacity());
  }
  thread_local od::parser parser;
  return ParseWith(parser, options, padded.data(), padded.size(), padded.capacity());
}

Result<Json> ParseJson(std::string_view text, const JsonParseOptions& options) {
  if (text.size() > kPooledInputBytesMax) {
    PaddedCopy copy;
    copy.Assign(text);
    od::parser parser;
    return ParseWith(parser, options, copy.data(), copy.size(), copy.capacity());
  }
  thread_local PaddedCopy copy;
  copy.Assign(text);
  return ParseJson(simdjson::padded_string_view(copy.data(), copy.size(), copy.capacity()),
                   options);
}

}  // namespace runledger::ledger
