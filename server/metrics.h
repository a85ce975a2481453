#pragma once

// Prometheus counters and histograms for /metrics. Thread-safe.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "ledger/event_store.h"

namespace runledger::server {

// Group-commit batch sizes and sync latency as Prometheus histograms.
std::string RenderCommitStats(const ledger::CommitStats& stats);

class Metrics {
 public:
  void RecordRequest(std::string_view route, unsigned status, double seconds);
  // Text exposition format; `gauges` adds name/value lines (ledger size, open streams ...).
  std::string Render(const std::map<std::string, double>& gauges) const;

 private:
  static constexpr std::array<double, 10> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                      0.025,  0.05,  0.1,    0.5,   1.0};
  struct Series {
    std::uint64_t count = 0;
    double sum = 0;
    std::array<std::uint64_t, kBuckets.size()> buckets{};
  };
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, unsigned>, Series> requests_;
};

}  // namespace runledger::server
