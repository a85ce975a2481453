#include "projections/tables.h"

#include "ledger/key_layout.h"
#include "ledger/sha256.h"
#include "projections/run_state.h"

namespace runledger::projections {

std::vector<std::string> ProjectionTableNames() {
  return {"runs", "run_index", "run_counts", "audit", "idempotency", "active_index"};
}

std::map<std::string, ledger::TableTuning> ProjectionTableTuning() {
  return {{"run_index", {.ordered_suffix_bytes = kRunIndexSuffixBytes}},
          {"active_index", {.ordered_suffix_bytes = kRunIndexSuffixBytes, .write_buffer_bytes = 1 << 20}},
          {"audit", {.ordered_suffix_bytes = 8}}};
}

void AppendKeyString(std::string_view s, std::string* out) {
  const auto size = static_cast<std::uint16_t>(std::min<size_t>(s.size(), 0xffff));
  out->push_back(static_cast<char>(size >> 8));
  out->push_back(static_cast<char>(size & 0xff));
  out->append(s.substr(0, size));
}

std::string RunKey(const ledger::Uuid& run_id) {
  return std::string(reinterpret_cast<const char*>(run_id.data()), run_id.size());
}

std::string RunIndexPrefix(char kind, std::string_view value) {
  std::string key(1, kind);
  if (kind == 'r' || kind == 'u') {
    key.append(value);  // raw 16-byte run id
  } else if (kind != 'c') {
    AppendKeyString(value, &key);
  }
  return key;
}

std::string RunIndexSuffix(std::int64_t created_ms, const ledger::Uuid& run_id) {
  std::string suffix;
  ledger::AppendU64(~static_cast<std::uint64_t>(created_ms), &suffix);
  for (const auto byte : run_id) suffix.push_back(static_cast<char>(~static_cast<std::uint8_t>(byte)));
  return suffix;
}

std::pair<std::int64_t, ledger::Uuid> DecodeRunIndexSuffix(std::string_view suffix) {
  const auto created = static_cast<std::int64_t>(~ledger::ReadU64(suffix));
  ledger::Uuid id{};
  for (size_t i = 0; i < id.size(); ++i) {
    id[i] = static_cast<std::uint8_t>(~static_cast<std::uint8_t>(suffix[8 + i]));
  }
  return {created, id};
}

std::string StatusOperation(std::string_view status, std::string_view operation) {
  std::string value(status);
  value.push_back('\n');
  value.append(operation);
  return value;
}

ledger::TableId StatusIndexTable(std::string_view status) {
  return IsTerminal(status) ? kRunIndexTable : kActiveIndexTable;
}

std::string RunIndexKey(char kind, std::string_view value, std::int64_t created_ms,
                        const ledger::Uuid& run_id) {
  return RunIndexPrefix(kind, value) + RunIndexSuffix(created_ms, run_id);
}

std::string CountKey(std::string_view dimension, std::string_view status) {
  std::string key;
  AppendKeyString(dimension, &key);
  AppendKeyString(status, &key);
  return key;
}

std::string AuditPrefix(char kind, std::string_view value) {
  std::string key(1, kind);
  AppendKeyString(value, &key);
  return key;
}

std::string AuditBlockKey(std::string_view prefix, std::uint64_t first) {
  std::string key(prefix);
  ledger::AppendU64(first, &key);
  return key;
}

std::string EncodeAuditBlock(const std::vector<std::uint64_t>& positions) {
  std::string bytes;
  if (positions.empty()) return bytes;
  ledger::AppendU64(positions.front(), &bytes);
  for (size_t i = 1; i < positions.size(); ++i) {
    for (std::uint64_t delta = positions[i] - positions[i - 1];; delta >>= 7) {
      if (delta < 0x80) {
        bytes.push_back(static_cast<char>(delta));
        break;
      }
      bytes.push_back(static_cast<char>((delta & 0x7f) | 0x80));
    }
  }
  return bytes;
}

bool DecodeAuditBlock(std::string_view bytes, std::vector<std::uint64_t>* positions) {
  positions->clear();
  if (bytes.size() < 8) return false;
  positions->push_back(ledger::ReadU64(bytes));
  std::uint64_t delta = 0;
  int shift = 0;
  for (size_t i = 8; i < bytes.size(); ++i) {
    const auto byte = static_cast<std::uint8_t>(bytes[i]);
    if (shift > 56) return false;
    delta |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    shift += 7;
    if (byte & 0x80) continue;
    if (delta == 0) return false;  // positions strictly increase
    positions->push_back(positions->back() + delta);
    delta = 0;
    shift = 0;
  }
  return shift == 0;
}

std::string IdempotencyScope(std::string_view principal, std::string_view method,
                             std::string_view path, std::string_view key_sha256) {
  ledger::Sha256Builder builder;
  for (std::string_view part : {principal, method, path, key_sha256}) {
    builder.Update(part);
    builder.Update("\n");
  }
  const ledger::Hash digest = builder.Finish();
  return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

}  // namespace runledger::projections
