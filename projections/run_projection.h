#pragma once

// The projections' BatchHook: folds every event into its run's state and
// keeps the listing indexes, per-status counts, audit indexes and
// idempotency keys (projections/tables.h) in the event's own WriteBatch.

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ledger/event_store.h"
#include "projections/run_state.h"
#include "projections/run_summary_cache.h"

namespace runledger::projections {

// One run changed; published once its batch is durable.
struct RunChange {
  std::uint64_t position = 0;
  Uuid run_id{};
  std::string datastore_id;
  std::string operation;
  bool deleted = false;
  std::string state_json;  // the state after the change ("deleted": true when deleted)
};

class ChangeListener {
 public:
  virtual ~ChangeListener() = default;
  // False while nobody listens: changes are then not even built.
  virtual bool active() const = 0;
  // On the committer thread after each durable batch; must not block.
  virtual void OnChanges(std::span<const ledger::Event> events, std::span<const RunChange> changes) = 0;
};

class RunProjection : public ledger::BatchHook {
 public:
  // `listener` may be null; set it before the store starts committing.
  void SetListener(ChangeListener* listener) { listener_ = listener; }
  // Where durable run summaries are published; may be null.
  void SetSummaryCache(RunSummaryCache* cache) { summaries_ = cache; }
  // Entries of each cache (runs, counts, audit blocks) kept in memory
  // before the committed ones are dropped.
  void SetCacheLimit(size_t entries) { cache_limit_ = entries; }

  // Committer thread only. The run's state as of the batch being built;
  // nullptr when the run does not exist.
  Result<RunState*> Find(const Uuid& run_id, ledger::WriteContext& ctx);
  // Committer thread only. Position of the first event a request with this
  // idempotency scope appended, this batch included.
  Result<std::optional<std::uint64_t>> FindIdempotent(const std::string& scope,
                                                      ledger::WriteContext& ctx);

  void OnEvent(const ledger::Event& event, ledger::WriteContext& ctx) override;
  void OnBatchEnd(ledger::WriteContext& ctx) override;
  void OnCommitted(const std::deque<ledger::Event>& events) override;
  void OnReset() override;

 private:
  void IndexRun(const RunState& state, ledger::WriteContext& ctx);
  // The status listing keys after a status change from `before`.
  void MoveStatusKeys(const RunState& state, const std::string& before, ledger::WriteContext& ctx);
  void Count(const RunState& state, std::string_view status, std::int64_t delta,
             ledger::WriteContext& ctx);
  void IndexAudit(const ledger::Event& event, const RunState& state, ledger::WriteContext& ctx);
  void RecordIdempotency(const ledger::Event& event, const RunState& state, ledger::WriteContext& ctx);

  ChangeListener* listener_ = nullptr;
  size_t cache_limit_ = 200000;
  std::unordered_map<Uuid, RunState, ledger::UuidHash> runs_;
  std::unordered_map<std::string, std::int64_t> counts_;
  // Written at the batch's end: a run's record and a count once per batch,
  // however many of its events the batch holds.
  std::unordered_set<Uuid, ledger::UuidHash> dirty_runs_;
  std::unordered_set<std::string> dirty_counts_;
  RunSummaryCache* summaries_ = nullptr;
  bool format_written_ = false;  // kProjectionFormat, once per process and per rebuild
  // Idempotency scopes of every batch not yet durable, this one included.
  std::unordered_map<std::string, std::uint64_t> pending_idempotency_;
  // What the batch being built publishes once durable.
  std::vector<RunChange> pending_changes_;
  std::vector<std::string> pending_scopes_;
  // The block still filling of each audit index (AuditPrefix -> positions),
  // loaded on first use, and the indexes the batch being built added to.
  std::unordered_map<std::string, std::vector<std::uint64_t>> audit_blocks_;
  std::unordered_set<std::string> dirty_audit_;
  void AddToAuditIndex(std::string prefix, std::uint64_t position, ledger::WriteContext& ctx);

  // A batch whose writes are complete but not yet durable. The store builds
  // the next batch on top of it, so the caches keep its state until then.
  struct SealedBatch {
    std::vector<RunChange> changes;
    std::vector<std::shared_ptr<const RunSummary>> summaries;  // one per run it changed
    std::vector<std::string> scopes;
    std::vector<std::string> counts;
    std::vector<std::string> audit;  // AuditPrefix of each index it added to
  };
  std::deque<SealedBatch> sealed_;  // oldest first
  void TrimCaches();
};

// The HTTP method and path whose Idempotency-Key produced `event`, derived
// from the event alone so a rebuild restores the keys; nullopt for events no
// keyed request makes.
struct RequestScope {
  std::string method;
  std::string path;
};
std::optional<RequestScope> ScopeOfEvent(const ledger::Event& event);

}  // namespace runledger::projections
