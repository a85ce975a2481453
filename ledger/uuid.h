#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace runledger::ledger {

// A run id: the 16 bytes of a UUID, compared and keyed as bytes.
using Uuid = std::array<std::uint8_t, 16>;

// Lowercase 8-4-4-4-12 text.
std::string FormatUuid(const Uuid& id);
void AppendUuid(const Uuid& id, std::string* out);
// Accepts 8-4-4-4-12 hex text in either case; nullopt otherwise.
std::optional<Uuid> ParseUuid(std::string_view text);
// A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits. Thread-safe.
Uuid NewUuidV7(std::int64_t unix_ms);

struct UuidHash {
  size_t operator()(const Uuid& id) const noexcept {
    size_t h;
    static_assert(sizeof h <= sizeof(Uuid));
    __builtin_memcpy(&h, id.data() + 8, sizeof h);  // the random half of a v7 id
    return h;
  }
};

}  // namespace runledger::ledger
