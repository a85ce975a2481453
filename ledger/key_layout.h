#pragma once

// The ledger's on-disk layout. Every integer in a key is big-endian, so
// RocksDB's bytewise order is numeric order.
//
//   column family   key                               value
//   events          position:u64                      stored event: canonical JSON with "hash"
//   streams         run_id:16 seq:u32                 position:u64
//   client_ids      run_id:16 client_event_id:bytes   position:u64
//   merkle          level:u8 index:u64                SHA-256 of that perfect subtree (32 bytes)
//   meta            "checkpoint"                      latest signed checkpoint (JSON)
//   meta            "frontier"                        MerkleFrontier::Encode() of the whole ledger
//
// Projections add column families of their own (StoreOptions::projection_tables);
// their layouts are written down in projections/.

#include <cstdint>
#include <string>
#include <string_view>

#include "ledger/uuid.h"

namespace runledger::ledger {

void AppendU32(std::uint32_t value, std::string* out);
void AppendU64(std::uint64_t value, std::string* out);
std::uint32_t ReadU32(std::string_view bytes);  // precondition: size() >= 4
std::uint64_t ReadU64(std::string_view bytes);  // precondition: size() >= 8

std::string EventKey(std::uint64_t position);
std::string StreamKey(const Uuid& run_id, std::uint32_t seq);
std::string ClientIdKey(const Uuid& run_id, std::string_view client_event_id);
std::string MerkleKey(int level, std::uint64_t index);
Uuid UuidFromKey(std::string_view key);  // the first 16 bytes

inline constexpr std::string_view kCheckpointKey = "checkpoint";
inline constexpr std::string_view kFrontierKey = "frontier";

}  // namespace runledger::ledger
