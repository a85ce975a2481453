#pragma once

// The projections' column families and key layouts. Strings in keys are
// length-prefixed (u16) so any byte may appear in them; times and positions
// are big-endian, so iteration order is time/position order.
//
//   runs          run_id:16                                  EncodeRunRecord(state), run_record.h
//   run_index     'c' ~created_ms:u64 ~run_id:16             ""   every run, by creation
//                 's' str(status) ~created_ms ~run_id        ""   by status
//                 'S' str(status "\n" operation) ~created_ms ~run_id  ""
//                 'o' str(operation) ~created_ms ~run_id     ""
//                 'd' str(datastore id) ~created_ms ~run_id  ""
//                 't' str(kind ":" id) ~created_ms ~run_id   ""   by triggered_by
//                 'r' rerun_of:16 ~created_ms ~run_id        ""
//                 'u' resumed_from:16 ~created_ms ~run_id    ""
//                 (~: every bit inverted, so forward iteration is newest first:
//                 RocksDB's memtable walks forward far faster than backward;
//                 's' and 'S' keys of queued and running runs are in active_index)
//   active_index  's' and 'S' keys, as in run_index, of the statuses a run
//                 leaves (queued, running)
//   run_counts    str(dimension) str(status)                 count:u64 (non-deleted runs)
//                 "" (the empty key)                         kProjectionFormat
//                 dimensions: "" (all), "o:<op>", "d:<ds>", "d:<ds>\no:<op>", "t:<kind:id>"
//   audit         'T' str(type) first:u64                    block   events by type
//                 'P' str(principal) first                   block
//                 'D' str(datastore id) first                block
//                 'O' str(operation) first                   block
//                 (a block: up to kAuditBlockPositions ascending positions,
//                 EncodeAuditBlock; `first` is its first position, and the
//                 block still filling sits under first = kOpenAuditBlock)
//   idempotency   sha256(principal \n method \n path \n key_sha256)   position:u64 of the
//                 first event that request appended

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/event_store.h"
#include "ledger/uuid.h"

namespace runledger::projections {

inline constexpr ledger::TableId kRunsTable = ledger::kFirstProjectionTable + 0;
inline constexpr ledger::TableId kRunIndexTable = ledger::kFirstProjectionTable + 1;
inline constexpr ledger::TableId kRunCountsTable = ledger::kFirstProjectionTable + 2;
inline constexpr ledger::TableId kAuditTable = ledger::kFirstProjectionTable + 3;
inline constexpr ledger::TableId kIdempotencyTable = ledger::kFirstProjectionTable + 4;
inline constexpr ledger::TableId kActiveIndexTable = ledger::kFirstProjectionTable + 5;

// In TableId order; pass as StoreOptions::projection_tables.
std::vector<std::string> ProjectionTableNames();
// StoreOptions::projection_tuning. Audit keys end in a position, listing
// keys in (created_at, run id), both mostly increasing per prefix. A status
// change writes a status key and SingleDeletes the old one; the pair only
// vanishes at a flush, and until then every listing of that status steps
// over it. So the statuses a run leaves have a table of their own with a
// small memtable, and the listing keys that stay have the default one.
std::map<std::string, ledger::TableTuning> ProjectionTableTuning();

void AppendKeyString(std::string_view s, std::string* out);
std::string RunKey(const ledger::Uuid& run_id);
// Prefix of one listing index ('c' has an empty value part).
std::string RunIndexPrefix(char kind, std::string_view value);
std::string RunIndexKey(char kind, std::string_view value, std::int64_t created_ms,
                        const ledger::Uuid& run_id);
// The part of a listing key after its prefix: newest first.
inline constexpr size_t kRunIndexSuffixBytes = 8 + 16;
std::string RunIndexSuffix(std::int64_t created_ms, const ledger::Uuid& run_id);
// The value part of an 'S' key: a filter on both status and operation walks
// only the matching runs instead of filtering one index by the other.
std::string StatusOperation(std::string_view status, std::string_view operation);
// Where the 's' and 'S' keys of a run in `status` live: run_index for the
// terminal statuses (IsTerminal), active_index for the others.
ledger::TableId StatusIndexTable(std::string_view status);
std::pair<std::int64_t, ledger::Uuid> DecodeRunIndexSuffix(std::string_view suffix);

// Written with the projections; a store whose projections carry another
// format (or none) is rebuilt when a server opens it.
inline constexpr std::string_view kProjectionFormatKey = "";
inline constexpr std::string_view kProjectionFormat = "runledger-projections-5";
std::string CountKey(std::string_view dimension, std::string_view status);
// An audit index is one key per block of positions, not one per event: an
// append batch rewrites each index it touches once, and a rebuild batch of
// thousands of events writes few keys.
inline constexpr size_t kAuditBlockPositions = 64;
inline constexpr std::uint64_t kOpenAuditBlock = UINT64_MAX;
std::string AuditPrefix(char kind, std::string_view value);
std::string AuditBlockKey(std::string_view prefix, std::uint64_t first);
// The first position as u64, then each next one as a LEB128 delta.
std::string EncodeAuditBlock(const std::vector<std::uint64_t>& positions);
// Replaces `positions`; false when the bytes are not a block.
bool DecodeAuditBlock(std::string_view bytes, std::vector<std::uint64_t>* positions);
std::string IdempotencyScope(std::string_view principal, std::string_view method,
                             std::string_view path, std::string_view key_sha256);

}  // namespace runledger::projections
