#pragma once

// Reads of SPEC section 3 over committed state: a run now, as of a seq or a
// time (folded from its own events, never the whole ledger), its events,
// logs and history, the Activity listing and counts from the run indexes,
// and audit queries over the event indexes. Thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ledger/event_store.h"
#include "projections/run_record.h"
#include "projections/run_summary_cache.h"
#include "projections/run_state.h"

namespace runledger::projections {

struct RunFilter {
  std::vector<std::string> statuses;
  std::vector<std::string> operations;
  std::optional<std::string> datastore;
  std::optional<std::string> triggered_by;  // "kind:id", or "id" for any kind
  std::optional<bool> warning;
  std::optional<Uuid> rerun_of;
  std::optional<Uuid> resumed_from;
  std::optional<std::int64_t> created_after_ms;   // exclusive
  std::optional<std::int64_t> created_before_ms;  // exclusive
  bool include_deleted = false;
  // Datastores the caller may view; nullopt means all of them.
  std::optional<std::vector<std::string>> visible_datastores;
};

struct RunPage {
  std::vector<RunSummary> items;
  std::optional<std::string> next_cursor;
};

struct StatusCounts {
  std::int64_t queued = 0, running = 0, success = 0, failure = 0, aborted = 0;
};

struct EventPage {
  std::vector<std::string> items;  // stored event JSON
  std::optional<std::uint64_t> next;  // next after_seq / after position
};

struct HistoryItem {
  std::uint32_t seq = 0;
  std::string event;
  std::string state;
};
struct HistoryPage {
  std::vector<HistoryItem> items;
  std::optional<std::uint32_t> next_after_seq;
};

struct AuditFilter {
  std::vector<std::string> types;
  std::optional<std::string> principal;
  std::optional<std::string> datastore;
  std::optional<std::string> operation;
  std::optional<Uuid> run_id;
  std::optional<std::int64_t> from_ms;  // inclusive, on recorded_at
  std::optional<std::int64_t> to_ms;    // exclusive
};

// Levels in order; -1 for an unknown name.
int LogLevelRank(std::string_view level);

class RunQueries {
 public:
  // `summaries`, when given, answers GetRunSummary for the runs it holds
  // and keeps what GetRunSummary reads from the store.
  explicit RunQueries(ledger::EventStore& store, RunSummaryCache* summaries = nullptr)
      : store_(store), summaries_(summaries) {}

  // The run's state now (deleted runs included: callers decide).
  Result<std::optional<RunState>> GetRun(const Uuid& id) const;
  // The same run's summary and served JSON, read without parsing JSON.
  Result<std::optional<RunSummary>> GetRunSummary(const Uuid& id) const;
  // Folds the first `seq` events; nullopt when the run has fewer.
  Result<std::optional<RunState>> RunAtSeq(const Uuid& id, std::uint32_t seq) const;
  // Folds the events recorded at or before `ms`; nullopt when there were none.
  Result<std::optional<RunState>> RunAsOf(const Uuid& id, std::int64_t ms) const;

  // The run's events after `after_seq`; with `logs_only`, its logged events
  // at `min_level` or above.
  Result<EventPage> RunEvents(const Uuid& id, std::uint32_t after_seq, size_t limit,
                              bool logs_only = false, int min_level = 0) const;
  Result<HistoryPage> History(const Uuid& id, std::uint32_t after_seq, size_t limit,
                              bool with_deleted) const;

  // Newest first; a malformed cursor is BadRequest.
  Result<RunPage> ListRuns(const RunFilter& filter, size_t limit,
                           const std::optional<std::string>& cursor) const;
  Result<StatusCounts> CountRuns(const RunFilter& filter) const;

  // The ledger in position order after `after`, filtered from the indexes.
  Result<EventPage> AuditEvents(const AuditFilter& filter, std::uint64_t after, size_t limit) const;
  // First position recorded at or after `ms` (size()+1 when none).
  Result<std::uint64_t> FirstPositionAtOrAfter(std::int64_t ms) const;

 private:
  ledger::EventStore& store_;
  RunSummaryCache* summaries_;
};

}  // namespace runledger::projections
