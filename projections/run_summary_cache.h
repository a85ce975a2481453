#pragma once

// The latest durable summary of recently changed runs, kept by the
// committer (RunProjection publishes a batch's runs once the batch is
// durable) and read by queries on any thread, so a run read or a listing
// row costs a hash lookup instead of a RocksDB Get in a large memtable.
// Bounded: past `max_runs` entries it starts over.

#include <cstddef>
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
    if (runs_.size() + summaries.size() > max_runs_) runs_.clear();
    for (auto& summary : summaries) runs_[summary->id] = std::move(summary);
  }

  void Clear() {
    std::unique_lock lock(mutex_);
    runs_.clear();
  }

 private:
  const size_t max_runs_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<Uuid, std::shared_ptr<const RunSummary>, ledger::UuidHash> runs_;
};

}  // namespace runledger::projections
