#pragma once

// A streaming writer of compact JSON (no whitespace, members in the order
// written) for HTTP responses and projections. Strings and numbers use the
// canonical layout of ledger/canonical_json.h, so a value written here and
// the same value in an event hash the same way.
//
//   std::string body;
//   JsonWriter w(&body);
//   w.BeginObject().Key("size").Int(3).Key("path").BeginArray();
//   for (const std::string& h : hashes) w.String(h);
//   w.EndArray().EndObject();   // {"size":3,"path":["ab..","cd.."]}
//
// Commas are inserted automatically. The caller keeps the sequence well
// formed (Key before each value inside an object, balanced Begin/End);
// the writer does not check it. Not thread-safe.

#include <cstdint>
#include <string>
#include <string_view>

#include "ledger/json.h"

namespace runledger::ledger {

class JsonWriter {
 public:
  // Appends to `*out`, which is not owned and must outlive the writer.
  explicit JsonWriter(std::string* out) : out_(out) {}

  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  // Writes `"key":`; the next call writes the member's value.
  JsonWriter& Key(std::string_view key);

  JsonWriter& String(std::string_view s);  // JCS string escaping
  JsonWriter& Int(std::int64_t v);
  JsonWriter& Uint(std::uint64_t v);
  JsonWriter& Number(double v);  // canonical layout; NaN/inf as null
  JsonWriter& Bool(bool v);
  JsonWriter& Null();
  JsonWriter& Value(const Json& v);        // `v` in canonical form
  JsonWriter& Raw(std::string_view json);  // one pre-serialized value, as is

 private:
  // Writes the comma that separates this value from the previous sibling.
  void BeginValue() {
    if (need_comma_) out_->push_back(',');
  }

  std::string* out_;
  // True after a complete value or member: the next sibling needs a comma.
  // One flag suffices because a container's End always completes a value
  // in its parent.
  bool need_comma_ = false;
};

}  // namespace runledger::ledger
