#include "ledger/json_writer.h"

#include <charconv>

#include "ledger/canonical_json.h"

namespace runledger::ledger {
namespace {

template <typename Integer>
void AppendInteger(Integer v, std::string* out) {
  char text[24];
  char* end = std::to_chars(text, text + sizeof(text), v).ptr;
  out->append(text, static_cast<std::size_t>(end - text));
}

}  // namespace

JsonWriter& JsonWriter::BeginObject() {
  BeginValue();
  out_->push_back('{');
  need_comma_ = false;
  return *this;
}

JsonWriter& JsonWriter::EndObject() {
  out_->push_back('}');
  need_comma_ = true;
  return *this;
}

JsonWriter& JsonWriter::BeginArray() {
  BeginValue();
  out_->push_back('[');
  need_comma_ = false;
  return *this;
}

JsonWriter& JsonWriter::EndArray() {
  out_->push_back(']');
  need_comma_ = true;
  return *this;
}

JsonWriter& JsonWriter::Key(std::string_view key) {
  BeginValue();
  AppendCanonicalString(key, out_);
  out_->push_back(':');
  need_comma_ = false;
  return *this;
}

JsonWriter& JsonWriter::String(std::string_view s) {
  BeginValue();
  AppendCanonicalString(s, out_);
  need_comma_ = true;
  return *this;
}

JsonWriter& JsonWriter::Int(std::int64_t v) {
  BeginValue();
  AppendInteger(v, out_);
  need_comma_ = true;
  return *this;
}

JsonWriter& JsonWriter::Uint(std::uint64_t v) {
  BeginValue();
  AppendInteger(v, out_);
  need_comma_ = true;
  return *this;
}

JsonWriter& JsonWriter::Number(double v) {
  BeginValue();
  AppendCanonicalNumber(v, out_);
  need_comma_ = true;
  return *this;
}

JsonWriter& JsonWriter::Bool(bool v) {
  BeginValue();
  out_->append(v ? "true" : "false");
  need_comma_ = true;
  return *this;
}

JsonWriter& JsonWriter::Null() {
  BeginValue();
  out_->append("null");
  need_comma_ = true;
  return *this;
}

JsonWriter& JsonWriter::Value(const Json& v) {
  BeginValue();
  AppendCanonical(v, out_);
  need_comma_ = true;
  return *this;
}

JsonWriter& JsonWriter::Raw(std::string_view json) {
  BeginValue();
  out_->append(json);
  need_comma_ = true;
  return *this;
}

}  // namespace runledger::ledger
