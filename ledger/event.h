#pragma once

// One ledger event and its stored form.
//
// Stored bytes are the event's RFC 8785 canonical JSON with its "hash" member
// included. Because "data" sorts before every other top-level key, the stored
// form always reads `{"data":<data>,"hash":"<64 hex>",...}`, and the hashed
// form is the same text without `,"hash":"<64 hex>"`.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ledger/json.h"
#include "ledger/sha256.h"
#include "ledger/status.h"
#include "ledger/uuid.h"

namespace runledger::ledger {

inline constexpr int kEventFormatVersion = 1;

struct Event {
  std::string type;
  Uuid run_id{};
  std::uint32_t seq = 0;
  std::uint64_t position = 0;
  std::int64_t recorded_at_ms = 0;
  std::string principal;
  std::optional<std::string> id;  // the client's event id
  std::optional<std::string> occurred_at;
  std::optional<std::string> idempotency_key_sha256;
  Json data = Json::MakeObject();
  Hash hash{};
  std::string stored;  // filled by SealEvent / DecodeEvent
};

// Computes `hash` and `stored` from the other fields.
void SealEvent(Event* event);

// Parses stored bytes. Corruption when they are not a well-formed event.
Result<Event> DecodeEvent(std::string_view stored);

// Recomputes the leaf hash of stored bytes without a full parse, and returns
// the hash the bytes claim in *claimed. Corruption when the layout is off.
Result<Hash> RecomputeLeafHash(std::string_view stored, Hash* claimed);

}  // namespace runledger::ledger
