#pragma once

// Latency samples of one kind of request and their percentiles.

#include <algorithm>
#include <cmath>
#include <mutex>
#include <vector>

namespace runledger::tools::reliability {

class LatencyRecorder {
 public:
  void Add(double ms) {
    std::lock_guard lock(mutex_);
    samples_.push_back(ms);
  }
  // Takes the samples recorded so far and starts a new window.
  std::vector<double> Take() {
    std::lock_guard lock(mutex_);
    std::vector<double> out;
    out.swap(samples_);
    return out;
  }

 private:
  std::mutex mutex_;
  std::vector<double> samples_;
};

// The p-th percentile (0..100, nearest rank) of `samples`; NaN when empty.
inline double Percentile(std::vector<double> samples, double p) {
  if (samples.empty()) return std::nan("");
  std::sort(samples.begin(), samples.end());
  const size_t rank =
      static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(samples.size())));
  return samples[std::clamp<size_t>(rank, 1, samples.size()) - 1];
}

}  // namespace runledger::tools::reliability
