#include "ledger/key_layout.h"

#include <cstring>

namespace runledger::ledger {

void AppendU32(std::uint32_t value, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

void AppendU64(std::uint64_t value, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

std::uint32_t ReadU32(std::string_view bytes) {
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value = value << 8 | static_cast<unsigned char>(bytes[i]);
  return value;
}

std::uint64_t ReadU64(std::string_view bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = value << 8 | static_cast<unsigned char>(bytes[i]);
  return value;
}

std::string EventKey(std::uint64_t position) {
  std::string key;
  AppendU64(position, &key);
  return key;
}

std::string StreamKey(const Uuid& run_id, std::uint32_t seq) {
  std::string key(reinterpret_cast<const char*>(run_id.data()), run_id.size());
  AppendU32(seq, &key);
  return key;
}

std::string ClientIdKey(const Uuid& run_id, std::string_view client_event_id) {
  std::string key(reinterpret_cast<const char*>(run_id.data()), run_id.size());
  key.append(client_event_id);
  return key;
}

std::string MerkleKey(int level, std::uint64_t index) {
  std::string key(1, static_cast<char>(level));
  AppendU64(index, &key);
  return key;
}

Uuid UuidFromKey(std::string_view key) {
  Uuid id{};
  std::memcpy(id.data(), key.data(), id.size());
  return id;
}

}  // namespace runledger::ledger
