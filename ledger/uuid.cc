#include "ledger/uuid.h"

#include <random>

namespace runledger::ledger {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void AppendUuid(const Uuid& id, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < id.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out->push_back('-');
    out->push_back(kHex[id[i] >> 4]);
    out->push_back(kHex[id[i] & 15]);
  }
}

std::string FormatUuid(const Uuid& id) {
  std::string out;
  out.reserve(36);
  AppendUuid(id, &out);
  return out;
}

std::optional<Uuid> ParseUuid(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  Uuid id{};
  size_t byte = 0;
  for (size_t i = 0; i < text.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return std::nullopt;
      ++i;
      continue;
    }
    const int hi = HexValue(text[i]);
    const int lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    id[byte++] = static_cast<std::uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return id;
}

Uuid NewUuidV7(std::int64_t unix_ms) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  Uuid id;
  const std::uint64_t ms = static_cast<std::uint64_t>(unix_ms);
  for (int i = 0; i < 6; ++i) id[i] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
  const std::uint64_t a = rng();
  const std::uint64_t b = rng();
  for (int i = 6; i < 16; ++i) {
    id[i] = static_cast<std::uint8_t>((i < 14 ? a >> (8 * (i - 6)) : b >> (8 * (i - 14))));
  }
  id[6] = static_cast<std::uint8_t>(0x70 | (id[6] & 0x0f));  // version 7
  id[8] = static_cast<std::uint8_t>(0x80 | (id[8] & 0x3f));  // RFC 9562 variant
  return id;
}

}  // namespace runledger::ledger
