#pragma once

// The latest durable summary of recently changed or read runs, kept by the
// committer (RunProjection publishes a batch's runs once the batch is
// durable) and filled by queries on a miss, read on any thread, so a run
// read or a listing row costs a hash lookup instead of a RocksDB Get.
// Bounded: past `max_runs` entries it starts over.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "projections/run_record.h"

namespace runledger::projections {

class RunSummaryCache {
 public:
  explicit RunSummaryCache(size_t max_runs = 100000) : max_runs_(max_runs) {}

  // Null when the run is not cached (it may still exist).
  std::shared_ptr<const RunSummary> Find(const Uuid& id) const {
    std::shared_lock lock(mutex_);
    auto it = runs_.find(id);
    return it == runs_.end() ? nullptr : it->second;
  }

  void Publish(std::vector<std::shared_ptr<const RunSummary>> summaries) {
    std::unique_lock lock(mutex_);
    if (runs_.size() + summaries.size() > max_runs_) StartOver();
    for (auto& summary : summaries) runs_[summary->id] = std::move(summary);
  }

  void Clear() {
    std::unique_lock lock(mutex_);
    StartOver();
  }

  // Take before reading a summary from the store, and pass to Offer.
  std::uint64_t epoch() const {
    std::shared_lock lock(mutex_);
    return epoch_;
  }
  // A summary a query read from the store. Kept only when the run is not
  // cached (a published summary is never older than what the store held
  // before it) and the cache has not started over since `epoch` (a newer
  // summary may have been published and dropped meanwhile).
  void Offer(std::shared_ptr<const RunSummary> summary, std::uint64_t epoch) {
    std::unique_lock lock(mutex_);
    if (epoch != epoch_ || runs_.size() >= max_runs_) return;
    runs_.try_emplace(summary->id, std::move(summary));
  }

 private:
  void StartOver() {
    runs_.clear();
    ++epoch_;
  }

  const size_t max_runs_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<Uuid, std::shared_ptr<const RunSummary>, ledger::UuidHash> runs_;
  std::uint64_t epoch_ = 0;
};

}  // namespace runledger::projections
