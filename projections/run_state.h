#pragma once

// A run's current state, folded from its events (SPEC sections 1 and 3).
// The same fold serves the live projection, rebuild, time travel and history,
// so all of them agree by construction.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ledger/event.h"
#include "ledger/json.h"
#include "ledger/status.h"
#include "ledger/uuid.h"

namespace runledger::projections {

using ledger::Json;
using ledger::Uuid;

inline constexpr const char* kOperations[] = {"sync",   "profile",     "scan",   "external_scan",
                                              "export", "materialize", "promote"};
inline constexpr const char* kStatuses[] = {"queued", "running", "success", "failure", "aborted"};

bool IsTerminal(std::string_view status);

struct RunState {
  Uuid id{};
  std::string operation;
  std::string status;
  Json datastore = Json::MakeObject();  // {"id","name"}
  Json config = Json::MakeObject();
  Json triggered_by;                    // {"kind","id"}
  Json aborted_by;                      // null or {"kind","id"}
  std::optional<std::string> worker;
  bool worker_started = false;          // a started event was seen (promote accepts one)
  std::int64_t processed = 0;
  std::optional<std::int64_t> total;
  std::string unit = "containers";
  std::vector<std::pair<std::string, std::int64_t>> metrics;      // sorted by name
  std::vector<std::string> planned_containers;                    // from created, in order
  std::vector<std::pair<std::string, std::string>> containers;    // name -> status, first-seen order
  std::int64_t log_count = 0;
  Json result;                          // null or object
  Json error;                           // null or object
  std::optional<Uuid> rerun_of;
  std::optional<Uuid> resumed_from;
  std::int64_t created_at_ms = 0;
  std::optional<std::int64_t> started_at_ms;
  std::optional<std::int64_t> ended_at_ms;
  std::optional<std::int64_t> deleted_at_ms;
  std::int64_t last_event_ms = 0;
  std::uint32_t version = 0;

  bool deleted() const { return deleted_at_ms.has_value(); }
  bool warning() const { return status == "success" && log_count > 0; }
  // The SPEC's `actions`, in order abort, resume, rerun, delete.
  std::vector<std::string> Actions() const;
  // Containers a resume would process (everything not reported done).
  std::vector<std::string> ContainersLeft() const;
  bool HasWorkLeft() const;
  std::optional<std::int64_t> MetricValue(std::string_view name) const;
};

// The run's datastore id ("" if it has none).
std::string DatastoreId(const RunState& state);

// Applies one already-validated event. Events come in seq order.
void Fold(RunState& state, const ledger::Event& event);

// The projection of SPEC section 3 (GET /v1/runs/{id}); `with_deleted` adds
// "deleted" and "deleted_at" (for auditors who asked for deleted runs).
void AppendRunJson(const RunState& state, bool with_deleted, std::string* out);
std::string RunJson(const RunState& state, bool with_deleted = false);

// The JSON part of a stored run record (projections/run_record.h).
Result<RunState> DecodeRunRecordJson(std::string_view bytes);

}  // namespace runledger::projections
