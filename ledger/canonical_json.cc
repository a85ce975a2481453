#include "ledger/canonical_json.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace runledger::ledger {
namespace {

// Appends to a std::string through a raw cursor. The string is grown
// ahead of the cursor and trimmed back when the Sink is destroyed; between
// the two, bytes past the cursor are scratch. This keeps the per-character
// cost at a store instead of a push_back call.
class Sink {
 public:
  explicit Sink(std::string* out) : out_(out), data_(out->data()), used_(out->size()) {}
  ~Sink() { out_->resize(used_); }
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;

  // Makes room for `n` more bytes and returns where they go.
  char* Reserve(std::size_t n) {
    if (out_->size() - used_ < n) Grow(n);
    return data_ + used_;
  }
  void Commit(std::size_t n) { used_ += n; }

  void Put(char c) {
    *Reserve(1) = c;
    ++used_;
  }
  void Put(const char* p, std::size_t n) {
    std::memcpy(Reserve(n), p, n);
    used_ += n;
  }
  void Put(std::string_view s) { Put(s.data(), s.size()); }

 private:
  void Grow(std::size_t n) {
    // Only the new bytes are zeroed, and std::string grows its capacity
    // geometrically, so many small growths stay amortized O(1) per byte.
    out_->resize(used_ + n + kSlackBytes);
    data_ = out_->data();
  }

  static constexpr std::size_t kSlackBytes = 128;

  std::string* out_;
  char* data_;
  std::size_t used_;
};

// For each byte: 0 when copied as is, else the letter after the backslash
// ('u' meaning \u00xx).
constexpr std::array<char, 256> kEscapes = [] {
  std::array<char, 256> table{};
  for (std::size_t c = 0; c < 0x20; ++c) table[c] = 'u';
  table['\b'] = 'b';
  table['\t'] = 't';
  table['\n'] = 'n';
  table['\f'] = 'f';
  table['\r'] = 'r';
  table['"'] = '"';
  table['\\'] = '\\';
  return table;
}();

// True if one of the 8 bytes in `chunk` must be escaped: below 0x20, '"' or
// '\\'. The classic "has a zero byte" / "has a byte less than n" bit tricks:
// exact as to whether any byte matches.
bool ChunkNeedsEscape(std::uint64_t chunk) {
  constexpr std::uint64_t kOnes = 0x0101010101010101;
  constexpr std::uint64_t kHighs = 0x8080808080808080;
  const std::uint64_t quote = chunk ^ (kOnes * '"');
  const std::uint64_t backslash = chunk ^ (kOnes * '\\');
  const std::uint64_t below_space = (chunk - kOnes * 0x20) & ~chunk;
  const std::uint64_t is_quote = (quote - kOnes) & ~quote;
  const std::uint64_t is_backslash = (backslash - kOnes) & ~backslash;
  return ((below_space | is_quote | is_backslash) & kHighs) != 0;
}

void WriteString(std::string_view utf8, Sink& sink) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::size_t size = utf8.size();
  sink.Reserve(size + 2);  // enough unless something is escaped
  sink.Put('"');
  std::size_t run_start = 0;  // first byte not yet copied
  std::size_t i = 0;
  while (i < size) {
    // Skip 8 bytes at a time while none needs escaping (the common case),
    // then look at the next 8 (or the tail) byte by byte.
    for (std::uint64_t chunk; i + 8 <= size; i += 8) {
      std::memcpy(&chunk, utf8.data() + i, sizeof(chunk));
      if (ChunkNeedsEscape(chunk)) break;
    }
    for (const std::size_t stop = std::min(size, i + 8); i < stop; ++i) {
      const auto byte = static_cast<unsigned char>(utf8[i]);
      const char escape = kEscapes[byte];
      if (escape == 0) continue;
      sink.Put(utf8.data() + run_start, i - run_start);
      run_start = i + 1;
      char* p = sink.Reserve(6);
      p[0] = '\\';
      p[1] = escape;
      if (escape != 'u') {
        sink.Commit(2);
        continue;
      }
      p[2] = '0';
      p[3] = '0';
      p[4] = kHex[byte >> 4];
      p[5] = kHex[byte & 0xF];
      sink.Commit(6);
    }
  }
  sink.Put(utf8.data() + run_start, size - run_start);
  sink.Put('"');
}

