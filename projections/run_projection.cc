#include "projections/run_projection.h"

#include <tuple>
#include <type_traits>

#include "ledger/key_layout.h"
#include "projections/run_record.h"
#include "projections/tables.h"

namespace runledger::projections {
namespace {

std::string TriggeredBy(const RunState& state) {
  const Json* kind = state.triggered_by.Find("kind");
  const Json* id = state.triggered_by.Find("id");
  if (!kind || !id || !kind->is_string() || !id->is_string()) return {};
  return kind->string() + ":" + id->string();
}

// Drops every entry of `cache` but those under `keys`.
template <typename Key, typename Map>
void KeepOnly(const std::vector<Key>& keys, Map* cache) {
  Map kept;
  for (const Key& key : keys) {
    if (auto it = cache->find(key); it != cache->end()) kept.insert(std::move(*it));
  }
  *cache = std::move(kept);
}

std::string UuidBytes(const Uuid& id) {
  return std::string(reinterpret_cast<const char*>(id.data()), id.size());
}

}  // namespace

std::optional<RequestScope> ScopeOfEvent(const ledger::Event& event) {
  const std::string run = ledger::FormatUuid(event.run_id);
  if (event.type == "created") {
    if (const Json* from = event.data.Find("rerun_of"); from && from->is_string()) {
      return RequestScope{"POST", "/v1/runs/" + from->string() + "/rerun"};
    }
    if (const Json* from = event.data.Find("resumed_from"); from && from->is_string()) {
      return RequestScope{"POST", "/v1/runs/" + from->string() + "/resume"};
    }
    return RequestScope{"POST", "/v1/runs"};
  }
  if (event.type == "ended") return RequestScope{"POST", "/v1/runs/" + run + "/abort"};
  return std::nullopt;
}

Result<RunState*> RunProjection::Find(const Uuid& run_id, ledger::WriteContext& ctx) {
  if (auto it = runs_.find(run_id); it != runs_.end()) return &it->second;
  auto bytes = ctx.Get(kRunsTable, RunKey(run_id));
  if (!bytes) return bytes.error();
  if (!bytes->has_value()) return static_cast<RunState*>(nullptr);
  auto state = DecodeRunRecord(**bytes);
  if (!state) return state.error();
  return &runs_.emplace(run_id, std::move(*state)).first->second;
}

Result<std::optional<std::uint64_t>> RunProjection::FindIdempotent(const std::string& scope,
                                                                   ledger::WriteContext& ctx) {
  if (auto it = pending_idempotency_.find(scope); it != pending_idempotency_.end()) {
    return std::optional<std::uint64_t>(it->second);
  }
  auto value = ctx.Get(kIdempotencyTable, scope);
  if (!value) return value.error();
  if (!value->has_value() || (*value)->size() != 8) return std::optional<std::uint64_t>();
  return std::optional<std::uint64_t>(ledger::ReadU64(**value));
}

void RunProjection::OnEvent(const ledger::Event& event, ledger::WriteContext& ctx) {
  RunState* state = nullptr;
  if (event.type == "created") {
    state = &runs_.insert_or_assign(event.run_id, RunState()).first->second;
  } else {
    auto found = Find(event.run_id, ctx);
    if (!found || *found == nullptr) return;  // validated upstream; a rebuild of a foreign ledger skips
    state = *found;
  }
  // Only the status can change the indexes and counts: operation, datastore
  // and trigger are fixed at creation.
  const std::string before_status = event.type == "created" ? std::string() : state->status;
  Fold(*state, event);

  if (event.type == "created") {
    IndexRun(*state, ctx);
    Count(*state, state->status, +1, ctx);
  } else if (event.type == "deleted") {
    Count(*state, before_status, -1, ctx);
  } else if (before_status != state->status) {
    MoveStatusKeys(*state, before_status, ctx);
    Count(*state, before_status, -1, ctx);
    Count(*state, state->status, +1, ctx);
  }
  dirty_runs_.insert(state->id);
  IndexAudit(event, *state, ctx);
  RecordIdempotency(event, *state, ctx);
  if (listener_) {
    RunChange change;
    change.position = event.position;
    change.run_id = event.run_id;
    change.datastore_id = DatastoreId(*state);
    change.operation = state->operation;
    change.deleted = state->deleted();
    // The state is the costly part: built only while someone listens.
    if (listener_->active()) change.state_json = RunJson(*state, state->deleted());
    pending_changes_.push_back(std::move(change));
  }
}

void RunProjection::IndexRun(const RunState& s, ledger::WriteContext& ctx) {
  auto index = [&](char kind, std::string_view value, ledger::TableId table = kRunIndexTable) {
    ctx.Put(table, RunIndexKey(kind, value, s.created_at_ms, s.id), "");
  };
  index('c', "");
  index('s', s.status, StatusIndexTable(s.status));
  index('S', StatusOperation(s.status, s.operation), StatusIndexTable(s.status));
  index('o', s.operation);
  index('d', DatastoreId(s));
  index('t', TriggeredBy(s));
  if (s.rerun_of) index('r', UuidBytes(*s.rerun_of));
  if (s.resumed_from) index('u', UuidBytes(*s.resumed_from));
}

void RunProjection::MoveStatusKeys(const RunState& s, const std::string& before, ledger::WriteContext& ctx) {
  // Each status key is written once and removed once: SingleDelete is exact.
  for (const auto& [kind, old_value, new_value] :
       {std::tuple{'s', before, s.status},
        std::tuple{'S', StatusOperation(before, s.operation), StatusOperation(s.status, s.operation)}}) {
    ctx.SingleDelete(StatusIndexTable(before), RunIndexKey(kind, old_value, s.created_at_ms, s.id));
    ctx.Put(StatusIndexTable(s.status), RunIndexKey(kind, new_value, s.created_at_ms, s.id), "");
  }
}

void RunProjection::Count(const RunState& s, std::string_view status, std::int64_t delta,
                          ledger::WriteContext& ctx) {
  const std::string ds = DatastoreId(s);
  for (const std::string& dimension :
       {std::string(), "o:" + s.operation, "d:" + ds, "d:" + ds + "\no:" + s.operation,
        "t:" + TriggeredBy(s)}) {
    const std::string key = CountKey(dimension, status);
    auto it = counts_.find(key);
    if (it == counts_.end()) {
      std::int64_t stored = 0;
      if (auto value = ctx.Get(kRunCountsTable, key); value && value->has_value() && (*value)->size() == 8) {
        stored = static_cast<std::int64_t>(ledger::ReadU64(**value));
      }
      it = counts_.emplace(key, stored).first;
    }
    it->second += delta;
    dirty_counts_.insert(key);
  }
}

void RunProjection::OnBatchEnd(ledger::WriteContext& ctx) {
  if (!format_written_) {
    ctx.Put(kRunCountsTable, kProjectionFormatKey, kProjectionFormat);
    format_written_ = true;
  }
  SealedBatch sealed;
  for (const Uuid& id : dirty_runs_) {
    auto it = runs_.find(id);
    if (it == runs_.end()) continue;
    auto summary = std::make_shared<RunSummary>();  // the record is built from it anyway
    ctx.Put(kRunsTable, RunKey(id), EncodeRunRecord(it->second, summary.get()));
    sealed.summaries.push_back(std::move(summary));
  }
  for (const std::string& key : dirty_counts_) {
    std::string encoded;
    ledger::AppendU64(static_cast<std::uint64_t>(std::max<std::int64_t>(counts_.at(key), 0)), &encoded);
    ctx.Put(kRunCountsTable, key, encoded);
    sealed.counts.push_back(key);
  }
  for (const std::string& prefix : dirty_audit_) {
    ctx.Put(kAuditTable, AuditBlockKey(prefix, kOpenAuditBlock), EncodeAuditBlock(audit_blocks_.at(prefix)));
    sealed.audit.push_back(prefix);
  }
  dirty_audit_.clear();
  sealed.changes = std::move(pending_changes_);
  sealed.scopes = std::move(pending_scopes_);
  pending_changes_.clear();
  pending_scopes_.clear();
  dirty_runs_.clear();
  dirty_counts_.clear();
  sealed_.push_back(std::move(sealed));
}

void RunProjection::IndexAudit(const ledger::Event& event, const RunState& state,
                               ledger::WriteContext& ctx) {
  AddToAuditIndex(AuditPrefix('T', event.type), event.position, ctx);
  AddToAuditIndex(AuditPrefix('P', event.principal), event.position, ctx);
  AddToAuditIndex(AuditPrefix('D', DatastoreId(state)), event.position, ctx);
  AddToAuditIndex(AuditPrefix('O', state.operation), event.position, ctx);
}

void RunProjection::AddToAuditIndex(std::string prefix, std::uint64_t position,
                                    ledger::WriteContext& ctx) {
  auto it = audit_blocks_.find(prefix);
  if (it == audit_blocks_.end()) {
    std::vector<std::uint64_t> block;
    auto stored = ctx.Get(kAuditTable, AuditBlockKey(prefix, kOpenAuditBlock));
    if (!stored) return;  // the store fails the whole batch on a read error
    if (stored->has_value() && !DecodeAuditBlock(**stored, &block)) block.clear();
    it = audit_blocks_.emplace(std::move(prefix), std::move(block)).first;
  }
  std::vector<std::uint64_t>& block = it->second;
  if (block.size() == kAuditBlockPositions) {
    ctx.Put(kAuditTable, AuditBlockKey(it->first, block.front()), EncodeAuditBlock(block));
    block.clear();
  }
  block.push_back(position);
  dirty_audit_.insert(it->first);
}

void RunProjection::RecordIdempotency(const ledger::Event& event, const RunState& state,
                                      ledger::WriteContext& ctx) {
  (void)state;
  if (!event.idempotency_key_sha256) return;
  const auto scope = ScopeOfEvent(event);
  if (!scope) return;
  const std::string key =
      IdempotencyScope(event.principal, scope->method, scope->path, *event.idempotency_key_sha256);
  if (pending_idempotency_.count(key)) return;  // a request's first event names it
  std::string position;
  ledger::AppendU64(event.position, &position);
  ctx.Put(kIdempotencyTable, key, position);
  pending_idempotency_.emplace(key, event.position);
  pending_scopes_.push_back(key);
}

void RunProjection::OnCommitted(const std::deque<ledger::Event>& events) {
  if (sealed_.empty()) return;
  SealedBatch batch = std::move(sealed_.front());
  sealed_.pop_front();
  if (listener_ && listener_->active()) {
    // A listener that arrived mid-batch gets, for changes built before it
    // came, the run's state at the batch's end.
    std::unordered_map<Uuid, const RunSummary*, ledger::UuidHash> at_end;
    for (RunChange& change : batch.changes) {
      if (!change.state_json.empty()) continue;
      if (at_end.empty()) {
        for (const auto& summary : batch.summaries) at_end.emplace(summary->id, summary.get());
      }
      if (auto it = at_end.find(change.run_id); it != at_end.end()) {
        change.state_json = it->second->ToJson(it->second->deleted());
      }
    }
    const std::vector<ledger::Event> listened(events.begin(), events.end());
    listener_->OnChanges(listened, batch.changes);
  }
  for (const std::string& scope : batch.scopes) pending_idempotency_.erase(scope);
  if (summaries_ && !batch.summaries.empty()) summaries_->Publish(std::move(batch.summaries));
  TrimCaches();
}

void RunProjection::TrimCaches() {
  // Past the limit, keep only what batches not yet durable wrote (the one
  // being built included): committed state lacks it, the rest Get rereads.
  auto trim = [this](auto* cache, const auto& dirty, auto sealed_keys) {
    if (cache->size() <= cache_limit_) return;
    std::vector<typename std::decay_t<decltype(*cache)>::key_type> pending(dirty.begin(), dirty.end());
    for (const SealedBatch& batch : sealed_) sealed_keys(batch, pending);
    KeepOnly(pending, cache);
  };
  trim(&runs_, dirty_runs_, [](const SealedBatch& batch, std::vector<Uuid>& keys) {
    for (const auto& summary : batch.summaries) keys.push_back(summary->id);
  });
  trim(&counts_, dirty_counts_, [](const SealedBatch& batch, std::vector<std::string>& keys) {
    keys.insert(keys.end(), batch.counts.begin(), batch.counts.end());
  });
  trim(&audit_blocks_, dirty_audit_, [](const SealedBatch& batch, std::vector<std::string>& keys) {
    keys.insert(keys.end(), batch.audit.begin(), batch.audit.end());
  });
}

void RunProjection::OnReset() {
  // A failed write may still have reached the disk: the store reopened may
  // hold newer runs than the ones published.
  if (summaries_) summaries_->Clear();
  format_written_ = false;
  runs_.clear();
  counts_.clear();
  dirty_runs_.clear();
  dirty_counts_.clear();
  pending_idempotency_.clear();
  pending_changes_.clear();
  pending_scopes_.clear();
  audit_blocks_.clear();
  dirty_audit_.clear();
  sealed_.clear();
}

}  // namespace runledger::projections
