#include "ledger/event.h"

#include "ledger/canonical_json.h"
#include "ledger/merkle.h"
#include "ledger/time.h"

namespace runledger::ledger {
namespace {

constexpr std::string_view kDataPrefix = "{\"data\":";
constexpr std::string_view kHashMember = ",\"hash\":\"";
constexpr size_t kHashMemberSize = kHashMember.size() + 64 + 1;

void AppendStringMember(std::string_view key, std::string_view value, std::string* out) {
  out->push_back(',');
  AppendCanonicalString(key, out);
  out->push_back(':');
  AppendCanonicalString(value, out);
}

void AppendNumberMember(std::string_view key, std::uint64_t value, std::string* out) {
  out->push_back(',');
  AppendCanonicalString(key, out);
  out->push_back(':');
  out->append(std::to_string(value));
}

// Returns the offset just past the JSON value starting at `pos` in canonical
// text, or npos. Canonical text has no white space, so only strings need care.
size_t SkipValue(std::string_view text, size_t pos) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = pos; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
        if (depth == 0) return i + 1;
      }
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '{': case '[': ++depth; break;
      case '}': case ']':
        if (--depth == 0) return i + 1;
        if (depth < 0) return std::string_view::npos;
        break;
      case ',':
        if (depth == 0) return i;
        break;
      default: break;
    }
  }
  return std::string_view::npos;
}

const std::string* StringField(const Json& object, std::string_view key) {
  const Json* value = object.Find(key);
  return value != nullptr && value->is_string() ? &value->string() : nullptr;
}

}  // namespace

void SealEvent(Event* e) {
  std::string text;
  text.reserve(256);
  text.append(kDataPrefix);
  AppendCanonical(e->data, &text);
  const size_t hash_at = text.size();
  if (e->id) AppendStringMember("id", *e->id, &text);
  if (e->idempotency_key_sha256) {
    AppendStringMember("idempotency_key_sha256", *e->idempotency_key_sha256, &text);
  }
  if (e->occurred_at) AppendStringMember("occurred_at", *e->occurred_at, &text);
  AppendNumberMember("position", e->position, &text);
  AppendStringMember("principal", e->principal, &text);
  AppendStringMember("recorded_at", FormatTimestampMs(e->recorded_at_ms), &text);
  AppendStringMember("run_id", FormatUuid(e->run_id), &text);
  AppendNumberMember("seq", e->seq, &text);
  AppendStringMember("type", e->type, &text);
  text.append(",\"v\":1}");

  e->hash = LeafHash(text);
  std::string hash_member(kHashMember);
  AppendHex(e->hash, &hash_member);
  hash_member.push_back('"');
  text.insert(hash_at, hash_member);
  e->stored = std::move(text);
}

Result<Hash> RecomputeLeafHash(std::string_view stored, Hash* claimed) {
  if (stored.substr(0, kDataPrefix.size()) != kDataPrefix) {
    return Status::Corruption("event does not start with its data member");
  }
  const size_t data_end = SkipValue(stored, kDataPrefix.size());
  if (data_end == std::string_view::npos || stored.size() < data_end + kHashMemberSize ||
      stored.substr(data_end, kHashMember.size()) != kHashMember ||
      stored[data_end + kHashMemberSize - 1] != '"') {
    return Status::Corruption("event has no hash member after its data");
  }
  const auto hash = HashFromHex(stored.substr(data_end + kHashMember.size(), 64));
  if (!hash) return Status::Corruption("event hash is not hex");
  *claimed = *hash;
  Sha256Builder builder;
  builder.Update(std::string_view("\0", 1));
  builder.Update(stored.substr(0, data_end));
  builder.Update(stored.substr(data_end + kHashMemberSize));
  return builder.Finish();
}

Result<Event> DecodeEvent(std::string_view stored) {
  // Canonical form writes an accepted 1e20 as a 21-digit integer literal:
  // read back what we wrote.
  JsonParseOptions options;
  options.allow_large_integer_literals = true;
  auto parsed = ParseJson(stored, options);
  if (!parsed) return Status::Corruption("stored event is not JSON: " + parsed.error().message());
  Json& json = *parsed;
  Event e;
  const std::string* type = StringField(json, "type");
  const std::string* run_id = StringField(json, "run_id");
  const std::string* principal = StringField(json, "principal");
  const std::string* recorded_at = StringField(json, "recorded_at");
  const std::string* hash = StringField(json, "hash");
  const Json* seq = json.Find("seq");
  const Json* position = json.Find("position");
  Json* data = json.Find("data");
  if (!type || !run_id || !principal || !recorded_at || !hash || !seq || !position || !data) {
    return Status::Corruption("stored event lacks a required member");
  }
  const auto uuid = ParseUuid(*run_id);
  const auto ms = ParseRfc3339Ms(*recorded_at);
  const auto digest = HashFromHex(*hash);
  const auto seq_value = seq->AsSafeInteger();
  const auto position_value = position->AsSafeInteger();
  if (!uuid || !ms || !digest || !seq_value || !position_value || *seq_value < 1 ||
      *position_value < 1) {
    return Status::Corruption("stored event has a malformed member");
  }
  e.type = *type;
  e.run_id = *uuid;
  e.principal = *principal;
  e.recorded_at_ms = *ms;
  e.hash = *digest;
  e.seq = static_cast<std::uint32_t>(*seq_value);
  e.position = static_cast<std::uint64_t>(*position_value);
  if (const std::string* id = StringField(json, "id")) e.id = *id;
  if (const std::string* at = StringField(json, "occurred_at")) e.occurred_at = *at;
  if (const std::string* key = StringField(json, "idempotency_key_sha256")) {
    e.idempotency_key_sha256 = *key;
  }
  e.data = std::move(*data);
  e.stored = std::string(stored);
  return e;
}

}  // namespace runledger::ledger