// ECMAScript Number::toString of a finite, nonzero double.
void WriteNumber(double d, Sink& sink) {
  // The longest output is 25 bytes, e.g. -0.0000033333333333333333.
  char* const start = sink.Reserve(32);
  char* out = start;
  // Fast path, same output: an integral value below 2^53 is its own
  // shortest representation and has at most 16 digits, written in full.
  if (std::fabs(d) < 9007199254740992.0 && std::trunc(d) == d) {
    out = std::to_chars(out, start + 32, static_cast<std::int64_t>(d)).ptr;
    sink.Commit(static_cast<std::size_t>(out - start));
    return;
  }
  // Shortest round-trip digits, as [-]D[.DDD]e(+|-)XX.
  char text[32];
  const char* end = std::to_chars(text, text + sizeof(text), d, std::chars_format::scientific).ptr;
  const char* p = text;
  if (*p == '-') {
    *out++ = '-';
    ++p;
  }
  char digits[20];
  int k = 0;  // number of significant digits, at most 17
  for (; *p != 'e'; ++p) {
    if (*p != '.') digits[k++] = *p;
  }
  ++p;
  if (*p == '+') ++p;
  int exponent = 0;
  std::from_chars(p, end, exponent);
  // With k digits and the decimal point n places after the first one:
  const int n = exponent + 1;
  const auto copy = [&out](const char* from, int count) {
    std::memcpy(out, from, static_cast<std::size_t>(count));
    out += count;
  };
  if (k <= n && n <= 21) {  // integer: digits, then zeros
    copy(digits, k);
    std::memset(out, '0', static_cast<std::size_t>(n - k));
    out += n - k;
  } else if (0 < n && n <= 21) {  // point inside the digits
    copy(digits, n);
    *out++ = '.';
    copy(digits + n, k - n);
  } else if (-6 < n && n <= 0) {  // 0.000ddd
    *out++ = '0';
    *out++ = '.';
    std::memset(out, '0', static_cast<std::size_t>(-n));
    out += -n;
    copy(digits, k);
  } else {  // d[.ddd]e(+|-)x
    *out++ = digits[0];
    if (k > 1) {
      *out++ = '.';
      copy(digits + 1, k - 1);
    }
    *out++ = 'e';
    *out++ = n - 1 < 0 ? '-' : '+';
    out = std::to_chars(out, start + 32, n - 1 < 0 ? 1 - n : n - 1).ptr;
  }
  sink.Commit(static_cast<std::size_t>(out - start));
}

// Orders UTF-8 bytes so that byte-wise comparison matches UTF-16 code unit
// order. Where two valid UTF-8 strings first differ, both bytes are lead
// bytes or both continuation bytes (0x80..0xBF). Lead bytes 0xEE and 0xEF
// start U+E000..U+FFFF, which UTF-16 sorts after the surrogate pairs of
// code points above U+FFFF (lead bytes 0xF0..0xF4); everything else already
// sorts alike.
unsigned Utf16Rank(char byte) {
  const auto b = static_cast<unsigned char>(byte);
  return (b == 0xEE || b == 0xEF) ? b + 0x10u : b;
}

bool MemberLess(const Json::Member& a, const Json::Member& b) {
  return Utf16KeyLess(a.first, b.first);
}

// Members of the objects being written, sorted, as a stack shared by the
// nested calls of one thread so that steady-state writing does not allocate.
std::vector<const Json::Member*>& MemberOrderStack() {
  thread_local std::vector<const Json::Member*> stack;
  return stack;
}

void WriteValue(const Json& value, Sink& sink);

void WriteMember(const Json::Member& member, bool first, Sink& sink) {
  if (!first) sink.Put(',');
  WriteString(member.first, sink);
  sink.Put(':');
  WriteValue(member.second, sink);
}

void WriteObject(const Json::Object& members, Sink& sink) {
  sink.Put('{');
  if (std::is_sorted(members.begin(), members.end(), MemberLess)) {
    // Already in canonical order, e.g. a stored event read back.
    for (std::size_t i = 0; i < members.size(); ++i) WriteMember(members[i], i == 0, sink);
  } else {
    std::vector<const Json::Member*>& order = MemberOrderStack();
    const std::size_t base = order.size();
    for (const Json::Member& m : members) order.push_back(&m);
    std::sort(order.begin() + static_cast<std::ptrdiff_t>(base), order.end(),
              [](const Json::Member* a, const Json::Member* b) { return MemberLess(*a, *b); });
    // Indexes, not iterators: nested objects push onto `order` and may
    // reallocate it.
    for (std::size_t i = base; i < base + members.size(); ++i) {
      WriteMember(*order[i], i == base, sink);
    }
    order.resize(base);
  }
  sink.Put('}');
}

void WriteValue(const Json& value, Sink& sink) {
  switch (value.kind()) {
    case Json::Kind::kNull:
      sink.Put("null");
      return;
    case Json::Kind::kBool:
      sink.Put(value.boolean() ? std::string_view("true") : std::string_view("false"));
      return;
    case Json::Kind::kNumber: {
      const double d = value.number();
      if (!std::isfinite(d)) {
        sink.Put("null");
      } else if (d == 0) {  // also -0
        sink.Put('0');
      } else {
        WriteNumber(d, sink);
      }
      return;
    }
    case Json::Kind::kString:
      WriteString(value.string(), sink);
      return;
    case Json::Kind::kArray: {
      sink.Put('[');
      bool first = true;
      for (const Json& element : value.array()) {
        if (!first) sink.Put(',');
        first = false;
        WriteValue(element, sink);
      }
      sink.Put(']');
      return;
    }
    case Json::Kind::kObject:
      WriteObject(value.object(), sink);
      return;
  }
}

}  // namespace

void AppendCanonical(const Json& value, std::string* out) {
  Sink sink(out);
  WriteValue(value, sink);
}

std::string Canonical(const Json& value) {
  std::string out;
  AppendCanonical(value, &out);
  return out;
}

void AppendCanonicalNumber(double d, std::string* out) {
  Sink sink(out);
  WriteValue(Json::Number(d), sink);
}

void AppendCanonicalString(std::string_view utf8, std::string* out) {
  Sink sink(out);
  WriteString(utf8, sink);
}

bool Utf16KeyLess(std::string_view a, std::string_view b) {
  const std::size_t common = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < common; ++i) {
    if (a[i] != b[i]) return Utf16Rank(a[i]) < Utf16Rank(b[i]);
  }
  return a.size() < b.size();
}

}  // namespace runledger::ledger
