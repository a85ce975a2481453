#pragma once

// The stored form of a run (the "runs" table): a binary summary, then the
// JSON record. The summary holds what listings, filters and visibility
// checks need, and where the served projection JSON lies in the record, so
// a read answers GET /v1/runs/{id} or a listing row without parsing JSON.
// The committer (cache misses) and time travel decode the whole RunState.
//
//   0x01 | id(16) | version u32 | created_at u64 | deleted flag u8, deleted_at u64
//        | log_count u64 | last_event_ms u64 | status, operation, datastore id, trigger kind, trigger id
//          (u16 length + bytes each) | rerun_of, resumed_from (flag u8 + 16 bytes each)
//        | run JSON length u32 | its length before the deleted members u32
//        | {"run":<RunJson with deleted members>,"planned":[...],"worker_started":b,"last_event_ms":n}
//
// Records written before the summary existed (starting with '{') still decode.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ledger/status.h"
#include "projections/run_state.h"

namespace runledger::projections {

struct RunSummary {
  Uuid id{};
  std::uint32_t version = 0;
  std::int64_t created_at_ms = 0;
  std::optional<std::int64_t> deleted_at_ms;
  std::int64_t log_count = 0;
  std::int64_t last_event_ms = 0;
  std::string status;
  std::string operation;
  std::string datastore_id;
  std::string trigger_kind;
  std::string trigger_id;
  std::optional<Uuid> rerun_of;
  std::optional<Uuid> resumed_from;
  // The projection JSON with the deleted members, and its length without
  // them (and without the closing brace).
  std::string json;
  size_t json_base_length = 0;

  bool deleted() const { return deleted_at_ms.has_value(); }
  bool warning() const { return status == "success" && log_count > 0; }
  // Appends what RunJson(state, with_deleted) gives for the same run.
  void AppendJson(bool with_deleted, std::string* out) const;
  std::string ToJson(bool with_deleted) const;
};

// Deterministic bytes, so a rebuild is byte-identical. `summary`, when
// given, receives the summary the record holds.
std::string EncodeRunRecord(const RunState& state, RunSummary* summary = nullptr);
Result<RunState> DecodeRunRecord(std::string_view bytes);
Result<RunSummary> DecodeRunSummary(std::string_view bytes);

}  // namespace runledger::projections
